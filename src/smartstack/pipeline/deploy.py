"""Use-case: ``smartstack deploy <env> --release <id>``.

Before anything changes: the environment and the release must exist, the
promotion gates (from the environment's tfvars) must pass, and the deploy
takes the environment's lease.  Then, each step timed and recorded:

``fetch``    the release's artifacts from the artifacts bucket, digests checked;
``migrate``  the release's migrator behind ``smartstack-{env}-migrator``'s ``live``,
             invoked to apply the release's migrations from inside the VPC (the
             database is private); on a first deploy, where the function does not
             exist yet, this runs right after ``infra``;
``infra``    plan, then apply that saved plan; skipped when nothing it depends on
             changed since the last successful deploy; destroys stop a protected
             environment unless ``allow_destroy``;
``app``      each function's code from the bucket, a published version, ``live`` moved;
``smoke``    the checks of :mod:`smartstack.pipeline.smoke` against ``live``.

The first failing step ends the deploy.  Aliases already moved are moved back,
so the environment keeps serving its last good release; a failed smoke test
records the attempt as rolled back.  Infrastructure already applied and
migrations already run stay (migrations are written to be compatible with the
release before them).
"""

from __future__ import annotations

import hashlib
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from botocore.exceptions import ClientError

from smartstack.aws.environment import EnvironmentContext
from smartstack.aws.errors import error_code
from smartstack.aws.lambda_api import deployed_function, move_live
from smartstack.core.config import Settings
from smartstack.core.environments import EnvironmentConfig, load_environment
from smartstack.core.errors import LeaseHeldError, LeaseLostError, SmartStackError, UsageError
from smartstack.core.services import MIGRATOR
from smartstack.core.tfvars import read_tfvars
from smartstack.infra.graceful import Interrupted
from smartstack.infra.stack import PreparedStack, infra_fingerprint, plan_stack, prepare_stack
from smartstack.infra.state_lock import require_state_unlocked
from smartstack.infra.tofu import PlanSummary
from smartstack.infra.toolchain import toolchain
from smartstack.pipeline.app_step import FunctionRelease, release_function
from smartstack.pipeline.gates import check_gates, gate_config
from smartstack.pipeline.ledger import (
    Attempt,
    AttemptKind,
    AttemptOutcome,
    Ledger,
    StepOutcome,
    StepRecord,
    dead_attempts,
    describe_unfinished,
    live_attempt,
)
from smartstack.pipeline.migrator import run_migrator
from smartstack.pipeline.smoke import (
    AwsFunctions,
    Check,
    Functions,
    SmokeFailed,
    failures,
    smoke_test,
)
from smartstack.release.build import Artifact, Manifest
from smartstack.release.store import (
    PublishedRelease,
    fetch_artifact,
    load_release,
    unpack_infrastructure,
)


@dataclass(frozen=True)
class StepEvent:
    """A step started (``record`` is None) or ended."""

    name: str
    record: StepRecord | None = None


Progress = Callable[[StepEvent], None]


@dataclass
class DeployResult:
    attempt: Attempt
    gate: str
    first_deploy: bool = False
    plan: PlanSummary | None = None
    functions: list[FunctionRelease] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    error: SmartStackError | None = None


class DestroyRefused(UsageError):
    code = "destroy_refused"


@dataclass(frozen=True)
class Skipped:
    """A step's result when there was nothing to do; the reason is shown and recorded."""

    reason: str

    def __str__(self) -> str:
        return f"skipped: {self.reason}"


StepResult = str | Skipped  # a detail of what the step did, or why it did nothing


@dataclass(frozen=True)
class Deployment:
    """Who deploys which release where: resolved once, before the lease."""

    environment: EnvironmentContext
    published: PublishedRelease
    ledger: Ledger
    bucket: str
    who: str

    @property
    def manifest(self) -> Manifest:
        return self.published.manifest

    @property
    def settings(self) -> Settings:
        return self.environment.settings

    @property
    def env(self) -> str:
        return self.environment.name


