"""Benchmark: the developer loop, each figure beside what it is compared with.

* ``--help`` of the CLI against ``python -c 'import typer'`` (the floor: the
  framework alone), as whole processes;
* ``secrets export <env> --stdout`` of N parameters against
  ``aws ssm get-parameters-by-path --recursive --with-decryption`` on the same
  local AWS, wall time and peak memory (``/usr/bin/time``), as whole processes;
* with ``--up``: ``smartstack up`` from an empty local AWS with the environments
  applied one after the other (``--serial``) and side by side, and side by side with
  IAM enforcement off, in one run.

    .venv/bin/python bench/dev_loop.py [--runs 5] [--keys 310] [--up]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, machine, running_platform

from smartstack.aws.target import target_for
from smartstack.core.config import Settings
from smartstack.core.naming import environment_key_alias
from smartstack.local import platform

SMARTSTACK = str(Path(sys.executable).with_name("smartstack"))
TIME = "/usr/bin/time"


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS in MiB of one process (``/usr/bin/time -f %M``)."""
    started = time.perf_counter()
    done = subprocess.run([TIME, "-f", "%M", *argv], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()[-300:]}")
    return seconds, int(done.stderr.strip().splitlines()[-1]) / 1024


def cli_env(settings: Settings) -> dict[str, str]:
    return dict(
        os.environ,
        SMARTSTACK_ROOT=str(ROOT),
        SMARTSTACK_STATE_DIR=str(settings.state_dir),
        SMARTSTACK_MOTO_PORT=str(settings.moto_port),
        SMARTSTACK_POSTGRES_PORT=str(settings.postgres_port),
    )


def side_by_side(rows: dict[str, list[tuple[float, float]]]) -> None:
    print(f"{'command':<58} {'median s':>9} {'min s':>7} {'peak MiB':>9}")
    for name, samples in rows.items():
        seconds = [s for s, _ in samples]
        memory = statistics.median(m for _, m in samples)
        print(f"{name:<58} {statistics.median(seconds):>9.3f} {min(seconds):>7.3f} {memory:>9.0f}")


def startup(runs: int) -> None:
    env = dict(os.environ)
    rows: dict[str, list[tuple[float, float]]] = {
        "smartstack --help": [],
        "python -c 'import typer'": [],
    }
    for _ in range(runs):
        rows["smartstack --help"].append(timed([SMARTSTACK, "--help"], env))
        rows["python -c 'import typer'"].append(timed([sys.executable, "-c", "import typer"], env))
    side_by_side(rows)


def export(runs: int, keys: int) -> None:
    if shutil.which("aws") is None:
        print("secrets export: the AWS CLI is not installed (pip install awscli); skipped")
        return
    with running_platform() as settings:
        target = target_for(settings)
        kms = target.client("kms")
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=environment_key_alias("dev"), TargetKeyId=key_id)
        ssm = target.client("ssm")
        for i in range(keys):
            ssm.put_parameter(
                Name=f"/smartstack/dev/key-{i:04d}", Value=f"value-{i:04d}-of-the-bench",
                Type="SecureString", KeyId=environment_key_alias("dev"),
            )  # fmt: skip
        ours = [SMARTSTACK, "secrets", "export", "dev", "--stdout"]
        theirs = [
            "aws", "ssm", "get-parameters-by-path", "--path", "/smartstack/dev/",
            "--recursive", "--with-decryption", "--output", "json",
        ]  # fmt: skip
        aws_env = dict(os.environ, **target.variables)
        rows: dict[str, list[tuple[float, float]]] = {
            f"smartstack secrets export dev --stdout ({keys} keys)": [],
            "aws ssm get-parameters-by-path --recursive --with-decryption": [],
        }
        for _ in range(runs):  # interleaved, so both see the same machine
            rows[f"smartstack secrets export dev --stdout ({keys} keys)"].append(
                timed(ours, cli_env(settings))
            )
            rows["aws ssm get-parameters-by-path --recursive --with-decryption"].append(
                timed(theirs, aws_env)
            )
        side_by_side(rows)
        a, b = (statistics.median(s for s, _ in v) for v in rows.values())
        print(f"ratio smartstack / aws cli: {a / b:.2f}x")


def up(runs: int) -> None:
    """``smartstack up`` from an empty local AWS: serial, parallel, and parallel with IAM
    enforcement off (the cost of enforcement; issue 11 asks for at most 1.2x)."""
    cases = (
        ("smartstack up --serial", ["--serial"], "enforce"),
        ("smartstack up (parallel)", [], "enforce"),
        ("smartstack up (parallel, IAM enforcement off)", [], "off"),
    )
    rows: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    for _ in range(runs):
        for name, extra, mode in cases:
            with running_platform(mode) as settings:
                platform.moto_server(settings).reset()
                env = cli_env(settings) | {"SMARTSTACK_IAM_ENFORCEMENT": mode}
                started = time.perf_counter()
                subprocess.run([SMARTSTACK, "up", *extra], env=env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
                rows[name].append(time.perf_counter() - started)
    print(f"{'command':<58} {'median s':>9} {'min s':>7}")
    for name, seconds in rows.items():
        print(f"{name:<58} {statistics.median(seconds):>9.1f} {min(seconds):>7.1f}")
    on, off = (statistics.median(rows[name]) for name, _, _ in cases[1:])
    print(f"ratio IAM enforcement on / off: {on / off:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keys", type=int, default=310)
    parser.add_argument("--up", action="store_true", help="also time `up` serial vs parallel")
    args = parser.parse_args()
    print(machine())
    startup(args.runs)
    export(args.runs, args.keys)
    if args.up:
        up(max(1, args.runs // 5))


if __name__ == "__main__":
    main()
