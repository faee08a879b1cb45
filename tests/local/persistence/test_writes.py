"""What the local AWS logs: every request that may change something, and no plain read."""

from __future__ import annotations

import io
from typing import Any

import pytest

from smartstack.local.persistence.writes import is_write, operation

_CLOUDWATCH = "GraniteServiceVersion20100801"
_SIGNED = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261130/us-east-1/{}/aws4_request, ..."


def _request(
    method: str = "POST",
    path: str = "/",
    query: str = "",
    target: str = "",
    service: str = "ssm",
    form: bytes = b"",
) -> tuple[dict[str, Any], bytes]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
        "HTTP_AUTHORIZATION": _SIGNED.format(service), "wsgi.input": io.BytesIO(form),
    }  # fmt: skip
    if target:
        environ["HTTP_X_AMZ_TARGET"] = target
    if form:
        environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded; charset=utf-8"
    return environ, form


@pytest.mark.parametrize(
    ("request_", "write"),
    [
        (_request(target="AmazonSSM.PutParameter"), True),
        (_request(target="AmazonSSM.GetParametersByPath"), False),
        (_request(target="DynamoDB_20120810.PutItem", service="dynamodb"), True),
        (_request(target="DynamoDB_20120810.Query", service="dynamodb"), False),
        (_request(target="DynamoDB_20120810.TransactWriteItems", service="dynamodb"), True),
        (_request(target="TrentService.Decrypt", service="kms"), False),
        (_request(target="TrentService.Sign", service="kms"), False),
        (_request(target="AWSCognitoIdentityProviderService.SignUp", service="cognito-idp"), True),
        (_request(target="AWSCognitoIdentityService.GetId", service="cognito-identity"), True),
        (_request(target="Logs_20140328.PutLogEvents", service="logs"), True),
        (_request(form=b"Action=CreateVpc&Version=2016-11-15", service="ec2"), True),
        (_request(form=b"Action=DescribeVpcs&Version=2016-11-15", service="ec2"), False),
        (_request(form=b"Action=ReceiveMessage", service="sqs"), True),  # changes visibility
        (_request(form=b"Action=GetCallerIdentity", service="sts"), False),
        (_request(form=b"Action=GetSessionToken", service="sts"), True),  # credentials to keep
        (_request(form=b"Action=AssumeRole", service="sts"), True),
        (_request("GET", "/bucket/key", service="s3"), False),
        (_request("HEAD", "/bucket", service="s3"), False),
        (_request("PUT", "/bucket/key", service="s3"), True),
        (_request("DELETE", "/bucket/key", service="s3"), True),
        (_request("POST", "/2015-03-31/functions", service="lambda"), True),
        (_request("POST", f"/service/{_CLOUDWATCH}/operation/PutMetricData"), True),
        (_request("POST", "/moto-api/reset"), True),
        (_request("POST", "/moto-api/seed", "a=42"), False),
        (_request("GET", "/moto-api/data.json"), False),
    ],
)
def test_writes_are_told_from_reads(request_: tuple[dict[str, Any], bytes], write: bool) -> None:
    environ, body = request_
    assert is_write(environ, body) is write


def test_an_unknown_operation_counts_as_a_write() -> None:
    environ, body = _request(target="SomeService.Frobnicate")
    assert operation(environ, body) == "Frobnicate"
    assert is_write(environ, body)
