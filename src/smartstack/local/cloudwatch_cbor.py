"""CloudWatch's Smithy RPC v2 CBOR protocol, in front of moto's JSON protocol.

The AWS provider (and the Go SDK) call CloudWatch as ``POST /service/
GraniteServiceVersion20100801/operation/<Operation>`` with a CBOR body
(``smithy-protocol: rpc-v2-cbor``); the moto server routes only CloudWatch's query and
JSON protocols and answers 404, so no stack could create an alarm here.  The launcher
translates: the CBOR request becomes the same operation in the JSON protocol
(``X-Amz-Target: GraniteServiceVersion20100801.<Operation>``), and moto's JSON answer
becomes CBOR again, with the output's timestamps as CBOR epoch times (tag 1) where
CloudWatch's model says so, and errors as ``{"__type", "message"}`` maps with moto's
status, as the protocol has them.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import cbor2

from smartstack.local.iam.cbor import CborError, decode_cbor
from smartstack.local.wsgi import WsgiApp, read_body

TARGET = "GraniteServiceVersion20100801"
_PATH = re.compile(rf"^/service/{TARGET}/operation/(\w+)$")


def wrap(app: WsgiApp) -> WsgiApp:
    """``app`` (moto) with CloudWatch's CBOR requests translated on the way in and out."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        match = _PATH.match(str(environ.get("PATH_INFO") or ""))
        if not match or environ.get("HTTP_SMITHY_PROTOCOL") != "rpc-v2-cbor":
            return app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            return _answer(start_response, 405, _error("UnknownOperationException", "POST only"))
        operation = match.group(1)
        try:
            # The IAM enforcement's own decoder: moto runs the very parameters it authorized.
            raw = read_body(environ)
            params = _plain(decode_cbor(raw)) if raw else {}
        except CborError as exc:
            return _answer(start_response, 400, _error("SerializationException", str(exc)))
        body = json.dumps(params or {}).encode()
        inner = dict(environ)
        inner.update({
            "PATH_INFO": "/", "CONTENT_TYPE": "application/x-amz-json-1.0",
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
            "HTTP_X_AMZ_TARGET": f"{TARGET}.{operation}",
        })  # fmt: skip
        inner.pop("HTTP_SMITHY_PROTOCOL", None)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *_: Any) -> Any:
            captured["status"] = int(status.split()[0])
            return lambda data: None

        raw = b"".join(app(inner, capture))
        status = int(captured.get("status", 500))
        try:
            answer = json.loads(raw) if raw.strip() else {}
        except ValueError:
            answer = {"__type": "InternalFailure", "message": raw[:200].decode(errors="replace")}
        if status >= 300:
            kind = str(answer.get("__type") or "InternalFailure").rsplit("#", 1)[-1]
            text = str(answer.get("message") or answer.get("Message") or "")
            return _answer(start_response, status, _error(kind, text))
        return _answer(start_response, status, cbor2.dumps(_tagged(operation, answer)))

    return serve


def _answer(start_response: Callable[..., Any], status: int, body: bytes) -> list[bytes]:
    from http import HTTPStatus

    headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
               ("Content-Length", str(len(body)))]  # fmt: skip
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [body]


def _error(kind: str, message: str) -> bytes:
    return bytes(cbor2.dumps({"__type": kind, "message": message}))


def _plain(value: Any) -> Any:
    """A decoded CBOR request as JSON: datetimes (tag 1) as epoch seconds, bytes as base64."""
    import base64

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


@functools.cache
def _output_shape(operation: str) -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("cloudwatch")
    try:
        return model.operation_model(operation).output_shape
    except Exception:  # an operation the bundled model does not know: no timestamps
        return None


def _tagged(operation: str, answer: Any) -> Any:
    """moto's JSON answer with CloudWatch's timestamps as CBOR epoch times."""
    return _by_shape(answer, _output_shape(operation))


def _by_shape(value: Any, shape: Any) -> Any:
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: _by_shape(v, members.get(k)) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_by_shape(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _by_shape(v, shape.value) for k, v in value.items()}
    if kind == "timestamp":
        return cbor2.CBORTag(1, _epoch(value))
    if kind == "blob" and isinstance(value, str):
        import base64

        return base64.b64decode(value)
    if kind in ("double", "float") and isinstance(value, int):
        return float(value)
    return value


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    text = str(value).replace("Z", "+00:00")
    return datetime.fromisoformat(text).timestamp()