def resolve(environment: EnvironmentContext, release: str) -> Deployment:
    """Everything checked before a deploy may begin; raises on bad input."""
    environment.config  # noqa: B018 - a malformed tfvars is bad input: refused before any AWS call
    toolchain(environment.settings).require()
    target = environment.target
    bucket = environment.artifacts_bucket
    published = load_release(target, bucket, release)
    ledger = Ledger(target, environment.project, environment.settings.lease_ttl_seconds)
    return Deployment(environment, published, ledger, bucket, environment.caller)


def released_settings(ctx: Deployment) -> Settings:
    """Settings rooted in the release's own infrastructure code (fetched and checked
    against the manifest): what its infra step plans and applies."""
    artifact = ctx.manifest.infrastructure
    if artifact is None:
        raise UsageError(
            f"release {ctx.manifest.release} carries no infrastructure; build a new release."
        )
    root = _unpacked(_cached(ctx, artifact), unpack_infrastructure, "")
    return replace(ctx.settings, root=root)


def released_config(ctx: Deployment) -> EnvironmentConfig:
    """The environment's deploy policy as the release carries it."""
    return load_environment(released_settings(ctx).configs_dir, ctx.env)


def _cached(ctx: Deployment, artifact: Artifact) -> Path:
    """The artifact in the local cache (keyed by its digest), downloaded if missing."""
    path = ctx.settings.state_dir / "artifacts" / artifact.sha256 / artifact.file_name
    if not _has_digest(path, artifact.sha256):
        fetch_artifact(ctx.environment.target, ctx.bucket, artifact, path.parent)
    return path


def deploy(
    environment: EnvironmentContext,
    release: str | None = None,
    *,
    resume: bool = False,
    allow_destroy: bool = False,
    replan: bool = False,
    progress: Progress = lambda event: None,
) -> DeployResult:
    """Deploy ``release`` to the environment; the result says how far it got (always recorded).

    With ``resume``, finish the attempt that was interrupted there instead (its release;
    ``release`` if given must agree): its aliases' earlier versions are where a failure
    moves them back to, the infrastructure is planned again if it reached the infra step,
    and its record says it was interrupted and what recovered it.
    """
    env = environment.name
    ledger = Ledger(environment.target, environment.project, environment.settings.lease_ttl_seconds)
    release = _release_to_deploy(env, release, resume, ledger.history(env, limit=None))
    ctx = resolve(environment, release)
    config = gate_config(environment.config, released_config(ctx))
    gate = check_gates(config, ctx.ledger, ctx.published)
    attempt = Attempt(env, release, ctx.who, manifest_sha256=ctx.published.sha256)
    with ctx.ledger.lease(env, ctx.who, attempt.attempt_id) as lease:
        attempts = ctx.ledger.history(env, limit=None)  # again, under the lease
        _release_to_deploy(env, release, resume, attempts)
        dead = dead_attempts(attempts)
        if resume:
            require_state_unlocked(ctx.settings, env, environment.target)
            attempt.resumes = [a.attempt_id for a in _recoverable(attempts)]
        for died in dead:  # the oldest first: its versions are the last that passed smoke
            for service, version in died.before.items():
                attempt.before.setdefault(service, version)
        ctx.ledger.journal(attempt)  # before closing what it recovers: see close_interrupted
        for died in dead:
            ctx.ledger.close_interrupted(died, attempt)
        found = [a for a in attempts if a.attempt_id in attempt.resumes]
        if resume:
            attempt.steps.append(StepRecord("resume", StepOutcome.SUCCEEDED, 0.0, _found(found)))
        if lease.taken_over is not None:
            gone = lease.taken_over
            attempt.steps.append(StepRecord(
                "lease", StepOutcome.SUCCEEDED, 0.0,
                f"took over the expired lease of {gone.holder} (attempt {gone.attempt_id}, "
                f"since {gone.acquired}); see its attempt in `history`",
            ))  # fmt: skip
        first = None if not resume else live_attempt(attempts) is None
        # OpenTofu's state may hold part of a recovered attempt's apply: plan it again
        touched = any(a.at_step == "infra" or a.step("infra") for a in found) if resume else False
        refuse_destroy = config.protect_from_destroy and not allow_destroy
        run = _Run(ctx, attempt, progress, refuse_destroy, replan or touched, first)
        result = DeployResult(attempt, gate)
        try:
            run.steps(result)
        except LeaseLostError:
            raise  # another deploy recovers this one: touch nothing more
        except SmartStackError as exc:
            result.error = exc
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (see cli.app): bookkeeping first
            step = attempt.steps[-1].name if attempt.steps else "its start"
            result.error = Interrupted(
                f"{env}: the deploy of {release} was interrupted ({exc or 'Ctrl-C'}) in {step}; "
                "its aliases were moved back and the attempt is recorded as interrupted."
            )
        except BaseException:  # a bug: still leave the last good release
            run.undo(AttemptOutcome.FAILED)
            raise
        if result.error is None:
            attempt.outcome = AttemptOutcome.SUCCEEDED
            ctx.ledger.record(attempt)
        else:
            run.undo(_outcome(result.error, attempt))
    return result


