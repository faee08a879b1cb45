"""Hand-made requests to the local AWS, signed as an SDK signs them (SigV4)."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest


def signed_request(
    method: str, url: str, *, service: str, region: str, credentials: Any,
    headers: dict[str, str], body: bytes,
) -> tuple[int, bytes]:  # fmt: skip
    """Send one request signed with ``credentials`` (botocore's); its status and body."""
    request = AWSRequest(method, url, data=body, headers=headers)
    SigV4Auth(credentials, service, region).add_auth(request)
    prepared = urllib.request.Request(url, data=body or None, method=method,
                                      headers=dict(request.headers.items()))  # fmt: skip
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())
