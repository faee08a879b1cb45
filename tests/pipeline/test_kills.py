"""Kill a deploy anywhere, and recover: the kill matrix.

Each case starts ``smartstack deploy dev`` as dev's GitHub job would, of whichever of two
releases is not live (they differ in every function's code and in an alarm's threshold
and the API's timeout, so each step does real work: a migrator to publish, an in-place
apply, three aliases to move), and kills it at one point with one signal:

* ``SIGKILL``: the deploy dies at once; an OpenTofu it started runs on to its end;
* ``SIGKILL tree``: the deploy and its OpenTofu die together (a machine gone);
* ``SIGINT``: Ctrl-C, or a cancelled CI job: the deploy stops OpenTofu gracefully,
  moves its aliases back and records the attempt.

Then the test recovers as an operator would, by what the tool says: ``deploy --resume``;
waiting out the dead holder's lease when told it is held; running the exact
``unlock --state-lock`` command it prints for a dead OpenTofu's lock.  After each
recovery: ``live`` runs a release whose deploy passed smoke, at the versions that deploy
recorded; a plan of dev shows no changes; the ledger shows the killed attempt as
interrupted and the attempt that recovered it; no lease and no state lock are left; the
ledger's chain is whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from smartstack.aws.lambda_api import live_version
from smartstack.aws.target import environment_target
from smartstack.core.naming import artifacts_bucket_name
from smartstack.infra.stack import plan_stack
from smartstack.infra.state_lock import state_lock
from smartstack.pipeline.deploy import released_settings, resolve
from smartstack.pipeline.ledger import AttemptKind, AttemptOutcome, live_attempt
from smartstack.release.build import Manifest
from tests.conftest import ROOT
from tests.pipeline.world import FUNCTIONS, FirstDeploy, Pipeline, commit, git, require_first

LEASE_TTL = 8  # seconds: a SIGKILLed deploy's lease is taken over this long after its last beat
SEED = random.randrange(1 << 30)
RNG = random.Random(SEED)
STEPS = ("fetch", "migrate", "infra", "app", "smoke")


@dataclass(frozen=True)
class Case:
    point: str  # start:<step>, end:<step>, in:apply, in:migrate, in:aliases, in:smoke, random
    how: str  # KILL, KILL-TREE, INT

    def __str__(self) -> str:
        return f"{self.point}/{self.how}"


CASES = [
    *(Case(f"{edge}:{step}", how) for edge in ("start", "end") for step in STEPS
      for how in ("KILL", "INT")),
    *(Case(point, how) for point in ("in:apply", "in:migrate", "in:aliases", "in:smoke")
      for how in ("KILL", "INT")),
    Case("in:apply", "KILL-TREE"),
    Case("in:apply", "KILL-TREE"),
    *(Case("random", how) for how in ("KILL", "INT", "KILL", "KILL-TREE")),
]  # fmt: skip


@dataclass
class Outcome:
    """One row of the table: where the kill landed and what recovery did."""

    case: Case
    killed: bool = False
    died_in: str = "-"
    recovery: list[str] = field(default_factory=list)
    live: str = ""
    plan: str = ""


ROWS: list[Outcome] = []


@dataclass(frozen=True)
class KillReleases:
    a: Manifest
    b: Manifest


@pytest.fixture(scope="module")
def kill_releases(
    pipeline: Pipeline, dev_first_deploy: FirstDeploy, tmp_path_factory: pytest.TempPathFactory
) -> KillReleases:
    require_first(dev_first_deploy)
    work = tmp_path_factory.mktemp("kill-releases")
    repo = work / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    git(repo, "config", "user.email", "kill-matrix@smartstack.invalid")
    git(repo, "config", "user.name", "kill matrix")
    publisher = environment_target(pipeline.job("dev"), "dev")
    bucket = artifacts_bucket_name(pipeline.target.account_id(), pipeline.target.region)
    shared = repo / "app/shared/smartstack_common/__init__.py"
    tfvars = repo / "infrastructure/configs/dev.tfvars"
    original, settings = shared.read_text(), tfvars.read_text()
    made = []
    for name, threshold, timeout in (("a", 21, 11), ("b", 22, 12)):
        shared.write_text(original + f"# kill matrix release {name}\n")
        changed = _set(settings, "api_5xx_threshold", threshold)
        tfvars.write_text(_set(changed, "api_timeout_seconds", timeout))
        made.append(commit(repo, f"kill-{name} release", work, publisher, bucket))
    return KillReleases(*made)


def _set(tfvars: str, name: str, value: int) -> str:
    changed, count = re.subn(rf"(?m)^{name}\s*=.*$", f"{name} = {value}", tfvars)
    assert count == 1, f"{name} is not set once in dev.tfvars"
    return changed


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Deploy:
    """``smartstack deploy dev`` in a process of its own, its progress lines watched."""

    def __init__(self, pipeline: Pipeline, release: str) -> None:
        env = dict(pipeline.job_env("dev"), SMARTSTACK_LEASE_TTL=str(LEASE_TTL))
        cli = Path(sys.executable).parent / "smartstack"
        self.proc = subprocess.Popen(
            [str(cli), "deploy", "dev", "--release", release],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self.changed:
                self.lines.append(line.rstrip())
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for_line(self, pattern: str, timeout: float = 600) -> bool:
        """Until a progress line matches; False if the deploy ended first."""
        found = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.changed:
            while not any(found.search(line) for line in self.lines):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    return any(found.search(line) for line in self.lines)
                self.changed.wait(0.05)
        return True

    def wait_until(self, ready: object, timeout: float = 600) -> bool:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            if ready():  # type: ignore[operator]
                return True
            time.sleep(0.03)
        return False


def _trigger(run: Deploy, case: Case, pipeline: Pipeline) -> bool:
    """Wait for the case's moment; False when the deploy ended before it came."""
    edge, _, step = case.point.partition(":")
    if edge == "start":
        return run.wait_for_line(rf"^… {step}\b")
    if edge == "end":
        return run.wait_for_line(rf"^[✓\-✗!] {step}\b")
    if case.point == "random":
        return run.wait_until(lambda: False, timeout=RNG.uniform(0.5, 25)) or True
    if case.point == "in:apply":
        return run.wait_until(
            lambda: any(" apply " in _cmdline(c) for c in _children(run.proc.pid))
        ) and _pause(run, RNG.uniform(0, 1.5))
    if case.point == "in:migrate":
        return run.wait_for_line(r"^… migrate\b") and _pause(run, RNG.uniform(0.3, 2.5))
    if case.point == "in:smoke":
        return run.wait_for_line(r"^… smoke\b") and _pause(run, RNG.uniform(0, 1.0))
    if case.point == "in:aliases":
        names = [f"smartstack-dev-{s}" for s in ("api", "ai-processor")]
        if not run.wait_for_line(r"^… app\b"):
            return False
        start = {n: live_version(pipeline.target, n) for n in names}
        return run.wait_until(
            lambda: any(live_version(pipeline.target, n) != start[n] for n in names)
        )
    raise AssertionError(case.point)