def _outcome(error: SmartStackError, attempt: Attempt) -> AttemptOutcome:
    if isinstance(error, Interrupted):
        return AttemptOutcome.INTERRUPTED
    if isinstance(error, SmokeFailed) and attempt.before:
        return AttemptOutcome.ROLLED_BACK
    return AttemptOutcome.FAILED


def _recoverable(attempts: list[Attempt]) -> list[Attempt]:
    """What ``--resume`` finishes, oldest first: the attempts that died, or else the newest
    attempt when it is a deploy that was interrupted (and cleaned up after itself)."""
    if dead := dead_attempts(attempts):
        return dead
    newest = attempts[0] if attempts else None
    if (
        newest
        and newest.outcome == AttemptOutcome.INTERRUPTED
        and newest.kind == AttemptKind.DEPLOY
    ):
        return [newest]
    return []


def _release_to_deploy(env: str, release: str | None, resume: bool, attempts: list[Attempt]) -> str:
    """The release a deploy takes: the one asked for, or with ``resume``, the one whose
    deploy was interrupted; refused while a dead attempt waits for its recovery."""
    if not resume:
        if dead := dead_attempts(attempts):
            raise UsageError(
                f"{env}: {describe_unfinished(dead[-1])}; finish it first with "
                f"`smartstack deploy {env} --resume`, or go back to the live release with "
                f"`smartstack rollback {env}`."
            )
        if release is None:
            raise UsageError("name the release to deploy: --release r-<commit>.")
        return release
    if running := [a for a in attempts if a.outcome == AttemptOutcome.RUNNING]:
        raise LeaseHeldError(
            f"{env}: attempt {running[0].attempt_id} ({running[0].release} by "
            f"{running[0].who.rsplit('/', 1)[-1]}) holds the lease: it is running, or died less "
            f"than the lease's time to live ago; wait, or if it is dead: `smartstack unlock {env}`."
        )
    found = _recoverable(attempts)
    if not found:
        raise UsageError(
            f"{env} has no interrupted attempt to resume (see `smartstack history {env}`)."
        )
    if any(a.kind != AttemptKind.DEPLOY for a in found):
        raise UsageError(
            f"{env}: {describe_unfinished(found[-1])}; it was not a deploy: finish it with "
            f"`smartstack rollback {env}`."
        )
    releases = {a.release for a in found}
    if len(releases) > 1 or (release is not None and release not in releases):
        raise UsageError(
            f"{env}: the interrupted attempt deployed {', '.join(sorted(releases))}; resume "
            "finishes that release (deploy another once it is done or rolled back)."
        )
    return found[-1].release


def _found(dead: list[Attempt]) -> str:
    return "; ".join(describe_unfinished(a) for a in dead)


