"""The local AWS survives restarts: a SIGKILL in a burst of writes loses no acknowledged one.

Each test runs a local AWS of its own (IAM enforced, as `local up` starts it) with its
state in a temporary directory, and kills or stops it as a crash or `local down` would.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from smartstack.core.errors import CommandFailedError
from smartstack.local.iam import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY, DEFAULT_ACCOUNT
from smartstack.local.moto import MotoServer
from smartstack.local.persistence import CHECKPOINT_AFTER_VARIABLE
from smartstack.local.persistence.sealing import Sealer
from smartstack.local.persistence.store import CHECKPOINT, LOG
from smartstack.local.processes import free_port
from tests.local.persistence.crash import kill
from tests.local.test_lambda_invoke import HANDLER, _wait_for, _zip

KILLS = 20
_NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2,
                     read_timeout=10)  # fmt: skip


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    # Small, so that checkpoints are written (and killed) in the middle of the bursts too.
    monkeypatch.setenv(CHECKPOINT_AFTER_VARIABLE, str(256 * 1024))
    moto = MotoServer(free_port(), tmp_path, iam_enforcement="enforce",
                      state_dir=tmp_path / "aws-state")  # fmt: skip
    moto.start()
    yield moto
    moto.stop()


def _client(moto: MotoServer, service: str, **credentials: str) -> Any:
    admin = {"aws_access_key_id": ADMIN_ACCESS_KEY, "aws_secret_access_key": ADMIN_SECRET_KEY}
    credentials = credentials or admin
    return boto3.client(service, endpoint_url=moto.url, region_name="us-east-1",
                        config=_NO_RETRIES, **credentials)  # fmt: skip


class Burst:
    """Writes as fast as one client can, to three services, noting each one answered."""

    def __init__(self, moto: MotoServer, round_: int) -> None:
        self.ssm, self.dynamodb = _client(moto, "ssm"), _client(moto, "dynamodb")
        self.s3 = _client(moto, "s3")
        self.round = round_
        self.acknowledged: list[tuple[str, str]] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Burst:
        self._thread.start()
        return self

    def join(self) -> None:
        self._thread.join(timeout=30)

    def _run(self) -> None:
        n = 0
        while True:
            name = f"r{self.round}-{n}"
            kind = ("ssm", "dynamodb", "s3")[n % 3]
            try:
                if kind == "ssm":
                    self.ssm.put_parameter(Name=f"/burst/{name}", Value=name, Type="SecureString")
                elif kind == "dynamodb":
                    self.dynamodb.put_item(TableName="burst", Item={"pk": {"S": name}})
                else:
                    self.s3.put_object(Bucket="burst-bucket", Key=name, Body=name.encode() * 100)
            except Exception:  # the server died: this write was never acknowledged
                return
            self.acknowledged.append((kind, name))
            n += 1


def _missing(moto: MotoServer, acknowledged: list[tuple[str, str]]) -> list[tuple[str, str]]:
    ssm, dynamodb, s3 = _client(moto, "ssm"), _client(moto, "dynamodb"), _client(moto, "s3")
    missing = []
    for kind, name in acknowledged:
        try:
            if kind == "ssm":
                found = ssm.get_parameter(Name=f"/burst/{name}", WithDecryption=True)
                ok = found["Parameter"]["Value"] == name
            elif kind == "dynamodb":
                ok = "Item" in dynamodb.get_item(TableName="burst", Key={"pk": {"S": name}})
            else:
                body = s3.get_object(Bucket="burst-bucket", Key=name)["Body"].read()
                ok = body == name.encode() * 100
        except ClientError:
            ok = False
        if not ok:
            missing.append((kind, name))
    return missing


def test_every_acknowledged_write_survives_sigkill_in_a_burst(server: MotoServer) -> None:
    _client(server, "dynamodb").create_table(
        TableName="burst", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )  # fmt: skip
    _client(server, "s3").create_bucket(Bucket="burst-bucket")
    kms = _client(server, "kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    sealed = kms.encrypt(KeyId=key, Plaintext=b"sealed before the kills")["CiphertextBlob"]
    default_vpcs = _client(server, "ec2").describe_vpcs()["Vpcs"]
    acknowledged: list[tuple[str, str]] = []
    for round_ in range(KILLS):
        burst = Burst(server, round_).start()
        time.sleep(random.uniform(0.05, 1.5))
        kill(server)
        burst.join()
        assert server.start(), "a killed server is started again"
        acknowledged += burst.acknowledged
        assert _missing(server, burst.acknowledged) == [], f"round {round_}"
    assert _missing(server, acknowledged) == []
    assert len(acknowledged) > KILLS * 10
    # The same ids and keys as before: the default VPC, a key's material.
    assert _client(server, "ec2").describe_vpcs()["Vpcs"] == default_vpcs
    assert kms.decrypt(CiphertextBlob=sealed)["Plaintext"] == b"sealed before the kills"


def test_a_role_session_s_credentials_work_after_a_restart(server: MotoServer) -> None:
    """A session handed out before a crash is still valid after it, as on AWS."""
    iam = _client(server, "iam")
    root = f"arn:aws:iam::{DEFAULT_ACCOUNT}:root"
    trust = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
             f'{{"AWS":"{root}"}},"Action":"sts:AssumeRole"}}]}}')  # fmt: skip
    iam.create_role(RoleName="worker", AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName="worker", PolicyName="read", PolicyDocument=(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter",'
        '"Resource":"*"}]}'))  # fmt: skip
    _client(server, "ssm").put_parameter(Name="/kept", Value="v", Type="String")
    session = _client(server, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/worker", RoleSessionName="worker-session"
    )["Credentials"]
    credentials = {"aws_access_key_id": session["AccessKeyId"],
                   "aws_secret_access_key": session["SecretAccessKey"],
                   "aws_session_token": session["SessionToken"]}  # fmt: skip
    kill(server)
    server.start()
    ssm = _client(server, "ssm", **credentials)
    assert ssm.get_parameter(Name="/kept")["Parameter"]["Value"] == "v"
    caller = _client(server, "sts", **credentials).get_caller_identity()
    assert caller["Arn"].endswith(":assumed-role/worker/worker-session")


def test_a_stop_writes_a_checkpoint_and_the_next_start_loads_it(server: MotoServer) -> None:
    ssm = _client(server, "ssm")
    for n in range(30):
        ssm.put_parameter(Name=f"/stop/{n}", Value=str(n), Type="String")
    server.stop()
    state = server.state_dir
    assert state is not None
    assert (state / CHECKPOINT).is_file() and (state / LOG).stat().st_size == 0
    server.start()
    assert ", 0 write(s) replayed" in _last_recovery(server)
    assert "checkpoint at write 0," not in _last_recovery(server)
    names = ssm.get_parameters_by_path(Path="/stop", MaxResults=10)["Parameters"]
    assert names and ssm.get_parameter(Name="/stop/29")["Parameter"]["Value"] == "29"


def test_a_bucket_is_still_taken_after_a_checkpoint(server: MotoServer) -> None:
    """S3 knows bucket names across accounts; a restart must not free one (a second
    CreateBucket would then replace it with an empty one)."""
    s3 = _client(server, "s3")
    s3.create_bucket(Bucket="taken-bucket")
    s3.put_object(Bucket="taken-bucket", Key="k", Body=b"kept")
    server.stop()
    server.start()
    with contextlib.suppress(ClientError):  # us-east-1 answers an owner's repeat with 200
        s3.create_bucket(Bucket="taken-bucket")
    assert s3.get_object(Bucket="taken-bucket", Key="k")["Body"].read() == b"kept"


def _last_recovery(moto: MotoServer) -> str:
    """What the server said of its store when it last started."""
    lines = moto.log_file.read_text().splitlines()
    return [line for line in lines if line.startswith("local AWS state:")][-1]


def test_reset_empties_the_store_too(server: MotoServer) -> None:
    _client(server, "ssm").put_parameter(Name="/gone", Value="v", Type="String")
    server.reset()
    kill(server)
    server.start()
    with pytest.raises(ClientError, match="ParameterNotFound"):
        _client(server, "ssm").get_parameter(Name="/gone")


def _store(moto: MotoServer) -> tuple[Path, Sealer]:
    assert moto.state_dir is not None
    return moto.state_dir, Sealer.for_key_file(moto.state_dir.with_name("aws-state.key"))


def test_a_store_of_another_moto_is_refused_with_one_line(server: MotoServer) -> None:
    server.stop()
    state, sealer = _store(server)
    saved = pickle.loads(sealer.open((state / CHECKPOINT).read_bytes(), b"checkpoint"))
    saved["moto"] = "0.0.1"
    (state / CHECKPOINT).write_bytes(sealer.seal(pickle.dumps(saved), b"checkpoint"))
    with pytest.raises(CommandFailedError, match="did not come up"):
        server.start()
    assert "written by another version" in server.log_file.read_text()
    assert "`smartstack local down --purge` discards it" in server.log_file.read_text()


def test_the_store_holds_no_value_in_clear_and_refuses_a_forged_one(server: MotoServer) -> None:
    """Secret values are sealed at rest; a checkpoint sealed with another key (or none) is
    refused before anything of it is unpickled."""
    secret = "canary-" + os.urandom(8).hex()
    _client(server, "ssm").put_parameter(Name="/sealed", Value=secret, Type="SecureString")
    state, _ = _store(server)
    assert secret.encode() not in (state / LOG).read_bytes()
    server.stop()
    assert secret.encode() not in (state / CHECKPOINT).read_bytes()
    forged = Sealer(bytes(32)).seal(pickle.dumps({"format": 1}), b"checkpoint")
    (state / CHECKPOINT).write_bytes(forged)
    with pytest.raises(CommandFailedError, match="did not come up"):
        server.start()
    assert "not sealed with this machine's key" in server.log_file.read_text()


def test_an_alarm_s_change_of_state_survives_akill(server: MotoServer) -> None:
    """The server changes alarms by itself: those changes are replayed too."""
    cloudwatch = _client(server, "cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="errors", Namespace="Probe", MetricName="Errors", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    cloudwatch.put_metric_data(Namespace="Probe", MetricData=[{"MetricName": "Errors", "Value": 5}])
    _wait_for(lambda: _alarm_state(cloudwatch) == "ALARM", timeout=15)
    kill(server)
    server.start()
    assert _alarm_state(cloudwatch) == "ALARM"


def _alarm_state(cloudwatch: Any) -> str:
    return str(cloudwatch.describe_alarms(AlarmNames=["errors"])["MetricAlarms"][0]["StateValue"])


def test_a_replay_keeps_the_time_each_write_was_made(server: MotoServer) -> None:
    """Replayed at its own time, a write keeps its dates (and what depends on time with
    them: a message's visibility, a session's expiry)."""
    ssm = _client(server, "ssm")
    ssm.put_parameter(Name="/dated", Value="v", Type="String")
    made = ssm.get_parameter(Name="/dated")["Parameter"]["LastModifiedDate"]
    time.sleep(2)
    kill(server)
    server.start()
    again = _client(server, "ssm").get_parameter(Name="/dated")["Parameter"]
    assert abs((again["LastModifiedDate"] - made).total_seconds()) < 0.5


def test_a_long_poll_does_not_stop_the_others(server: MotoServer) -> None:
    sqs = _client(server, "sqs")
    queue = sqs.create_queue(QueueName="waiting")["QueueUrl"]
    waiting = threading.Thread(
        target=lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5), daemon=True
    )
    waiting.start()
    time.sleep(0.5)
    started = time.monotonic()
    _client(server, "ssm").put_parameter(Name="/meanwhile", Value="v", Type="String")
    assert time.monotonic() - started < 2
    waiting.join()


@pytest.fixture
def server_with_functions(tmp_path: Path, rie: Path) -> Iterator[MotoServer]:
    moto = MotoServer(free_port(), tmp_path, iam_enforcement="enforce", lambda_rie=rie,
                      state_dir=tmp_path / "aws-state")  # fmt: skip
    moto.start()
    yield moto
    moto.stop()


def test_a_function_is_not_run_again_by_a_restart(server_with_functions: MotoServer) -> None:
    """An invocation changes nothing by itself: what its run wrote is kept, and the
    function, which calls the local AWS back while it runs, is not run again."""
    from tests.conftest import LAMBDA_TRUST

    moto = server_with_functions
    role = _client(moto, "iam").create_role(
        RoleName="fn-role", AssumeRolePolicyDocument=LAMBDA_TRUST
    )
    _client(moto, "lambda").create_function(
        FunctionName="fn", Runtime="python3.12", Handler="app.handler", Timeout=10,
        Role=role["Role"]["Arn"], Code={"ZipFile": _zip(HANDLER)},
    )  # fmt: skip
    for _ in range(2):
        answer = _client(moto, "lambda").invoke(FunctionName="fn", Payload=b'{"kind": "whoami"}')
        assert "FunctionError" not in answer
    logs = _client(moto, "logs")
    before = logs.filter_log_events(logGroupName="/aws/lambda/fn")["events"]
    assert sum("START RequestId" in e["message"] for e in before) == 2
    kill(moto)
    moto.start()
    after = _client(moto, "logs").filter_log_events(logGroupName="/aws/lambda/fn")["events"]
    assert [e["message"] for e in after] == [e["message"] for e in before]