def _pause(run: Deploy, seconds: float) -> bool:
    run.wait_until(lambda: False, timeout=seconds)
    return run.proc.poll() is None


def _kill(run: Deploy, how: str) -> list[int]:
    """Send the case's signal; returns the OpenTofu processes left running on their own."""
    tofu = [c for c in _children(run.proc.pid) if "tofu" in _cmdline(c)]
    plugins = [g for c in tofu for g in _children(c)]  # the AWS provider, run by OpenTofu
    if how == "INT":
        run.proc.send_signal(signal.SIGINT)
        run.proc.wait(timeout=300)
        return []
    for pid in [run.proc.pid, *(tofu + plugins if how == "KILL-TREE" else [])]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    run.proc.wait(timeout=60)
    return [] if how == "KILL-TREE" else tofu


def _recover(pipeline: Pipeline) -> list[str]:
    """``deploy --resume`` until it is done, doing what each refusal says to."""
    env = dict(pipeline.job_env("dev"), SMARTSTACK_LEASE_TTL=str(LEASE_TTL))
    did: list[str] = []
    deadline = time.monotonic() + 10 * LEASE_TTL + 300
    while time.monotonic() < deadline:
        resumed = pipeline.cli("deploy", "dev", "--resume", env=env)
        said = resumed.stderr
        if resumed.exit_code == 0:
            return [*did, "resumed"]
        if "no interrupted attempt to resume" in said:
            held = pipeline.ledger().current_lease("dev")
            if held is not None and not held.expired(time.time()):  # killed after its record
                time.sleep(max(0.0, held.expires - time.time()) + 0.5)
                did.append("waited out the lease")
            return [*did, "nothing to resume"]
        if lock := re.search(r"smartstack unlock dev --state-lock (\S+)", said):
            unlocked = pipeline.cli("unlock", "dev", "--state-lock", lock[1], "--yes", env=env)
            assert unlocked.exit_code == 0, unlocked.stderr
            did.append("state lock released")
            continue
        if "holds the lease" in said or "is being deployed by" in said:
            if "waited out the lease" not in did:
                did.append("waited out the lease")
            time.sleep(1)
            continue
        pytest.fail(f"resume failed (exit {resumed.exit_code}): {said}")
    pytest.fail("recovery did not converge")


