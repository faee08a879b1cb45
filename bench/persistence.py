"""Benchmark of the local AWS's persistence: its cost, and what a restart costs with it.

Run:  .venv/bin/python bench/persistence.py [--runs N] [--writes N]

For persistence off, then on, on a platform of its own (free ports, a temporary state
directory): a full `smartstack up` (local up, the account stack, the three environments)
and a burst of PutParameter calls.  With persistence on, then: the local AWS killed with
SIGKILL and started again (the whole log replayed), `local down` + `local up` (the
checkpoint loaded), a plan of every stack after it (which must show no changes), and a
snapshot saved and loaded, with its size.  Persistence off has no restart to time: what a
restart cost before is the full `up` again, the first row.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import ROOT, machine, row

from smartstack.aws.target import target_for
from smartstack.core.config import Settings, resolve_settings
from smartstack.infra.stack import all_stacks, plan_stack
from smartstack.local import platform, processes, snapshots
from smartstack.local.isolated import isolated_environ
from smartstack.local.persistence.store import CHECKPOINT, LOG
from smartstack.local.provision import main_job


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _puts(settings: Settings, count: int) -> None:
    ssm = target_for(settings).client("ssm")
    for n in range(count):
        ssm.put_parameter(Name=f"/bench/{n}", Value=str(n), Type="String", Overwrite=True)


def _kill_and_up(settings: Settings) -> None:
    moto = platform.moto_server(settings)
    pid = moto.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    while processes.port_in_use(moto.port):
        time.sleep(0.02)
    platform.up(settings)


def _plans_unchanged(settings: Settings) -> None:
    target = target_for(settings)
    for stack in all_stacks(settings):
        _, plan = plan_stack(settings, stack, target)
        assert not plan.has_changes, f"{stack} after a restart: {plan.describe()}"


def one_round(
    mode: str, writes: int, results: dict[str, list[float]], sizes: dict[str, int]
) -> None:
    base = dict(os.environ, SMARTSTACK_AWS_PERSISTENCE=mode)
    with tempfile.TemporaryDirectory() as state:
        settings = resolve_settings(environ=isolated_environ(ROOT, Path(state), base))
        try:
            up = timed(lambda: main_job(settings, lambda _: None))
            results[f"full up, persistence {mode}"].append(up)
            took = timed(lambda: _puts(settings, writes))
            results[f"PutParameter ms, persistence {mode}"].append(took / writes * 1000)
            if mode == "off":
                return
            store = platform.aws_state_dir(settings)
            sizes["log after the full up (bytes)"] = (store / LOG).stat().st_size
            results["SIGKILL + local up (log replayed)"].append(
                timed(lambda: _kill_and_up(settings))
            )
            results["local down (checkpoint written)"].append(
                timed(lambda: platform.down(settings))
            )
            sizes["checkpoint (bytes)"] = (store / CHECKPOINT).stat().st_size
            results["local up (checkpoint loaded)"].append(timed(lambda: platform.up(settings)))
            results["plan all four stacks after it"].append(
                timed(lambda: _plans_unchanged(settings))
            )
            results["snapshot save"].append(timed(lambda: snapshots.save(settings, "bench")))
            sizes["snapshot (bytes)"] = snapshots.list_snapshots(settings)[0].size_bytes
            results["snapshot load"].append(timed(lambda: snapshots.load(settings, "bench")))
        finally:
            platform.down(settings, purge=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--writes", type=int, default=500)
    args = parser.parse_args()
    results: dict[str, list[float]] = {
        "full up, persistence off": [], "full up, persistence on": [],
        "PutParameter ms, persistence off": [], "PutParameter ms, persistence on": [],
        "SIGKILL + local up (log replayed)": [], "local down (checkpoint written)": [],
        "local up (checkpoint loaded)": [], "plan all four stacks after it": [],
        "snapshot save": [], "snapshot load": [],
    }  # fmt: skip
    sizes: dict[str, int] = {}
    for _ in range(args.runs):
        for mode in ("off", "on"):
            one_round(mode, args.writes, results, sizes)

    print(machine())
    print(f"{'step':<36} {'median':>9} {'min':>9} {'max':>9} {'runs':>5}   (seconds unless named)")
    for name, samples in results.items():
        print(row(name, samples, width=36))
    for name, size in sizes.items():
        print(f"{name:<36} {size / 1e6:>8.1f} MB")


if __name__ == "__main__":
    main()
