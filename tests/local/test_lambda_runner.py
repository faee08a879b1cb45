"""The RIE runner with small handlers of our own: environment, isolation, errors, logs, events."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartstack.aws.lambda_api import deployed_function
from smartstack.aws.target import AwsTarget
from smartstack.core.errors import CommandFailedError, ToolMissingError, UsageError
from smartstack.core.services import PYTHON_VERSION, RUNTIME
from smartstack.local import lambda_runner
from smartstack.local.lambda_runner import (
    FunctionError,
    LocalLambda,
    http_event,
    lambda_python,
    runtime_dir,
    sqs_event,
)
from smartstack.local.processes import port_in_use
from smartstack.release.build import deterministic_zip

HANDLER = b"""
import importlib.util
import os
import sys


def handler(event, context):
    print("handled " + event.get("say", ""))
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {
        "event": event,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "importable": {
            name: importlib.util.find_spec(name) is not None
            for name in ("boto3", "awslambdaric", "typer", "pytest", "smartstack")
        },
        "request_id": context.aws_request_id,
        "python": "%d.%d" % sys.version_info[:2],
        "executable": sys.executable,
    }
"""


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fn") / "fn.zip"
    path.write_bytes(deterministic_zip({"probe/__init__.py": b"", "probe/handler.py": HANDLER}))
    return path


@pytest.fixture
def fn(artifact: Path, rie: Path, tmp_path: Path) -> Iterator[LocalLambda]:
    with LocalLambda(
        artifact,
        "probe.handler.handler",
        {"ENVIRONMENT": "dev", "PARAMETER_PREFIX": "/smartstack/dev/"},
        rie,
        aws_variables={"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_REGION": "eu-west-1"},
        function_name="smartstack-dev-probe",
        log_file=tmp_path / "probe.log",
    ) as running:
        yield running


def test_the_function_gets_its_configuration_and_the_targets_aws_variables(
    fn: LocalLambda,
) -> None:
    result = fn.invoke({"say": "hi"})

    env = result["env"]
    assert result["event"] == {"say": "hi"}
    assert env["ENVIRONMENT"] == "dev" and env["PARAMETER_PREFIX"] == "/smartstack/dev/"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "smartstack-dev-probe"
    assert env["_HANDLER"] == "probe.handler.handler"
    assert result["cwd"] == str(fn.task_root) == env["LAMBDA_TASK_ROOT"]
    assert result["request_id"]


def test_the_function_sees_the_lambda_runtime_not_the_tools_environment(fn: LocalLambda) -> None:
    importable = fn.invoke({})["importable"]

    assert importable == {
        "boto3": True,
        "awslambdaric": True,
        "typer": False,
        "pytest": False,
        "smartstack": False,
    }


def test_the_function_runs_on_the_python_of_the_functions_runtime(fn: LocalLambda) -> None:
    result = fn.invoke({})

    assert result["python"] == PYTHON_VERSION
    assert result["executable"] == str(lambda_python())
    assert result["env"]["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{RUNTIME}"
    assert result["env"]["LAMBDA_RUNTIME_DIR"] == str(runtime_dir())


def test_a_missing_python_names_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))

    with pytest.raises(ToolMissingError) as missing:
        lambda_python()

    message = missing.value.message
    assert f"no working python{PYTHON_VERSION} is on PATH" in message
    assert f"apt-get install python{PYTHON_VERSION}" in message
    assert "scripts/setup.sh" in message and "\n" not in message


def test_the_runtime_directory_is_made_once_and_then_only_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = runtime_dir()
    assert made.parent.name == "lambda-runtime" and made.name.startswith(f"{RUNTIME}-awslambdaric-")
    assert (made / "awslambdaric").is_dir() and (made / "boto3").is_dir()
    assert list(made.glob(f"runtime_client.cpython-{PYTHON_VERSION.replace('.', '')}-*.so"))

    def no_install() -> Path:
        raise AssertionError("a complete runtime directory is reused")

    monkeypatch.setattr(lambda_runner, "lambda_python", no_install)
    assert runtime_dir() == made


def test_a_failed_runtime_install_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(CommandFailedError, match=r"could not install awslambdaric==.* and boto3=="):
        runtime_dir(tmp_path, python=tmp_path / "no-such-python")

    assert list((tmp_path / "lambda-runtime").iterdir()) == []


def test_one_container_serves_many_invocations(fn: LocalLambda) -> None:
    ids = {fn.invoke({"say": str(i)})["request_id"] for i in range(3)}

    assert len(ids) == 3


def test_an_exception_in_the_function_is_a_function_error(fn: LocalLambda) -> None:
    with pytest.raises(FunctionError) as failed:
        fn.invoke({"fail": True})

    assert failed.value.error["errorType"] == "RuntimeError"
    assert "asked to fail" in failed.value.message
    assert fn.invoke({"say": "still alive"})["event"] == {"say": "still alive"}


def test_what_the_function_prints_is_in_its_log_file(fn: LocalLambda) -> None:
    fn.invoke({"say": "marker-1234"})

    assert "handled marker-1234" in fn.log_file.read_text()
    assert "handled marker-1234" in fn.logs()


def test_close_stops_the_emulator_and_removes_the_task(artifact: Path, rie: Path) -> None:
    fn = LocalLambda(artifact, "probe.handler.handler", {}, rie)
    task = fn.task_root
    assert port_in_use(fn.port)

    fn.close()

    assert not port_in_use(fn.port)
    assert not task.exists()


def test_a_missing_handler_module_fails_the_invocation(artifact: Path, rie: Path) -> None:
    with (
        LocalLambda(artifact, "probe.nothing.handler", {}, rie) as fn,
        pytest.raises(FunctionError, match="ImportModuleError"),
    ):
        fn.invoke({})


def test_a_missing_emulator_names_the_fix(artifact: Path, tmp_path: Path) -> None:
    with pytest.raises(ToolMissingError, match=r"build-toolchain\.sh rie"):
        LocalLambda(artifact, "probe.handler.handler", {}, tmp_path / "aws-lambda-rie")


def test_http_event_is_an_http_api_payload_v2() -> None:
    event = http_event("post", "/items", {"name": "x"}, query={"a": "1"})

    assert event["version"] == "2.0"
    assert event["rawPath"] == "/items" and event["rawQueryString"] == "a=1"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["http"]["path"] == "/items"
    assert json.loads(event["body"]) == {"name": "x"}
    assert event["isBase64Encoded"] is False
    assert http_event("GET", "/health")["body"] is None


def test_sqs_event_has_one_record_per_message() -> None:
    arn = "arn:aws:sqs:eu-west-1:123456789012:jobs"
    event = sqs_event([{"MessageId": "m-1", "Body": "{}", "ReceiptHandle": "r"}], arn)

    [record] = event["Records"]
    assert record["messageId"] == "m-1" and record["body"] == "{}"
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert record["awsRegion"] == "eu-west-1"


# --- the deployed function's configuration ------------------------------------------------


def deploy(aws: AwsTarget, artifact: Path) -> str:
    """The probe created as a function in the local AWS (which stores it but cannot run it)."""
    role = aws.client("iam").create_role(
        RoleName="smartstack-test-probe",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    aws.client("lambda").create_function(
        FunctionName="smartstack-test-probe",
        Runtime=RUNTIME,
        Role=role,
        Handler="probe.handler.handler",
        Code={"ZipFile": artifact.read_bytes()},
        Timeout=12,
        Environment={"Variables": {"ENVIRONMENT": "test", "PARAMETER_PREFIX": "/smartstack/test/"}},
    )
    return "smartstack-test-probe"


def test_a_deployed_function_runs_with_its_deployed_configuration(
    aws: AwsTarget, artifact: Path, rie: Path
) -> None:
    name = deploy(aws, artifact)
    deployed = deployed_function(aws, name)
    assert deployed.code_sha256 == hashlib.sha256(artifact.read_bytes()).hexdigest()

    with LocalLambda.deployed(aws, name, artifact, rie) as fn:
        env = fn.invoke({})["env"]

    assert env["ENVIRONMENT"] == "test" and env["PARAMETER_PREFIX"] == "/smartstack/test/"
    assert env["_HANDLER"] == "probe.handler.handler"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "12"
    assert env["AWS_ENDPOINT_URL"] == aws.variables["AWS_ENDPOINT_URL"]


def test_a_zip_that_is_not_the_deployed_code_is_refused(
    aws: AwsTarget, artifact: Path, rie: Path, tmp_path: Path
) -> None:
    name = deploy(aws, artifact)
    other = tmp_path / "other.zip"
    other.write_bytes(deterministic_zip({"probe/__init__.py": b"# another build\n"}))

    with pytest.raises(CommandFailedError, match="is not the code deployed to smartstack-test"):
        LocalLambda.deployed(aws, name, other, rie)


def test_an_undeployed_function_is_named(aws: AwsTarget, artifact: Path, rie: Path) -> None:
    with pytest.raises(UsageError, match="function smartstack-test-nothing is not deployed"):
        LocalLambda.deployed(aws, "smartstack-test-nothing", artifact, rie)