def test_kill_the_deploy_anywhere_and_recover(
    pipeline: Pipeline, kill_releases: KillReleases
) -> None:
    """Every case in turn (the state one leaves is where the next starts), then the table
    of kill points against outcomes, and the count: at least thirty real kills."""
    try:
        for case in CASES:
            ROWS.append(Outcome(case))
            _kill_and_recover(pipeline, kill_releases, ROWS[-1])
    finally:
        _print_table()
    assert sum(r.killed for r in ROWS) >= 30, f"only {sum(r.killed for r in ROWS)} kills landed"


def _kill_and_recover(pipeline: Pipeline, kill_releases: KillReleases, row: Outcome) -> None:
    case = row.case
    ledger = pipeline.ledger()
    current = live_attempt(ledger.history("dev", limit=None))
    assert current is not None
    release = kill_releases.b if current.release == kill_releases.a.release else kill_releases.a
    began = time.time()

    run = Deploy(pipeline, release.release)
    row.killed = _trigger(run, case, pipeline) and run.proc.poll() is None
    orphans = _kill(run, case.how) if row.killed else []
    code = run.proc.wait(timeout=600)
    if row.killed and case.how == "INT":
        assert code != 0, f"{case}: the interrupted deploy exited 0:\n" + "\n".join(run.lines)
    for pid in orphans:  # "wait for it": an OpenTofu run on its own finishes and unlocks
        deadline = time.monotonic() + 600
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)

    history = ledger.history("dev", limit=None)
    mine = [a for a in history if a.release == release.release and not a.resumes]
    killed = next((a for a in mine if _epoch(a.started) >= began - 1), None)
    row.recovery = _recover(pipeline)

    history = ledger.history("dev", limit=None)
    if killed is not None:
        after = next(a for a in history if a.attempt_id == killed.attempt_id)
        row.died_in = f"{after.outcome} in {killed.at_step or _stopped_in(killed)}"
        assert after.outcome in (AttemptOutcome.INTERRUPTED, AttemptOutcome.SUCCEEDED), after
        if after.outcome == AttemptOutcome.INTERRUPTED:
            recovery = next(a for a in history if killed.attempt_id in a.resumes)
            assert recovery.outcome == AttemptOutcome.SUCCEEDED, recovery
            assert recovery.steps[0].name == "resume"
            assert killed.attempt_id in recovery.steps[0].detail
    assert not [a for a in history if a.outcome == AttemptOutcome.RUNNING or a.unfinished]
    live = live_attempt(history)
    assert live is not None and live.kind == AttemptKind.DEPLOY
    for service in FUNCTIONS:  # live runs what that deploy (smoke passed) moved it to
        assert live_version(pipeline.target, f"smartstack-dev-{service}") == live.versions[service]
    row.live = "new" if live.release == release.release else "previous"

    environment = pipeline.open("dev")
    settings = released_settings(resolve(environment, live.release))
    _, plan = plan_stack(settings, "dev", environment.target)
    row.plan = plan.describe()
    assert not plan.has_changes, plan.changes
    lease = ledger.current_lease("dev")  # none, or a dead holder's that has expired
    assert lease is None or lease.expired(time.time()), lease
    assert state_lock(pipeline.settings, "dev", pipeline.target) is None
    assert all(c.broken is None for c in ledger.verify("dev"))
    print(f"{case}: {row.died_in}; {', '.join(row.recovery)}; {row.plan}", flush=True)


