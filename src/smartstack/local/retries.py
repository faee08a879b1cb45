"""A retried request whose first attempt succeeded gets that attempt's answer.

Under load, an SDK here sometimes retries a request although the local AWS had carried
out the first attempt (seen in CI: OpenTofu's lock ``PutItem`` ran twice, the second
answered ``ConditionalCheckFailedException`` and OpenTofu reported the lock as held by
itself; later its ``CreateAlias`` ran twice, the second answered 409 "Alias already
exists").  On AWS the first answer arrives, and a create or a conditional write is not
repeated.  AWS SDKs name each operation in ``amz-sdk-invocation-id`` (the same on every
attempt) and the attempt in ``amz-sdk-request`` (``attempt=2; max=5``); here a later
attempt of a request that changes something (not ``GET`` or ``HEAD``), with the same
signer, method, path, query, target and body as an attempt that succeeded, is answered
with that attempt's answer instead of being run again.  Each replay is logged.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from smartstack.local.wsgi import WsgiApp, read_body

log = logging.getLogger("smartstack.local.retries")
_ATTEMPT = re.compile(r"attempt=(\d+)")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)")
_KEPT = 2000
_LARGEST = 64 * 1024


class RetryReplay:
    """Remembers the successful answers of requests that change something, by invocation id."""

    def __init__(self) -> None:
        self._answers: OrderedDict[str, tuple[str, list[tuple[str, str]], bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.replayed = 0

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            key = self._key(environ)
            if key is None:
                return app(environ, start_response)
            attempt = _attempt(environ)
            with self._lock:
                kept = self._answers.get(key) if attempt > 1 else None
            if kept is not None:
                self.replayed += 1
                log.warning("local AWS: attempt %d of %s %s%s replayed the first answer",
                            attempt, environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                            f" ({environ['HTTP_X_AMZ_TARGET']})"
                            if environ.get("HTTP_X_AMZ_TARGET") else "")  # fmt: skip
                status, headers, body = kept
                start_response(status, headers)
                return [body]
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
                captured.update(status=status, headers=list(headers))
                return start_response(status, headers, *rest)

            body = b"".join(app(environ, capture))
            status = str(captured.get("status", "500"))
            if status.startswith("2") and len(body) <= _LARGEST:
                with self._lock:
                    self._answers[key] = (status, captured.get("headers", []), body)
                    while len(self._answers) > _KEPT:
                        self._answers.popitem(last=False)
            return [body]

        return serve

    @staticmethod
    def _key(environ: dict[str, Any]) -> str | None:
        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID")
        method = str(environ.get("REQUEST_METHOD") or "GET").upper()
        if not invocation or method in ("GET", "HEAD"):
            return None
        target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
        where = str(environ.get("RAW_URI") or environ.get("PATH_INFO") or "")
        query = "" if "?" in where else str(environ.get("QUERY_STRING") or "")
        signer = _CREDENTIAL.search(str(environ.get("HTTP_AUTHORIZATION") or ""))
        digest = hashlib.sha256(read_body(environ)).hexdigest()
        parts = (invocation, signer.group(1) if signer else "", method, where, query, target)
        return "|".join((*parts, digest))


def _attempt(environ: dict[str, Any]) -> int:
    found = _ATTEMPT.search(str(environ.get("HTTP_AMZ_SDK_REQUEST") or ""))
    return int(found.group(1)) if found else 1
