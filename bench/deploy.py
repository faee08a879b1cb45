"""Benchmark of `smartstack deploy`: each step, first vs repeated deploy, overhead vs raw tofu.

Run:  .venv/bin/python bench/deploy.py [--rounds N] [--repeats M]

Each round starts its own local platform on free ports in a temporary state
directory, applies the account stack, builds and publishes one release from a
clone of HEAD, then times:

* the first deploy of that release to dev (the environment's infrastructure
  is created by it), step by step;
* the same release deployed again M times (nothing changed: every step but
  fetch and smoke is skipped), and the ratio to the first (target: <= 20%);
* the infra step with --replan (init + plan of an unchanged stack) against
  the same `tofu init` / `tofu plan -out` / `tofu show -json` run by hand
  with identical arguments: the tool's own overhead.

With --iam, each round is run twice, side by side: the local AWS enforcing IAM with
the deploy acting as dev's GitHub job (its OIDC token traded for smartstack-dev-role),
and with enforcement off acting as the admin; it prints the first deploy's ratio
(target: enforcement costs at most 1.2x).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from _common import ROOT, machine, row, running_platform

from smartstack.aws.environment import open_environment
from smartstack.aws.target import target_for
from smartstack.core.config import Settings
from smartstack.core.environments import environment_names
from smartstack.core.naming import artifacts_bucket_name
from smartstack.infra.stack import apply_stack, backend_for, stack_spec, stack_tofu
from smartstack.infra.state_backend import backend_layout, bootstrap
from smartstack.local import platform
from smartstack.pipeline.deploy import deploy
from smartstack.release.build import Manifest, build_release
from smartstack.release.store import publish_release

Samples = dict[str, list[float]]


def release(settings: Settings, work: Path) -> Manifest:
    repo = work / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "-B", "main"], check=True)
    manifest = build_release(repo, work / "out")
    target = target_for(settings)
    bucket = artifacts_bucket_name(target.account_id(), target.region)
    publish_release(target, bucket, manifest, work / "out")
    return manifest


def timed_deploy(
    settings: Settings, release_id: str, results: Samples, label: str, replan: bool = False
) -> float:
    started = time.perf_counter()
    result = deploy(open_environment(settings, "dev"), release_id, replan=replan)
    total = time.perf_counter() - started
    if result.error is not None:
        raise SystemExit(f"{label} failed: {result.error.message}")
    for step in result.attempt.steps:
        results[f"{label}: {step.name} ({step.outcome})"].append(step.seconds)
    results[f"{label}: whole deploy"].append(total)
    return total


def raw_tofu(settings: Settings) -> float:
    """init + plan -out + show -json, as a person would type them, same arguments."""
    target = target_for(settings)
    layout = backend_layout(target, environment_names(settings.configs_dir), settings.project)
    spec = stack_spec(settings, "dev", layout, target)
    tofu = stack_tofu(settings, target, spec)
    backend = backend_for(target, layout, "dev")
    plan_file = tofu.data_dir / "by-hand.tfplan"
    commands = [
        ["init", "-input=false", "-reconfigure", *backend.as_args()],
        [
            "plan", "-input=false", "-lock-timeout=0s", f"-var-file={spec.var_file}",
            f"-out={plan_file}", *(f"-var={k}={v}" for k, v in spec.variables.items()),
        ],
        ["show", "-json", str(plan_file)],
    ]  # fmt: skip
    started = time.perf_counter()
    for args in commands:
        argv = [str(tofu.toolchain.tofu), f"-chdir={spec.directory}", *args, "-no-color"]
        subprocess.run(argv, env=tofu.env(), check=True, capture_output=True)
    return time.perf_counter() - started


def iam_round(results: Samples, mode: str) -> None:
    """A cold ``local up`` and a first deploy to dev with the local AWS's IAM ``mode``
    (enforce: as dev's job)."""
    started = time.perf_counter()
    with running_platform(mode) as settings, tempfile.TemporaryDirectory() as work:
        results[f"IAM {mode}: local up (cold)"].append(time.perf_counter() - started)
        target = target_for(settings)
        bootstrap(target, environment_names(settings.configs_dir))
        apply_stack(settings, "account", target)
        manifest = release(settings, Path(work))
        actor = (
            platform.github_job(settings, "dev", Path(work), lifetime=3600)
            if mode == "enforce"
            else settings
        )
        timed_deploy(actor, manifest.release, results, f"IAM {mode}: first deploy")


def one_round(results: Samples, repeats: int) -> None:
    with running_platform() as settings, tempfile.TemporaryDirectory() as work:
        target = target_for(settings)
        bootstrap(target, environment_names(settings.configs_dir))
        apply_stack(settings, "account", target)
        manifest = release(settings, Path(work))
        first = timed_deploy(settings, manifest.release, results, "first deploy")
        for _ in range(repeats):
            again = timed_deploy(settings, manifest.release, results, "same release again")
            results["again / first (%)"].append(100 * again / first)
        # By hand, on the very code the deploy applies: the release's unpacked infrastructure.
        assert manifest.infrastructure is not None
        unpacked = settings.state_dir / "artifacts" / manifest.infrastructure.sha256 / "unpacked"
        by_hand = replace(settings, root=unpacked)
        for _ in range(repeats):
            timed_deploy(settings, manifest.release, results, "again with --replan", replan=True)
            results["raw tofu init+plan+show (by hand)"].append(raw_tofu(by_hand))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="fresh platforms (each ≈4 min)")
    parser.add_argument("--repeats", type=int, default=3, help="repeated deploys per round")
    parser.add_argument(
        "--iam", action="store_true", help="first deploy with IAM enforcement on vs off only"
    )
    args = parser.parse_args()

    results: Samples = defaultdict(list)
    if args.iam:
        for _ in range(args.rounds):
            for mode in ("enforce", "off"):
                iam_round(results, mode)
        print(machine())
        print(f"{'step':<40} {'median':>9} {'min':>9} {'max':>9} {'runs':>5}  (seconds)")
        for name in sorted(results):
            print(row(name, results[name], width=40))
        for step in ("local up (cold)", "first deploy: whole deploy"):
            on = statistics.median(results[f"IAM enforce: {step}"])
            off = statistics.median(results[f"IAM off: {step}"])
            verdict = "meets" if on <= 1.2 * off else "MISSES"
            print(f"{step}, enforcement on / off = {on / off:.2f}x: {verdict} the 1.2x target")
        return
    for _ in range(args.rounds):
        one_round(results, args.repeats)

    print(machine())
    print(f"{'step':<40} {'median':>9} {'min':>9} {'max':>9} {'runs':>5}  (seconds)")
    for name in sorted(results, key=lambda n: (n.split(":")[0], n)):
        print(row(name, results[name], width=40))
    ratio = statistics.median(results["again / first (%)"])
    verdict = "meets" if ratio <= 20 else "MISSES"
    print(f"repeated deploy = {ratio:.1f}% of the first: {verdict} the 20% target")
    infra = statistics.median(results["again with --replan: infra (succeeded)"])
    raw = statistics.median(results["raw tofu init+plan+show (by hand)"])
    print(f"infra step (init+plan, no changes) {infra:.2f}s vs by hand {raw:.2f}s: "
          f"overhead {infra - raw:+.2f}s ({100 * (infra - raw) / raw:+.1f}%)")  # fmt: skip


if __name__ == "__main__":
    main()