def _print_table() -> None:
    print(f"\nkill matrix (seed {SEED}):")
    print("| kill point | signal | killed | the attempt | recovery | live | next plan |")
    print("|---|---|---|---|---|---|---|")
    for r in ROWS:
        print(
            f"| {r.case.point} | {r.case.how} | {'yes' if r.killed else 'ended first'} | "
            f"{r.died_in} | {', '.join(r.recovery)} | {r.live} | {r.plan} |"
        )


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def _stopped_in(attempt: object) -> str:
    steps = getattr(attempt, "steps", [])
    return next((s.name for s in steps if s.outcome == "interrupted"), "between steps")


def test_after_a_dead_deploy_nothing_deploys_over_it_and_rollback_returns_to_what_ran(
    pipeline: Pipeline, kill_releases: KillReleases
) -> None:
    ledger = pipeline.ledger()
    before = live_attempt(ledger.history("dev", limit=None))
    assert before is not None
    release = kill_releases.b if before.release == kill_releases.a.release else kill_releases.a
    run = Deploy(pipeline, release.release)
    assert _trigger(run, Case("in:aliases", "KILL"), pipeline), "the deploy ended first"
    _kill(run, "KILL")  # one alias runs the new release's code, unverified
    moved = {s: live_version(pipeline.target, f"smartstack-dev-{s}") for s in FUNCTIONS}
    assert moved != {s: before.versions[s] for s in FUNCTIONS}
    time.sleep(LEASE_TTL + 1)  # its holder is gone: the lease expires

    env = dict(pipeline.job_env("dev"), SMARTSTACK_LEASE_TTL=str(LEASE_TTL))
    refused = pipeline.cli("deploy", "dev", "--release", before.release, env=env)
    assert refused.exit_code == 2, refused.stderr
    assert "died in app after moving" in refused.stderr
    assert "smartstack deploy dev --resume" in refused.stderr
    assert "smartstack rollback dev" in refused.stderr
    status = json.loads(pipeline.cli("--json", "status").stdout)["data"]  # every env: the admin
    (dev,) = [s for s in status if s["env"] == "dev"]
    assert (dev["last"]["outcome"], dev["last"]["at_step"]) == ("interrupted", "app")
    assert dev["current"]["release"] == before.release

    back = pipeline.cli("rollback", "dev", env=env)
    assert back.exit_code == 0, back.stderr
    assert f"rolled back to {before.release}" in back.stdout  # the release live before, not older
    for service in FUNCTIONS:
        assert (
            live_version(pipeline.target, f"smartstack-dev-{service}") == before.versions[service]
        )
    history = ledger.history("dev", limit=None)
    dead = next(a for a in history if a.release == release.release)
    assert dead.outcome == AttemptOutcome.INTERRUPTED and dead.steps[-1].name == "app"
    assert "recovered by rollback" in dead.steps[-1].detail
    assert history[0].kind == AttemptKind.ROLLBACK and history[0].resumes == [dead.attempt_id]
    assert ledger.unfinished("dev") == []
    assert all(c.broken is None for c in ledger.verify("dev"))
    after = pipeline.cli("deploy", "dev", "--release", release.release, env=env)
    assert after.exit_code == 0, after.stderr  # deploys go on; its infra is applied again
