"""The errors AWS answers a refused request with, in the protocol of the service.

HTTP 403 always; the code and body shape by protocol:

=============  =========================  =====================================
protocol       refused                    unknown key / wrong token / expired
=============  =========================  =====================================
json, cbor     AccessDeniedException      UnrecognizedClientException, ExpiredTokenException
               (SQS: AccessDenied)
rest-json      AccessDeniedException      UnrecognizedClientException
rest-xml (S3)  AccessDenied               InvalidAccessKeyId, InvalidToken, ExpiredToken
query          AccessDenied               InvalidClientTokenId, ExpiredToken
               (SNS: AuthorizationError)
ec2            UnauthorizedOperation      AuthFailure
=============  =========================  =====================================
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape

from smartstack.local.iam.requests import AwsRequest

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"


@dataclass(frozen=True)
class ErrorResponse:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


def refusal(request: AwsRequest, message: str) -> ErrorResponse:
    """An authorization failure (the caller is known, the request is not allowed)."""
    service, protocol = request.service or "", request.protocol
    if protocol == "ec2":
        return _ec2(
            "UnauthorizedOperation", f"You are not authorized to perform this operation. {message}"
        )
    if protocol == "query":
        return _query(
            service, "AuthorizationError" if service == "sns" else "AccessDenied", message
        )
    if service == "s3control":
        return _s3control("AccessDenied", message)
    if protocol == "rest-xml":
        return _s3(request, "AccessDenied", message)
    if service == "sqs":
        return _json(request, "AccessDenied", message, query_code="AccessDenied")
    return _json(request, "AccessDeniedException", message)


def unauthenticated(request: AwsRequest, kind: str) -> ErrorResponse:
    """The key is unknown (``invalid``), its session token does not match (``token``),
    the session has expired (``expired``), the request is not signed (``missing``), its
    signature does not hold (``signature``) or its time is too far from now (``time``)."""
    service, protocol = request.service or "", request.protocol
    key = request.credentials.access_key if request.credentials else ""
    if kind in ("signature", "time"):
        return _bad_signature(request, kind)
    if protocol == "rest-xml":
        if kind == "missing":
            return _s3(request, "AccessDenied", "Access Denied")
        if kind == "expired":
            return _s3(request, "ExpiredToken", "The provided token has expired.")
        if kind == "token":
            return _s3(
                request, "InvalidToken", "The provided token is malformed or otherwise invalid."
            )
        unknown = "The AWS Access Key Id you provided does not exist in our records."
        return _s3(request, "InvalidAccessKeyId", unknown, key)
    if protocol == "ec2":
        return _ec2("AuthFailure", "AWS was not able to validate the provided access credentials")
    if protocol == "query":
        if kind == "missing":
            return _query(
                service, "MissingAuthenticationToken", "Request is missing Authentication Token"
            )
        if kind == "expired":
            return _query(service, "ExpiredToken", EXPIRED_TOKEN)
        return _query(service, "InvalidClientTokenId", INVALID_TOKEN)
    if kind == "missing":
        return _json(request, "MissingAuthenticationTokenException", "Missing Authentication Token")
    if kind == "expired":
        return _json(request, "ExpiredTokenException", EXPIRED_TOKEN)
    return _json(request, "UnrecognizedClientException", INVALID_TOKEN)


def token_rejected(code: str, message: str) -> ErrorResponse:
    """STS refusing a web identity token (HTTP 400; the query protocol's error shape)."""
    return _query("sts", code, message, status="400 Bad Request")


def _request_id() -> str:
    return str(uuid.uuid4())


SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation "
    "for details."
)
SKEWED = "Signature expired: the request time is more than 15 minutes from the server's time."


def _bad_signature(request: AwsRequest, kind: str) -> ErrorResponse:
    protocol, service = request.protocol, request.service or ""
    message = SIGNATURE_MISMATCH if kind == "signature" else SKEWED
    if protocol == "rest-xml":
        code = "SignatureDoesNotMatch" if kind == "signature" else "RequestTimeTooSkewed"
        return _s3(request, code, message)
    if protocol == "ec2":
        return _ec2("AuthFailure", "AWS was not able to validate the provided access credentials")
    if protocol == "query":
        return _query(service, "SignatureDoesNotMatch", message)
    return _json(request, "InvalidSignatureException", message)


def _json(
    request: AwsRequest, code: str, message: str, query_code: str | None = None
) -> ErrorResponse:
    request_id = _request_id()
    headers = [("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
    if query_code:
        headers.append(("x-amzn-query-error", f"{query_code};Sender"))
    if request.protocol == "cbor":
        body = _cbor({"__type": code, "message": message})
        headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
    elif request.protocol == "rest-json":
        body = json.dumps({"Type": "User", "message": message}).encode()
        headers.append(("Content-Type", "application/json"))
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers.append(("Content-Type", "application/x-amz-json-1.1"))
    return ErrorResponse("403 Forbidden", headers, body)


def _query(service: str, code: str, message: str, status: str = "403 Forbidden") -> ErrorResponse:
    body = (
        f'<ErrorResponse xmlns="https://{service}.amazonaws.com/doc/">'
        f"<Error><Type>Sender</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error>"
        f"<RequestId>{_request_id()}</RequestId></ErrorResponse>"
    ).encode()
    return ErrorResponse(status, [("Content-Type", "text/xml")], body)


def _ec2(code: str, message: str) -> ErrorResponse:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Errors><Error><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error></Errors>"
        f"<RequestID>{_request_id()}</RequestID></Response>"
    ).encode()
    return ErrorResponse("403 Forbidden", [("Content-Type", "text/xml;charset=UTF-8")], body)


def _s3(request: AwsRequest, code: str, message: str, key: str | None = None) -> ErrorResponse:
    request_id = _request_id()
    headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    if request.method == "HEAD":
        return ErrorResponse("403 Forbidden", headers, b"")
    extra = f"<AWSAccessKeyId>{escape(key)}</AWSAccessKeyId>" if key else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>{extra}"
        f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
    ).encode()
    return ErrorResponse("403 Forbidden", headers, body)


def _s3control(code: str, message: str) -> ErrorResponse:
    """S3 Control wraps its error in ``ErrorResponse``, unlike S3 (the SDKs parse it so)."""
    request_id = _request_id()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<ErrorResponse><Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"</Error><RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></ErrorResponse>"
    ).encode()
    headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    return ErrorResponse("403 Forbidden", headers, body)


def _cbor(mapping: dict[str, str]) -> bytes:
    """CBOR of a map of text strings (the error body of the RPC v2 CBOR protocol)."""

    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if length < 1 << (8 * size):
                return bytes([major << 5 | info]) + length.to_bytes(size, "big")
        raise ValueError("too long")

    out = head(5, len(mapping))
    for k, v in mapping.items():
        for text in (k, v):
            raw = text.encode()
            out += head(3, len(raw)) + raw
    return out