class _Run:
    """One attempt's steps and what they leave behind for the next."""

    def __init__(
        self,
        ctx: Deployment,
        attempt: Attempt,
        progress: Progress,
        refuse_destroy: bool,
        replan: bool,
        first_deploy: bool | None = None,  # None: the migrator's absence says it is
    ) -> None:
        self.ctx = ctx
        self.attempt = attempt
        self.progress = progress
        self.redactor = ctx.environment.redactor
        self.refuse_destroy = refuse_destroy  # protect_from_destroy, unless --allow-destroy
        self.replan = replan
        self.zips: dict[str, Path] = {}
        self.infra_settings: Settings | None = None  # settings rooted in the release's code
        self.prepared: PreparedStack | None = None  # the stack's inputs, written once per run
        self.first_deploy = first_deploy

    @contextmanager
    def step(self, name: str) -> Iterator[list[StepResult]]:
        """Time a step and record it, journaled as it starts and ends; the block appends
        what it did, or :class:`Skipped`."""
        self.attempt.at_step = name
        self.ctx.ledger.journal(self.attempt)
        self.progress(StepEvent(name))
        done: list[StepResult] = []
        started = time.monotonic()
        try:
            yield done
        except Interrupted as exc:
            self._record(name, StepOutcome.INTERRUPTED, started, exc.message)
            raise
        except SmartStackError as exc:
            self._record(name, StepOutcome.FAILED, started, exc.message)
            raise
        except KeyboardInterrupt as exc:
            self._record(name, StepOutcome.INTERRUPTED, started, f"interrupted ({exc or 'Ctrl-C'})")
            raise
        except BaseException as exc:
            self._record(name, StepOutcome.FAILED, started, f"{type(exc).__name__}: {exc}")
            raise
        skipped = bool(done) and isinstance(done[-1], Skipped) and len(done) == 1
        outcome = StepOutcome.SKIPPED if skipped else StepOutcome.SUCCEEDED
        self._record(name, outcome, started, "; ".join(str(d) for d in done))

    def _record(self, name: str, outcome: StepOutcome, started: float, detail: str) -> None:
        seconds = round(time.monotonic() - started, 3)
        record = StepRecord(name, outcome, seconds, self.redactor.redact(detail))
        self.attempt.steps.append(record)
        self.attempt.at_step = ""
        self.ctx.ledger.journal(self.attempt)
        self.progress(StepEvent(name, record))

    def steps(self, result: DeployResult) -> None:
        with self.step("fetch") as detail:
            detail.append(self.fetch())
        migrator = self.ctx.environment.resource_name(MIGRATOR)
        result.first_deploy = (
            not _exists(self.ctx.environment, migrator)
            if self.first_deploy is None
            else self.first_deploy
        )
        if result.first_deploy:
            self.replan = True  # the stack must make the migrator, whatever the fingerprint says
        else:
            with self.step("migrate") as detail:
                detail.extend(self.migrate(migrator))
        with self.step("infra") as detail:
            result.plan, note = self.infra()
            detail.append(note)
        if result.first_deploy:
            with self.step("migrate") as detail:
                detail.append("first deploy: the infra step made the migrator and the database")
                detail.extend(self.migrate(migrator))
        with self.step("app") as detail:
            detail.append(self.app(result))
        with self.step("smoke") as detail:
            detail.append(self.smoke(result))

    # --- steps --------------------------------------------------------------------------------

    def fetch(self) -> str:
        cache = self.ctx.settings.state_dir / "artifacts"
        fetched = 0
        for artifact in self.ctx.manifest.stored:
            path = cache / artifact.sha256 / artifact.file_name
            if not _has_digest(path, artifact.sha256):
                path = _cached(self.ctx, artifact)
                fetched += 1
            if artifact is self.ctx.manifest.infrastructure:
                root = _unpacked(path, unpack_infrastructure, "")
                self.infra_settings = replace(self.ctx.settings, root=root)
            else:
                self.zips[artifact.name] = path
        total = len(self.ctx.manifest.stored)
        return f"{fetched} of {total} artifacts downloaded, {total - fetched} cached"

    def migrate(self, function_name: str) -> list[StepResult]:
        """The release's migrator behind ``live`` (moved back if the deploy fails), then run."""
        ctx = self.ctx
        if MIGRATOR not in {a.name for a in ctx.manifest.artifacts}:
            raise UsageError(
                f"release {ctx.manifest.release} carries no migrator (it was built before "
                "migrations ran inside the VPC); build a new release."
            )
        done = release_function(
            ctx.environment.target, function_name, ctx.manifest.artifact(MIGRATOR), ctx.bucket,
            ctx.manifest.release, runtime=ctx.manifest.runtime,
            architecture=ctx.manifest.architecture, before_move=self._moving(MIGRATOR),
        )  # fmt: skip
        self._moved(done)
        migrated = run_migrator(
            ctx.environment.target, function_name, done.version, self._migration_timeouts()
        )
        moved = [f"migrator v{done.previous_version}→v{done.version}"] if done.changed else []
        if not migrated.applied and not moved:
            return [Skipped(str(migrated))]
        return [*moved, str(migrated)]

    def _migration_timeouts(self) -> dict[str, int]:
        """The release's own timeouts (its tfvars): the migrator runs before the infra step,
        so its configuration may still be the previous release's."""
        if self.infra_settings is None:
            return {}
        path = self.infra_settings.infrastructure_dir / "configs" / f"{self.ctx.env}.tfvars"
        values = read_tfvars(path)
        names = {"lock_timeout_ms": "migration_lock_timeout_ms",
                 "statement_timeout_ms": "migration_statement_timeout_ms"}  # fmt: skip
        return {key: int(values[name]) for key, name in names.items() if name in values}

    def infra(self) -> tuple[PlanSummary | None, StepResult]:
        ctx, env, settings = self.ctx, self.ctx.env, self.infra_settings
        if settings is None:
            raise UsageError(
                f"release {ctx.manifest.release} carries no infrastructure; build a new release."
            )
        target = ctx.environment.target
        self.prepared = prepare_stack(settings, env, target)
        before = infra_fingerprint(settings, self.prepared, target)
        last = last_fingerprint(ctx.ledger, env)
        if last is not None and last[0] == before and not self.replan:
            self.attempt.infra_fingerprint = before
            return None, Skipped(f"unchanged since the deploy of {last[1]}")
        tofu, plan = plan_stack(settings, env, target, prepared=self.prepared)
        if plan.destroyed and self.refuse_destroy:
            shown = ", ".join(plan.destroyed[:3]) + (" …" if len(plan.destroyed) > 3 else "")
            raise DestroyRefused(
                f"the plan for {env} destroys or replaces {len(plan.destroyed)} resource(s) "
                f"({shown}); nothing was applied: review `smartstack plan {env}` and deploy "
                "again with --allow-destroy if that is intended."
            )
        if not plan.has_changes:
            self.attempt.infra_fingerprint = before  # nothing applied: the state is as it was
            return plan, plan.describe()
        tofu.apply(plan.plan_file)
        self.attempt.infra_fingerprint = infra_fingerprint(settings, self.prepared, target)
        return plan, plan.describe() + " (applied)"

    def app(self, result: DeployResult) -> StepResult:
        ctx = self.ctx
        target = ctx.environment.target
        for artifact in ctx.manifest.artifacts:
            name = ctx.environment.resource_name(artifact.name)
            done = release_function(
                target,
                name,
                artifact,
                ctx.bucket,
                ctx.manifest.release,
                runtime=ctx.manifest.runtime,
                architecture=ctx.manifest.architecture,
                before_move=self._moving(artifact.name),
            )
            result.functions.append(done)
            self._moved(done)
        changed = [
            f"{f.service} v{f.previous_version}→v{f.version}" for f in result.functions if f.changed
        ]
        if not changed:
            return Skipped("live already runs this release")
        return "live moved: " + ", ".join(changed)

    def smoke(self, result: DeployResult) -> str:
        checks = smoke_test(self._functions(), self.ctx.manifest.release)
        result.checks = checks
        if failed := failures(checks):
            raise SmokeFailed(f"smoke test failed: {failed}")
        return f"{len(checks)} checks passed"

    def _functions(self) -> Functions:
        ctx = self.ctx
        names = {a.name: ctx.environment.resource_name(a.name) for a in ctx.manifest.artifacts}
        return AwsFunctions(ctx.environment.target, names, ctx.environment.parameter_prefix)

    def _moving(self, service: str) -> Callable[[str], None]:
        """Journal where ``service``'s alias is before it moves (the first move counts)."""

        def note(previous: str) -> None:
            self.attempt.before.setdefault(service, previous)
            self.ctx.ledger.journal(self.attempt)

        return note

    def _moved(self, done: FunctionRelease) -> None:
        self.attempt.versions[done.service] = done.version
        if done.changed:
            self.ctx.ledger.journal(self.attempt)

    def undo(self, outcome: AttemptOutcome) -> None:
        """Move every alias this attempt (or the one it resumes) moved back, then record
        the attempt.  If that fails it stays unfinished: a recovery can finish it."""
        environment = self.ctx.environment
        self.ctx.ledger.journal(self.attempt)  # still its lease? else another recovers it
        try:
            for service, version in reversed(self.attempt.before.items()):
                move_live(environment.target, environment.resource_name(service), version)
                self.attempt.versions[service] = version
        except BaseException as exc:
            self.ctx.ledger.journal(self.attempt)
            stopped = "interrupted again" if isinstance(exc, KeyboardInterrupt) else str(exc)
            raise Interrupted(
                f"{environment.name}: moving the aliases back failed ({stopped}); attempt "
                f"{self.attempt.attempt_id} is left unfinished, some aliases may run "
                f"{self.attempt.release} unverified: `smartstack deploy {environment.name} "
                f"--resume` finishes it, `smartstack rollback {environment.name}` undoes it."
            ) from exc
        self.attempt.outcome = outcome
        self.ctx.ledger.record(self.attempt)


