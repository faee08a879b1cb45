"""Signature Version 4, verified as AWS verifies it: the caller must hold the key's secret.

Without this, a known access key id with any secret passes for its owner: the key ids
are not secret (they are in logs, in ARNs of sessions, in error messages).  The
signature is recomputed from the request as it arrived (the path and query as sent,
the signed headers' values, the payload hash) and the secret the local AWS issued
with the key, and compared in constant time.

What AWS also checks and is checked here: the request time (``X-Amz-Date``) within
15 minutes of now, a presigned URL's expiry, and a body whose ``x-amz-content-sha256``
names another digest.  Chunk signatures of a streamed upload
(``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``) are not verified: the seed request's are.
SigV2 is refused, as AWS now refuses it for every service here.
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from smartstack.local.iam.requests import AwsRequest

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<headers>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_SPACES = re.compile(r"\s+")


class SignatureError(Exception):
    """Why the signature does not hold: ``signature`` (mismatch, malformed, SigV2) or ``time``."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def verify(request: AwsRequest, secret: str, *, now: datetime | None = None) -> None:
    """Raise :class:`SignatureError` unless ``request`` is signed with ``secret``."""
    signed = _signed(request)
    moment = _timestamp(signed.amz_date)
    now = now or datetime.now(UTC)
    if signed.expires is None:
        if abs(now - moment) > MAX_SKEW:
            raise SignatureError("time", "the request time is more than 15 minutes from now")
    elif not moment - MAX_SKEW <= now <= moment + timedelta(seconds=signed.expires):
        raise SignatureError("time", "the presigned request has expired")
    declared = request.header("x-amz-content-sha256") or ""
    if _HEX_DIGEST.match(declared) and hashlib.sha256(request.body).hexdigest() != declared:
        raise SignatureError("signature", "the body does not have the declared sha256")
    canonical = "\n".join(
        [
            request.method,
            _canonical_path(request),
            _canonical_query(request, signed.presigned),
            "".join(f"{name}:{_header(request, name)}\n" for name in signed.headers),
            ";".join(signed.headers),
            _payload_hash(request, signed.presigned),
        ]
    )
    to_sign = "\n".join(
        [ALGORITHM, signed.amz_date, signed.scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    expected = hmac.new(_key(secret, signed.scope), to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signed.signature):
        raise SignatureError("signature", "the signature does not match")


class _Signed:
    def __init__(
        self,
        scope: str,
        headers: list[str],
        signature: str,
        amz_date: str,
        expires: int | None,
    ) -> None:
        self.scope = scope  # date/region/service/aws4_request
        self.headers = headers
        self.signature = signature
        self.amz_date = amz_date
        self.expires = expires  # seconds, for a presigned URL
        self.presigned = expires is not None


def _signed(request: AwsRequest) -> _Signed:
    auth = request.header("authorization") or ""
    if auth:
        found = _AUTH.match(auth)
        if not found:
            raise SignatureError("signature", "not a Signature Version 4 Authorization header")
        amz_date = request.header("x-amz-date") or ""
        scope = found["credential"].split("/", 1)[1] if "/" in found["credential"] else ""
        return _Signed(scope, found["headers"].split(";"), found["signature"], amz_date, None)
    query = {k: v[0] for k, v in request.query.items() if v}
    if query.get("X-Amz-Algorithm") != ALGORITHM or "X-Amz-Signature" not in query:
        raise SignatureError("signature", "not signed with Signature Version 4")
    credential = unquote(query.get("X-Amz-Credential", ""))
    try:
        expires = int(query.get("X-Amz-Expires", ""))
    except ValueError:
        raise SignatureError("signature", "X-Amz-Expires is not a number") from None
    return _Signed(
        credential.split("/", 1)[1] if "/" in credential else "",
        query.get("X-Amz-SignedHeaders", "").split(";"),
        query["X-Amz-Signature"],
        query.get("X-Amz-Date", ""),
        expires,
    )


def _timestamp(amz_date: str) -> datetime:
    try:
        return datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError("signature", "X-Amz-Date is missing or malformed") from None


def _canonical_path(request: AwsRequest) -> str:
    """S3 signs the path as sent; every other service its normalised path, encoded again."""
    path = request.raw_path or "/"
    if request.service in ("s3", "s3control"):
        return path
    normalised = posixpath.normpath(path) if path != "/" else "/"
    if path.endswith("/") and normalised != "/":
        normalised += "/"
    return quote(normalised, safe="/~")


def _canonical_query(request: AwsRequest, presigned: bool) -> str:
    pairs = []
    for part in filter(None, request.raw_query.split("&")):
        key, _, value = part.partition("=")
        key, value = unquote(key), unquote(value)
        if presigned and key == "X-Amz-Signature":
            continue
        pairs.append((quote(key, safe="-_.~"), quote(value, safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _header(request: AwsRequest, name: str) -> str:
    value = request.header(name)
    if value is None and name == "content-length":
        value = str(len(request.body))
    if value is None:
        raise SignatureError("signature", f"the signed header {name} is missing")
    return _SPACES.sub(" ", value.strip())


def _payload_hash(request: AwsRequest, presigned: bool) -> str:
    declared = request.header("x-amz-content-sha256")
    if declared:
        return declared
    if presigned and request.service == "s3":
        return "UNSIGNED-PAYLOAD"
    return hashlib.sha256(request.body).hexdigest()


def _key(secret: str, scope: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
