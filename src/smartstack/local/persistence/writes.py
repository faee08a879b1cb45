"""Which requests change the local AWS, and so go into the log.

A request is a write unless it is known to only read: ``GET``/``HEAD`` on the REST
services, or an operation named as a read (``Describe*``, ``Get*``, ``List*``, a
DynamoDB ``Query`` or ``Scan``...).  Logging a read costs a record; missing a write
would lose it, so whatever is not recognised is a write.  STS is always a write: its
``Get*`` calls hand out credentials it must remember.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

_READ = re.compile(
    r"^(Describe|Get|List|Head|Query|Scan|BatchGet|TransactGet|Lookup|Search|Filter"
    r"|Select|Check|Validate|Estimate|Simulate|Test|Preview|Encrypt|Decrypt|ReEncrypt"
    r"|GenerateDataKey|GenerateRandom|GenerateMac|VerifyMac)|^(Sign|Verify)$"
)
# Named as reads, yet they store something: a new identity, an iterator.
_STORING_READS = {"GetId", "GetShardIterator", "GetOpenIdToken", "GetCredentialsForIdentity"}
_OPERATION_PATH = re.compile(r"/operation/([A-Za-z]+)$")
_MOTO_API = "/moto-api/"
RESET_PATH = "/moto-api/reset"


def operation(environ: dict[str, Any], body: bytes) -> str | None:
    """The operation a JSON, query or RPC request names; None for a REST request."""
    target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
    if target:
        return target.rsplit(".", 1)[-1]
    found = _OPERATION_PATH.search(str(environ.get("PATH_INFO") or ""))
    if found:
        return found.group(1)
    action = parse_qs(str(environ.get("QUERY_STRING") or "")).get("Action")
    if not action and body and _form(environ):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
    return action[0] if action else None


def is_write(environ: dict[str, Any], body: bytes) -> bool:
    path = str(environ.get("PATH_INFO") or "")
    if path.startswith(_MOTO_API):
        # The dashboard, the seed and our own reports change no resource; the state manager's
        # transitions and the like are configuration a restart may drop.
        return path == RESET_PATH
    if _signed_for(environ, "sts"):
        return operation(environ, body) != "GetCallerIdentity"
    name = operation(environ, body)
    if name is not None:
        return name in _STORING_READS or not _READ.match(name)
    return str(environ.get("REQUEST_METHOD") or "GET").upper() not in ("GET", "HEAD", "OPTIONS")


def _form(environ: dict[str, Any]) -> bool:
    return "x-www-form-urlencoded" in str(environ.get("CONTENT_TYPE") or "")


def _signed_for(environ: dict[str, Any], service: str) -> bool:
    """Whether the request is signed for ``service`` (SigV4 names it in its scope)."""
    return f"/{service}/aws4_request" in str(environ.get("HTTP_AUTHORIZATION") or "")
