"""What the launcher's WSGI wrappers around moto share."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wrap_moto(wrapper: Callable[[WsgiApp], WsgiApp]) -> None:
    """Put ``wrapper`` around moto's dispatcher, in the moto server process: each request
    goes to ``wrapper(moto)``.  The last one put is the outermost."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__

    def call(
        self: Any, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        return wrapper(lambda e, s: original(self, e, s))(environ, start_response)

    setattr(DomainDispatcherApplication, "__call__", call)  # noqa: B010 - patching a method


def read_body(environ: dict[str, Any]) -> bytes:
    """The request body, read once and put back, so the app behind reads it too."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    data = bytes(stream.read(length)) if stream is not None and length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(data)
    return data
