"""Benchmark of the local platform: toolchain check, local up, bootstrap, first stack.

Run:  .venv/bin/python bench/local_platform.py [--runs N] [--cold-toolchain]

Starts its own platform on free ports in a temporary state directory, so it
never disturbs a running `smartstack local up`.  Prints one table of medians
(and min/max) per step.  `--cold-toolchain` also times a build of the whole
toolchain into an empty cache (30-60 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections.abc import Callable

from _common import ROOT, isolated_settings, machine, row

from smartstack.aws.target import target_for
from smartstack.infra.stack import all_stacks, apply_stack, plan_stack
from smartstack.infra.state_backend import bootstrap
from smartstack.local import platform

ENVS = ("dev", "staging", "prod")


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def toolchain(cache: str | None = None) -> None:
    env = dict(os.environ) | ({"SMARTSTACK_CACHE": cache} if cache else {})
    subprocess.run(
        ["bash", str(ROOT / "scripts/build-toolchain.sh"), "all"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def one_round(results: dict[str, list[float]]) -> None:
    with isolated_settings() as settings:
        try:
            results["local up (cold)"].append(timed(lambda: platform.up(settings)))
            results["local up (already up)"].append(timed(lambda: platform.up(settings)))
            target = target_for(settings)
            results["bootstrap (empty AWS)"].append(timed(lambda: bootstrap(target, ENVS)))
            results["bootstrap (no-op)"].append(timed(lambda: bootstrap(target, ENVS)))
            for stack in all_stacks(settings):
                results[f"init+apply {stack} (from empty)"].append(
                    timed(lambda stack=stack: apply_stack(settings, stack, target))
                )
            for stack in all_stacks(settings):
                results[f"init+plan {stack} (no changes)"].append(
                    timed(lambda stack=stack: plan_stack(settings, stack, target))
                )
        finally:
            platform.down(settings, purge=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold-toolchain", action="store_true")
    args = parser.parse_args()

    results: dict[str, list[float]] = {}
    if args.cold_toolchain:
        with tempfile.TemporaryDirectory() as cache:
            results["toolchain cold build"] = [timed(lambda: toolchain(cache))]
    results["toolchain warm check"] = [timed(toolchain) for _ in range(args.runs)]
    stacks = ("account", *ENVS)
    for key in [
        "local up (cold)",
        "local up (already up)",
        "bootstrap (empty AWS)",
        "bootstrap (no-op)",
        *(f"init+apply {s} (from empty)" for s in stacks),
        *(f"init+plan {s} (no changes)" for s in stacks),
    ]:
        results[key] = []
    for _ in range(args.runs):
        one_round(results)

    print(machine())
    print(f"{'step':<34} {'median s':>9} {'min s':>9} {'max s':>9} {'runs':>5}")
    for name, samples in results.items():
        print(row(name, samples))


if __name__ == "__main__":
    main()
