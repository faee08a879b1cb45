"""Signature Version 4 is verified: a known key id with the wrong secret is not its owner."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from smartstack.local.iam.requests import AwsRequest
from smartstack.local.iam.signature import SignatureError, verify
from smartstack.local.moto import MotoServer
from tests.local.iam.conftest import ADMIN_KEYS, REGION, session
from tests.local.signed import signed_request

SECRET = "the-secret"
KEYS = Credentials("AKIAEXAMPLE", SECRET)


def _code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("sts", lambda c: c.get_caller_identity(), "SignatureDoesNotMatch"),
        ("s3", lambda c: c.list_buckets(), "SignatureDoesNotMatch"),
        ("dynamodb", lambda c: c.list_tables(), "InvalidSignatureException"),
        ("ssm", lambda c: c.describe_parameters(), "InvalidSignatureException"),
    ],
)
def test_the_admin_key_with_another_secret_is_refused(
    moto: MotoServer, service: str, call: Callable[[Any], Any], code: str
) -> None:
    impostor = session(moto, aws_access_key_id=ADMIN_KEYS["aws_access_key_id"],
                       aws_secret_access_key="guessed")  # fmt: skip

    assert _code(lambda: call(impostor(service))) == code
    call(session(moto, **ADMIN_KEYS)(service))  # the right secret still works


def test_a_user_s_and_a_session_s_keys_need_their_secrets(
    moto: MotoServer, admin: Callable[[str], Any]
) -> None:
    iam = admin("iam")
    iam.create_user(UserName="mallory")
    key = iam.create_access_key(UserName="mallory")["AccessKey"]
    wrong = session(moto, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key="x" * 40)
    right = session(moto, aws_access_key_id=key["AccessKeyId"],
                    aws_secret_access_key=key["SecretAccessKey"])  # fmt: skip

    assert _code(lambda: wrong("sts").get_caller_identity()) == "SignatureDoesNotMatch"
    assert right("sts").get_caller_identity()["Arn"].endswith(":user/mallory")


def test_a_body_changed_after_signing_is_refused(moto: MotoServer) -> None:
    url = f"{moto.url}/"
    headers = {"Content-Type": "application/x-amz-json-1.0",
               "X-Amz-Target": "DynamoDB_20120810.ListTables"}  # fmt: skip
    keys = Credentials(ADMIN_KEYS["aws_access_key_id"], ADMIN_KEYS["aws_secret_access_key"])
    request = AWSRequest("POST", url, data=b"{}", headers=headers)
    SigV4Auth(keys, "dynamodb", REGION).add_auth(request)
    tampered = urllib.request.Request(
        url, data=b'{"Limit": 1}', method="POST", headers=dict(request.headers.items())
    )

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(tampered, timeout=30)
    assert caught.value.code in (400, 403)
    assert json.loads(caught.value.read())["__type"].endswith("InvalidSignatureException")
    status, _ = signed_request("POST", url, service="dynamodb", region=REGION, credentials=keys,
                               headers=headers, body=b"{}")  # fmt: skip
    assert status == 200


# --- the verification itself, on requests botocore signed ---------------------------------


def _arrived(request: AWSRequest, body: bytes | None = None) -> AwsRequest:
    """``request`` as the WSGI server hands it to the enforcer."""
    split = urlsplit(request.url)
    data = request.body if body is None else body
    data = data.encode() if isinstance(data, str) else (data or b"")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "RAW_URI": split.path + (f"?{split.query}" if split.query else ""),
        "wsgi.input": io.BytesIO(data),
        "CONTENT_LENGTH": str(len(data)),
        "HTTP_HOST": split.netloc,
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    return AwsRequest(environ)


def _signed(method: str, url: str, service: str, body: bytes = b"", **headers: str) -> AWSRequest:
    request = AWSRequest(method, url, data=body, headers=headers)
    signer = S3SigV4Auth if service == "s3" else SigV4Auth  # as each client signs
    signer(KEYS, service, REGION).add_auth(request)
    return request


@pytest.mark.parametrize(
    ("service", "url"),
    [
        ("s3", "http://localhost:5000/bucket/a%20key/with%2Bplus?tagging&x-id=GetObjectTagging"),
        ("lambda", "http://localhost:5000/2015-03-31/functions/fn%3Alive/invocations"),
        ("sts", "http://localhost:5000/?Action=GetCallerIdentity&Version=2011-06-15"),
    ],
)
def test_what_an_sdk_signs_verifies_and_any_change_does_not(service: str, url: str) -> None:
    signed = _signed("GET", url, service, **({"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
                                               if service == "s3" else {}))  # fmt: skip

    verify(_arrived(signed), SECRET)
    with pytest.raises(SignatureError, match="does not match"):
        verify(_arrived(signed), "another-secret")
    moved = AWSRequest(signed.method, url.replace("5000/", "5000/x"), headers=signed.headers)
    with pytest.raises(SignatureError, match="does not match"):
        verify(_arrived(moved), SECRET)


def test_a_declared_payload_hash_must_be_the_body_s() -> None:
    import hashlib

    declared = hashlib.sha256(b"the body").hexdigest()
    signed = _signed("PUT", "http://localhost:5000/b/k", "s3", b"the body",
                     **{"x-amz-content-sha256": declared})  # fmt: skip

    verify(_arrived(signed), SECRET)
    with pytest.raises(SignatureError, match="declared sha256"):
        verify(_arrived(signed, b"another body"), SECRET)


def test_an_old_request_and_an_expired_presigned_url_are_refused() -> None:
    signed = _signed("GET", "http://localhost:5000/?Action=GetCallerIdentity", "sts")
    later = datetime.now(UTC) + timedelta(minutes=16)

    with pytest.raises(SignatureError, match="more than 15 minutes"):
        verify(_arrived(signed), SECRET, now=later)

    presigned = AWSRequest("GET", "http://localhost:5000/bucket/key")
    S3SigV4QueryAuth(KEYS, "s3", REGION, expires=60).add_auth(presigned)
    verify(_arrived(presigned), SECRET)
    with pytest.raises(SignatureError, match="expired"):
        verify(_arrived(presigned), SECRET, now=datetime.now(UTC) + timedelta(minutes=2))


def test_sigv2_and_a_malformed_header_are_refused() -> None:
    request = AWSRequest("GET", "http://localhost:5000/", headers={"Authorization": "AWS k:sig"})

    with pytest.raises(SignatureError, match="not a Signature Version 4"):
        verify(_arrived(request), SECRET)
