"""Benchmark: `secrets list` and `secrets export` on an environment of 500 secrets.

Runs against its own moto server (smartstack.local.moto.MotoServer on a free
port, in a temp dir) and measures, through the library (SsmSecretStore):

* AWS calls per operation, counted with a botocore ``before-call`` hook on the
  SSM client (target: one call per page, no per-key calls), and
* wall time, the median of several runs.

Side by side: a naive per-key export (one GetParameter per key, the pattern
batching avoids) and, when it can be built from the Go module proxy, chamber
(github.com/segmentio/chamber) doing the same list and export as a process
(CHAMBER_VERSION picks a version; chamber stores ``/<service>/<key>``, so the
service is ``smartstack/dev``; CHAMBER_AWS_SSM_ENDPOINT points it at the local AWS).

    .venv/bin/python bench/secrets_list_export.py [--keys 500] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smartstack.aws.target import AwsTarget
from smartstack.core.redact import Redactor
from smartstack.local.moto import MotoServer
from smartstack.secrets.formats import Format, render
from smartstack.secrets.store import SsmSecretStore

ENV = "dev"
CHAMBER_MODULE = "github.com/segmentio/chamber/v3"
CACHE = Path.home() / ".cache" / "smartstack" / "chamber"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(target: AwsTarget, keys: int) -> None:
    """500 SecureStrings under /smartstack/dev/ with the environment's KMS key."""
    kms = target.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=f"alias/smartstack-{ENV}", TargetKeyId=key_id)
    ssm = target.client("ssm")
    for i in range(keys):
        ssm.put_parameter(
            Name=f"/smartstack/{ENV}/key-{i:04d}",
            Value=f"value-{i:04d}-bench",
            Type="SecureString",
            KeyId=f"alias/smartstack-{ENV}",
        )


def measure(fn: Callable[[], Any], ssm: Any, runs: int) -> tuple[int, float]:
    """(AWS calls of one run, median seconds over ``runs``)."""
    calls: list[str] = []

    def count(model: Any, **_: Any) -> None:
        calls.append(model.name)

    ssm.meta.events.register("before-call.ssm", count)
    times = []
    try:
        for _ in range(runs):
            calls.clear()
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    finally:
        ssm.meta.events.unregister("before-call.ssm", count)
    return len(calls), statistics.median(times)


def naive_export(store: SsmSecretStore) -> str:
    """What batching avoids: list, then one GetParameter per key."""
    values = {}
    for meta in store.list_metadata():
        name = f"{store.prefix}{meta.key}"
        values[meta.key] = store.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"][
            "Value"
        ]
    return render(values, Format.JSON)


def build_chamber() -> tuple[Path | None, str]:
    """chamber from the Go module proxy into a cache dir, or why it could not be built."""
    binary = CACHE / "bin" / "chamber"
    if binary.is_file():
        return binary, "cached"
    if shutil.which("go") is None:
        return None, "go is not installed"
    env = dict(os.environ, GOBIN=str(binary.parent))
    version = os.environ.get("CHAMBER_VERSION", "latest")
    done = subprocess.run(
        ["go", "install", f"{CHAMBER_MODULE}@{version}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode == 0 and binary.is_file():
        return binary, f"built {CHAMBER_MODULE}@{version}"
    last = (done.stderr.strip().splitlines() or ["no output"])[-1].strip()
    return None, f"`go install {CHAMBER_MODULE}@{version}` failed: {last}"


def chamber_runs(binary: Path, target: AwsTarget, runs: int) -> dict[str, float]:
    """Median wall time of `chamber list` and `chamber export` (whole process)."""
    env = dict(
        target.process_env(),
        CHAMBER_AWS_SSM_ENDPOINT=target.endpoint_url("ssm") or "",
        CHAMBER_KMS_KEY_ALIAS=f"smartstack-{ENV}",
    )
    results = {}
    for name, args in (
        ("list", ["list", f"smartstack/{ENV}"]),
        ("export", ["export", "--format", "json", f"smartstack/{ENV}"]),
    ):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            done = subprocess.run(
                [str(binary), *args], env=env, capture_output=True, timeout=300, check=False
            )
            times.append(time.perf_counter() - start)
            if done.returncode != 0:
                raise RuntimeError(f"chamber {name} failed: {done.stderr.decode()[-300:]}")
        results[name] = statistics.median(times)
    return results


def python_process_time(target: AwsTarget, op: str, runs: int) -> float:
    """Wall time of our operation as a fresh process (for a fair comparison with chamber)."""
    code = (
        "import sys; from smartstack.aws.target import AwsTarget; import os\n"
        "from smartstack.core.redact import Redactor\n"
        "from smartstack.secrets.store import SsmSecretStore\n"
        "t = AwsTarget({k: v for k, v in os.environ.items() if k.startswith('AWS_')})\n"
        "s = SsmSecretStore('dev', t, Redactor(), 'smartstack')\n"
        f"s.{'list_metadata' if op == 'list' else 'read_all'}()\n"
    )
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=target.process_env(), check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smartstack-bench-") as tmp:
        server = MotoServer(free_port(), Path(tmp))
        server.start()
        try:
            report(server, args.keys, args.runs)
        finally:
            server.stop()


def report(server: MotoServer, keys: int, runs: int) -> None:
    target = AwsTarget(
        {
            "AWS_ENDPOINT_URL": server.url,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
        }
    )
    start = time.perf_counter()
    seed(target, keys)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; local AWS: moto server at {server.url}"
    )
    print(
        f"seeded {keys} SecureStrings under /smartstack/{ENV}/ in "
        f"{time.perf_counter() - start:.1f}s; {runs} runs each, median shown\n"
    )
    store = SsmSecretStore(ENV, target, Redactor(), "smartstack")
    ssm = store.ssm
    rows = [
        ("smartstack list (library)", *measure(store.list_metadata, ssm, runs)),
        (
            "smartstack export (library)",
            *measure(
                lambda: render({k: v.value for k, v in store.read_all().items()}, Format.JSON),
                ssm,
                runs,
            ),
        ),
        (
            "naive export, GetParameter per key",
            *measure(lambda: naive_export(store), ssm, max(1, runs // 2)),
        ),
    ]
    print(f"{'operation':<38} {'AWS calls':>9} {'median s':>9}")
    for name, calls, seconds in rows:
        print(f"{name:<38} {calls:>9} {seconds:>9.3f}")
    print(
        f"\nlist pages DescribeParameters (no values; AWS serves 50 per page, this local AWS "
        f"10) and export pages GetParametersByPath (10 per page, decrypted): about {keys}/10 "
        "calls plus one trailing empty page, never one per key. The naive export pays one "
        "round trip per key, which is what makes it several times slower."
    )
    compare_processes(target, runs)


def compare_processes(target: AwsTarget, runs: int) -> None:
    binary, how = build_chamber()
    print(f"\nchamber: {how}")
    if binary is None:
        print("chamber could not be built here, so there are no side-by-side chamber figures.")
        return
    ours = {op: python_process_time(target, op, runs) for op in ("list", "export")}
    theirs = chamber_runs(binary, target, runs)
    print(f"{'operation (whole process)':<38} {'smartstack s':>12} {'chamber s':>10}")
    for op in ("list", "export"):
        print(f"{op:<38} {ours[op]:>12.3f} {theirs[op]:>10.3f}")
    faster = "chamber" if sum(theirs.values()) < sum(ours.values()) else "smartstack"
    print(
        f"faster overall: {faster} (both page through the same SSM APIs; the difference is "
        "mostly process start-up: a Go binary vs importing boto3)"
    )


if __name__ == "__main__":
    main()
