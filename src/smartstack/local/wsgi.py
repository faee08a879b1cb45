"""What the launcher's WSGI wrappers around moto share."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


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