def last_fingerprint(ledger: Ledger, env: str) -> tuple[str, str] | None:
    """The infra fingerprint of the newest successful deploy and its release; None when a
    deploy since failed or died in its infra step (an apply cut short may have changed
    resources without writing the state, which the fingerprint cannot see)."""
    for attempt in ledger.history(env, limit=None):
        if attempt.kind != AttemptKind.DEPLOY or attempt.outcome == AttemptOutcome.RUNNING:
            continue  # a running attempt is the caller's own
        if attempt.outcome == AttemptOutcome.SUCCEEDED:
            return (
                (attempt.infra_fingerprint, attempt.release) if attempt.infra_fingerprint else None
            )
        infra = attempt.step("infra")
        cut_short = (StepOutcome.FAILED, StepOutcome.INTERRUPTED)
        if attempt.at_step == "infra" or (infra and infra.outcome in cut_short):
            return None
    return None


def _exists(environment: EnvironmentContext, function_name: str) -> bool:
    try:
        deployed_function(environment.target, function_name)
    except UsageError:
        return False
    except ClientError as exc:
        raise UsageError(
            f"cannot read the function {function_name} ({error_code(exc)}); "
            "check the role's access."
        ) from exc
    return True


def _has_digest(path: Path, sha256: str) -> bool:
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def _unpacked(zip_path: Path, unpack: Callable[[Path, Path], Path], inside: str) -> Path:
    """Unpack next to the zip (the directory is keyed by the digest), and check the tree
    against the zip before every use: a file changed or added since (OpenTofu's lock files
    aside) means it is unpacked again, so what runs is what was released."""
    dest = zip_path.parent / "unpacked"
    if not _same_tree(zip_path, dest):
        shutil.rmtree(dest, ignore_errors=True)
        unpack(zip_path, dest)
    return dest / inside if inside else dest


_WRITTEN_BY_TOFU = ".terraform.lock.hcl"  # `tofu init` writes it next to the stack's code


def _same_tree(zip_path: Path, dest: Path) -> bool:
    if not dest.is_dir():
        return False
    with zipfile.ZipFile(zip_path) as archive:
        expected = {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}
    for path in dest.rglob("*"):
        if path.is_symlink():
            return False
        if not path.is_file():
            continue
        name = path.relative_to(dest).as_posix()
        if name in expected:
            if path.read_bytes() != expected.pop(name):
                return False
        elif path.name != _WRITTEN_BY_TOFU:
            return False
    return not expected
