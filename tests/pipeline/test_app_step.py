"""The app step against the local AWS: a release only reaches a function that can run it."""

from __future__ import annotations

import hashlib

import pytest

from smartstack.aws.lambda_api import deployed_function, live_version
from smartstack.aws.target import AwsTarget
from smartstack.core.errors import UsageError
from smartstack.core.services import RUNTIME
from smartstack.pipeline.app_step import release_function
from smartstack.release.build import Artifact, deterministic_zip
from tests.conftest import LAMBDA_TRUST

BUCKET = "smartstack-artifacts-app-step"
HANDLER = "probe.handler.handler"


def _artifact(aws: AwsTarget, source: bytes) -> Artifact:
    """A published artifact (as the build and publish leave it) holding ``source``."""
    data = deterministic_zip({"probe/__init__.py": b"", "probe/handler.py": source})
    digest = hashlib.sha256(data).hexdigest()
    key = f"artifacts/{digest}.zip"
    aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=data)
    return Artifact("api", digest, len(data), key, HANDLER)


def _function(
    aws: AwsTarget, name: str, runtime: str, code: Artifact, architecture: str = "x86_64"
) -> None:
    """A function with a ``live`` alias, as the stack creates it."""
    role = aws.client("iam").create_role(
        RoleName=f"{name}-exec", AssumeRolePolicyDocument=LAMBDA_TRUST
    )["Role"]["Arn"]
    lam = aws.client("lambda")
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=role,
        Handler=HANDLER,
        Code={"S3Bucket": BUCKET, "S3Key": code.key},
        Architectures=[architecture],
        Publish=True,
    )
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")


@pytest.fixture
def bucket(aws: AwsTarget) -> str:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


def test_a_release_for_another_runtime_is_refused_before_anything_changes(
    aws: AwsTarget, bucket: str
) -> None:
    placeholder = _artifact(aws, b"def handler(event, context):\n    return 503\n")
    release = _artifact(aws, b"def handler(event, context):\n    return 200\n")
    _function(aws, "smartstack-test-api", "python3.11", placeholder)

    with pytest.raises(UsageError) as refused:
        release_function(
            aws, "smartstack-test-api", release, bucket, "r-0123456789ab", runtime="python3.12"
        )

    message = refused.value.message
    assert "\n" not in message
    assert message.startswith(
        "smartstack-test-api runs python3.11 on x86_64 but release r-0123456789ab is built "
        "for python3.12 on x86_64; apply the stack so the function runs python3.12"
    )
    assert live_version(aws, "smartstack-test-api") == "1"
    assert deployed_function(aws, "smartstack-test-api").code_sha256 == placeholder.sha256


def test_without_a_runtime_the_function_must_run_the_service_tables(
    aws: AwsTarget, bucket: str
) -> None:
    """The deploy's call before it passes the manifest's runtime: the build's own is expected."""
    placeholder = _artifact(aws, b"def handler(event, context):\n    return 503\n")
    release = _artifact(aws, b"def handler(event, context):\n    return 200\n")
    _function(aws, "smartstack-test-api", "python3.11", placeholder)

    with pytest.raises(
        UsageError,
        match=f"runs python3.11 on x86_64 but release r-0123456789ab is built for {RUNTIME} ",
    ):
        release_function(aws, "smartstack-test-api", release, bucket, "r-0123456789ab")

    assert live_version(aws, "smartstack-test-api") == "1"


def test_a_function_on_another_architecture_is_refused(aws: AwsTarget, bucket: str) -> None:
    placeholder = _artifact(aws, b"def handler(event, context):\n    return 503\n")
    release = _artifact(aws, b"def handler(event, context):\n    return 200\n")
    _function(aws, "smartstack-test-api", RUNTIME, placeholder, architecture="arm64")

    with pytest.raises(UsageError, match=f"runs {RUNTIME} on arm64 but release r-0123456789ab"):
        release_function(aws, "smartstack-test-api", release, bucket, "r-0123456789ab")

    assert live_version(aws, "smartstack-test-api") == "1"


def test_a_release_for_the_functions_runtime_goes_live(aws: AwsTarget, bucket: str) -> None:
    placeholder = _artifact(aws, b"def handler(event, context):\n    return 503\n")
    release = _artifact(aws, b"def handler(event, context):\n    return 200\n")
    _function(aws, "smartstack-test-api", RUNTIME, placeholder)

    done = release_function(aws, "smartstack-test-api", release, bucket, "r-0123456789ab")

    assert done.changed and done.previous_version == "1"
    assert live_version(aws, "smartstack-test-api") == done.version
    assert deployed_function(aws, "smartstack-test-api", "live").code_sha256 == release.sha256
    again = release_function(aws, "smartstack-test-api", release, bucket, "r-0123456789ab")
    assert not again.changed
