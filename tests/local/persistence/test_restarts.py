"""The local AWS survives restarts: a SIGKILL in a burst of writes loses no acknowledged one.

Each test runs a local AWS of its own (IAM enforced, as `local up` starts it) with its
state in a temporary directory, and kills or stops it as a crash or `local down` would.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import signal
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
from smartstack.local.persistence.store import CHECKPOINT, LOG
from smartstack.local.processes import free_port, port_in_use

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


def _kill(moto: MotoServer) -> None:
    pid = moto.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while port_in_use(moto.port) and time.monotonic() < deadline:  # its threads still exit
        time.sleep(0.01)


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
        _kill(server)
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
    _kill(server)
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
    _kill(server)
    server.start()
    with pytest.raises(ClientError, match="ParameterNotFound"):
        _client(server, "ssm").get_parameter(Name="/gone")


def test_a_store_of_another_moto_is_refused_with_one_line(server: MotoServer) -> None:
    server.stop()
    assert server.state_dir is not None
    path = server.state_dir / CHECKPOINT
    saved = pickle.loads(path.read_bytes())
    saved["moto"] = "0.0.1"
    path.write_bytes(pickle.dumps(saved))
    with pytest.raises(CommandFailedError, match="did not come up"):
        server.start()
    assert "written by another version" in server.log_file.read_text()
    assert "`smartstack local down --purge` discards it" in server.log_file.read_text()
