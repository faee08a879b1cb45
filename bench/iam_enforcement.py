"""Benchmark: IAM enforcement in the local AWS, on and off side by side in one run.

Two moto servers of our own (free ports, temporary directories), one with
``SMARTSTACK_IAM_ENFORCEMENT=1`` and one without, seeded alike: an environment role
with a policy shaped like the stacks' (parameters, state object and listing, lock items
with ``dynamodb:LeadingKeys``, its KMS key through SSM, its functions), its SecureString
parameters, the state bucket and the lock table.  Then, as the role's session:

* **decision time** per request, measured inside the server (authentication, mapping,
  evaluation; ``GET /moto-api/smartstack/iam``): p50/p99 of a first pass over new
  resources and of a second pass of the same requests, and split by whether the request
  asked the evaluator or was answered from the decision cache;
* **a burst** of the same mixed requests from several threads, on and off: wall time and
  requests per second, the ratio of the two.

    .venv/bin/python bench/iam_enforcement.py [--burst 600] [--threads 8] [--distinct 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from smartstack.local.moto import MotoServer  # noqa: E402
from smartstack.local.processes import free_port  # noqa: E402

ACCOUNT, REGION, ENV = "123456789012", "us-east-1", "dev"
ADMIN = {"aws_access_key_id": "smartstack-local", "aws_secret_access_key": "local"}
BUCKET, TABLE = f"smartstack-tfstate-{ACCOUNT}-{REGION}", "smartstack-tfstate-lock"
STATE_KEY = f"env/{ENV}/terraform.tfstate"
CONFIG = Config(retries={"max_attempts": 1}, max_pool_connections=32)


def client_factory(server: MotoServer, **keys: str) -> Callable[[str], Any]:
    session = boto3.session.Session(region_name=REGION, **keys)
    cache: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in cache:
            cache[service] = session.client(service, endpoint_url=server.url, config=CONFIG)
        return cache[service]

    return client


def role_policy(key_arn: str) -> dict[str, Any]:
    ssm = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/smartstack/{ENV}"
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"
    lock = f"{BUCKET}/{STATE_KEY}"
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters",
                                       "ssm:GetParametersByPath", "ssm:PutParameter"],
         "Resource": [ssm, f"{ssm}/*"]},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": f"arn:aws:s3:::{BUCKET}/{STATE_KEY}"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}",
         "Condition": {"StringLike": {"s3:prefix": [f"env/{ENV}/*"]}}},
        {"Effect": "Allow", "Resource": table,
         "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
         "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [lock, f"{lock}-md5"]},
                       "Null": {"dynamodb:LeadingKeys": "false"}}},
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": key_arn,
         "Condition": {"StringEquals": {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"}}},
        {"Effect": "Allow", "Action": ["sts:GetCallerIdentity", "ssm:DescribeParameters"],
         "Resource": "*"},
    ]}  # fmt: skip


def seed(server: MotoServer, distinct: int) -> Callable[[str], Any]:
    """The same resources on each server; returns the role session's client factory."""
    admin = client_factory(server, **ADMIN)
    key = admin("kms").create_key()["KeyMetadata"]["Arn"]
    admin("kms").create_alias(AliasName=f"alias/smartstack-{ENV}", TargetKeyId=key)
    for i in range(distinct):
        name, alias = f"/smartstack/{ENV}/key-{i:04d}", f"alias/smartstack-{ENV}"
        admin("ssm").put_parameter(Name=name, Value=f"v{i}", Type="SecureString", KeyId=alias)
    admin("s3").create_bucket(Bucket=BUCKET)
    admin("s3").put_object(Bucket=BUCKET, Key=STATE_KEY, Body=b"{}")
    admin("dynamodb").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
    )  # fmt: skip
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]}  # fmt: skip
    role = admin("iam").create_role(
        RoleName=f"smartstack-{ENV}-role", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    admin("iam").put_role_policy(RoleName=f"smartstack-{ENV}-role", PolicyName="deploy",
                                 PolicyDocument=json.dumps(role_policy(key)))  # fmt: skip
    creds = admin("sts").assume_role(RoleArn=role, RoleSessionName="bench")["Credentials"]
    return client_factory(server, aws_access_key_id=creds["AccessKeyId"],
                          aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token=creds["SessionToken"])  # fmt: skip


def workload(client: Callable[[str], Any], i: int, distinct: int) -> None:
    """One request of a deploy-like mix (i picks which)."""
    n = (i // 6) % distinct  # each kind of request cycles through the resources
    match i % 6:
        case 0:
            client("ssm").get_parameter(Name=f"/smartstack/{ENV}/key-{n:04d}", WithDecryption=True)
        case 1:
            client("dynamodb").put_item(TableName=TABLE, Item={
                "LockID": {"S": f"{BUCKET}/{STATE_KEY}"}, "Info": {"S": str(n)}})  # fmt: skip
        case 2:
            client("dynamodb").get_item(
                TableName=TABLE, Key={"LockID": {"S": f"{BUCKET}/{STATE_KEY}-md5"}}
            )
        case 3:
            client("s3").get_object(Bucket=BUCKET, Key=STATE_KEY)["Body"].read()
        case 4:
            client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"env/{ENV}/")
        case _:
            client("ssm").get_parameters_by_path(Path=f"/smartstack/{ENV}", MaxResults=10)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def burst(client: Callable[[str], Any], count: int, threads: int, distinct: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: workload(client, i, distinct), range(count)))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--burst", type=int, default=600)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--distinct", type=int, default=120)
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    )

    with tempfile.TemporaryDirectory() as on_dir, tempfile.TemporaryDirectory() as off_dir:
        servers = {
            "on": MotoServer(free_port(), Path(on_dir), iam_enforcement="1"),
            "off": MotoServer(free_port(), Path(off_dir), iam_enforcement="0"),
        }
        try:
            for server in servers.values():
                server.start()
            clients = {name: seed(server, args.distinct) for name, server in servers.items()}
            on = servers["on"]

            # Decision time: first-time questions, then the same ones again.
            before = len(on.iam_stats()["decision_seconds"])
            for i in range(args.distinct * 6):
                workload(clients["on"], i, args.distinct)
            middle = on.iam_stats()
            for i in range(args.distinct * 6):
                workload(clients["on"], i, args.distinct)
            after = on.iam_stats()
            seconds, asked = after["decision_seconds"], after["asked_evaluator"]
            split = len(middle["decision_seconds"])
            first, again = seconds[before:split], seconds[split:]
            pairs = list(zip(seconds[before:], asked[before:], strict=True))
            evaluated = [s for s, a in pairs if a]
            cached = [s for s, a in pairs if not a]

            # The burst, off then on, then off again (the median of the two offs).
            walls = {"off": [], "on": []}  # type: dict[str, list[float]]
            for name in ("off", "on", "off", "on"):
                walls[name].append(burst(clients[name], args.burst, args.threads, args.distinct))
        finally:
            for server in servers.values():
                server.stop()

    print("\nper-request decision time inside the server (ms)")
    print(f"{'requests':<34} {'p50':>8} {'p99':>8} {'max':>8} {'count':>6}")
    for name, samples in (
        ("first pass (new resources)", first),
        ("second pass (the same requests)", again),
        ("of both: asked the evaluator", evaluated),
        ("of both: answered from the cache", cached),
    ):
        print(f"{name:<34} {percentile(samples, .5):>8.2f} {percentile(samples, .99):>8.2f} "
              f"{max(samples) * 1000:>8.2f} {len(samples):>6}")  # fmt: skip
    print(
        f"evaluator: {after['evaluations']} evaluations for {after['requests']} requests, "
        f"{after['evaluator_starts']} process start(s)"
    )
    print(f"\nburst: {args.burst} requests, {args.threads} threads, as the environment role")
    print(f"{'enforcement':<12} {'wall s (median)':>16} {'req/s':>8}")
    for name in ("off", "on"):
        wall = statistics.median(walls[name])
        print(f"{name:<12} {wall:>16.2f} {args.burst / wall:>8.0f}")
    ratio = statistics.median(walls["on"]) / statistics.median(walls["off"])
    print(f"on / off: {ratio:.2f}x")


if __name__ == "__main__":
    main()
