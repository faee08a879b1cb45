"""Benchmark: functions run by the local AWS against the Lambda RIE used directly.

One local AWS of our own (IAM enforcement on, the toolchain's RIE) and one small Python
function, then side by side in one run:

* **Invoke, cold**: ``CreateFunction`` then the first ``Invoke`` through the local AWS
  (a new environment: the RIE started, the zip unpacked, a role session made), against
  starting the same zip in the RIE directly and invoking it once;
* **Invoke, warm**: p50/p99 of repeated invocations, through the local AWS (signed
  request, IAM decision, routing, the environment's RIE, logs and metrics written)
  against the RIE directly;
* **the HTTP API**: requests per second and latency p50/p99 at a fixed concurrency,
  through ``<local AWS>/_aws/execute-api/<id>`` to the function's alias;
* **in the VPC** (as root): the same function with a ``VpcConfig``, which runs in the
  platform's VPC namespace and is reached through a socket of the namespace, cold and warm.

    .venv/bin/python bench/lambda_invoke.py [--warm 200] [--requests 400] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from smartstack.core.config import resolve_settings  # noqa: E402
from smartstack.infra.toolchain import toolchain  # noqa: E402
from smartstack.local.lambda_runner import LocalLambda, http_event  # noqa: E402
from smartstack.local.moto import MotoServer  # noqa: E402
from smartstack.local.network import PrivateNetwork, private_network  # noqa: E402
from smartstack.local.processes import free_port  # noqa: E402

HANDLER = """
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"path": event.get("rawPath")})}
"""
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})  # fmt: skip
KEYS = {"aws_access_key_id": "smartstack-local", "aws_secret_access_key": "local"}


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):8.2f} ms   p99 {p99:8.2f} ms   ({len(ordered)} runs)"


def timed_ms(call: Any) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=200, help="warm invocations each way")
    parser.add_argument("--requests", type=int, default=400, help="HTTP API requests")
    parser.add_argument("--concurrency", type=int, default=4, help="HTTP API clients at once")
    args = parser.parse_args()
    rie = toolchain(resolve_settings()).lambda_rie
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", HANDLER)
    with tempfile.TemporaryDirectory() as directory:
        zip_path = Path(directory) / "function.zip"
        zip_path.write_bytes(code.getvalue())
        network = private_network(Path(directory))
        if network is not None:
            network.create()
        server = MotoServer(free_port(), Path(directory) / "aws", iam_enforcement="1",
                            lambda_rie=rie, network=network)  # fmt: skip
        server.directory.mkdir()
        server.start()
        try:
            run(server, zip_path, rie, args, network)
        finally:
            server.stop()
            if network is not None:
                network.delete()


def run(
    server: MotoServer,
    zip_path: Path,
    rie: Path,
    args: argparse.Namespace,
    network: PrivateNetwork | None,
) -> None:
    session = boto3.session.Session(region_name="us-east-1", **KEYS)
    lam = session.client("lambda", endpoint_url=server.url)
    role = session.client("iam", endpoint_url=server.url).create_role(
        RoleName="bench-role", AssumeRolePolicyDocument=TRUST
    )["Role"]["Arn"]
    lam.create_function(FunctionName="bench", Runtime="python3.12", Handler="app.handler",
                        Role=role, Code={"ZipFile": zip_path.read_bytes()})  # fmt: skip
    version = lam.publish_version(FunctionName="bench")["Version"]
    lam.create_alias(FunctionName="bench", Name="live", FunctionVersion=version)
    event = json.dumps(http_event("GET", "/bench")).encode()

    def through_aws(name: str = "bench") -> None:
        lam.invoke(FunctionName=name, Qualifier="live", Payload=event)["Payload"].read()

    cold_aws = timed_ms(through_aws)
    cold_vpc, warm_vpc = 0.0, []
    if network is not None:
        vpc = {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
        lam.create_function(FunctionName="bench-vpc", Runtime="python3.12",
                            Handler="app.handler", Role=role,
                            Code={"ZipFile": zip_path.read_bytes()}, VpcConfig=vpc)  # fmt: skip
        vpc_version = lam.publish_version(FunctionName="bench-vpc")["Version"]
        lam.create_alias(FunctionName="bench-vpc", Name="live", FunctionVersion=vpc_version)
        cold_vpc = timed_ms(lambda: through_aws("bench-vpc"))
        warm_vpc = [timed_ms(lambda: through_aws("bench-vpc")) for _ in range(args.warm)]
    direct: list[LocalLambda] = []
    cold_direct = timed_ms(
        lambda: (
            direct.append(LocalLambda(zip_path, "app.handler", {}, rie))
            or direct[0].invoke(http_event("GET", "/bench"))
        )
    )
    try:
        warm_aws = [timed_ms(through_aws) for _ in range(args.warm)]
        warm_direct = [
            timed_ms(lambda: direct[0].invoke(http_event("GET", "/bench")))
            for _ in range(args.warm)
        ]
    finally:
        for fn in direct:
            fn.close()

    gateway = session.client("apigatewayv2", endpoint_url=server.url)
    api = gateway.create_api(Name="bench-api", ProtocolType="HTTP")
    alias_arn = lam.get_alias(FunctionName="bench", Name="live")["AliasArn"]
    integration = gateway.create_integration(
        ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=alias_arn,
        PayloadFormatVersion="2.0", IntegrationMethod="POST")["IntegrationId"]  # fmt: skip
    gateway.create_route(ApiId=api["ApiId"], RouteKey="$default",
                         Target=f"integrations/{integration}")  # fmt: skip
    gateway.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    lam.add_permission(  # as the stacks' aws_lambda_permission: API Gateway may invoke it
        FunctionName="bench", Qualifier="live", StatementId="api",
        Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:us-east-1:123456789012:{api['ApiId']}/*",
    )  # fmt: skip
    endpoint = gateway.get_api(ApiId=api["ApiId"])["ApiEndpoint"]

    def request(_: int) -> float:
        def get() -> None:
            with urllib.request.urlopen(f"{endpoint}/bench", timeout=30) as response:
                response.read()

        return timed_ms(get)

    request(0)  # the alias's environment for the API's concurrency is warm from here on
    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        latencies = list(pool.map(request, range(args.requests)))
    wall = time.perf_counter() - started

    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    )
    print(f"{'Invoke, cold (create → first answer)':<44} local AWS {cold_aws:8.1f} ms   "
          f"RIE directly {cold_direct:8.1f} ms")  # fmt: skip
    print(f"{'Invoke, warm, through the local AWS':<44} {percentiles(warm_aws)}")
    print(f"{'Invoke, warm, RIE directly':<44} {percentiles(warm_direct)}")
    overhead = statistics.median(warm_aws) - statistics.median(warm_direct)
    print(f"{'warm overhead of the local AWS (p50)':<44} {overhead:+8.2f} ms")
    label = f"HTTP API, concurrency {args.concurrency}"
    print(f"{label:<44} {args.requests / wall:8.1f} req/s   {percentiles(latencies)}")
    if network is None:
        print("in the VPC: not measured (the VPC namespace needs root)")
        return
    print(f"{'Invoke, cold, in the VPC namespace':<44} local AWS {cold_vpc:8.1f} ms")
    print(f"{'Invoke, warm, in the VPC namespace':<44} {percentiles(warm_vpc)}")
    extra = statistics.median(warm_vpc) - statistics.median(warm_aws)
    print(f"{'warm cost of the VPC namespace (p50)':<44} {extra:+8.2f} ms")


if __name__ == "__main__":
    main()
