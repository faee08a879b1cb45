"""``smartstack deploy | approve | rollback | history | status | verify-ledger | unlock``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from smartstack.cli.context import run, run_in
from smartstack.cli.output import Renderer
from smartstack.core.config import Settings
from smartstack.core.errors import ExitCode, UsageError

if TYPE_CHECKING:  # the use-cases load boto3 and SQLAlchemy: imported when a command runs
    from smartstack.aws.environment import EnvironmentContext
    from smartstack.pipeline import promotion
    from smartstack.pipeline.deploy import DeployResult, StepEvent
    from smartstack.pipeline.ledger import Attempt

EnvArg = Annotated[
    str, typer.Argument(help="An environment (a tfvars file in infrastructure/configs).")
]
ReleaseArg = Annotated[
    str, typer.Argument(help="A published release id (r-<commit>), see `smartstack build`.")
]
_SIGN = {"succeeded": "✓", "skipped": "-", "failed": "✗", "interrupted": "!"}
_COLOUR = {"succeeded": "green", "skipped": "dim", "failed": "red", "interrupted": "magenta"}
_MARK = {outcome: f"[{_COLOUR[outcome]}]{sign}[/]" for outcome, sign in _SIGN.items()}


def _progress(out: Renderer) -> Callable[[StepEvent], None]:
    def show(event: StepEvent) -> None:
        if out.as_json:
            return
        if event.record is None:
            out.err.print(f"[dim]…[/] {event.name}", markup=True)
            return
        r = event.record
        out.err.print(
            f"{_MARK.get(r.outcome, '?')} {r.name:<8} {r.seconds:7.1f}s  {out.redact(r.detail)}",
            markup=True,
            highlight=False,
        )

    return show


def _render_deploy(console: Console, result: DeployResult) -> None:
    a = result.attempt
    colour = {"succeeded": "green", "rolled back": "yellow"}.get(a.outcome, "red")
    total = sum(s.seconds for s in a.steps)
    console.print(
        f"{a.env}: {a.release} [{colour}]{a.outcome}[/] in {total:.1f}s "
        f"(attempt {a.attempt_id}; gate: {result.gate})"
    )
    if result.first_deploy:
        console.print("first deploy: the infra step made the migrator, then migrations ran")
    if result.plan is not None and result.plan.changes:
        for action, address in result.plan.changes:
            console.print(f"  {action:<8} {address}", markup=False)


def deploy_command(
    ctx: typer.Context,
    env: EnvArg,
    release: Annotated[
        str | None, typer.Option("--release", help="The release to deploy (r-<commit>).")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Finish the deploy that died in this environment (its release, planned "
            "again); if that fails, its aliases go back to where they were before it."
        ),
    ] = False,
    allow_destroy: Annotated[
        bool, typer.Option(help="Let a protected environment's plan destroy or replace resources.")
    ] = False,
    replan: Annotated[
        bool,
        typer.Option(
            help="Plan the infrastructure even when nothing changed since the last deploy."
        ),
    ] = False,
) -> None:
    """Deploy a release: fetch → migrate → infra → app → smoke, rolled back if smoke fails.

    Each step is journaled as it goes: a deploy that dies shows as interrupted, and
    nothing deploys over it until `--resume` finishes it or `rollback` undoes it."""

    if release is None and not resume:  # an argument error: before anything loads
        raise typer.BadParameter(
            "name the release (r-<commit>), or pass --resume.", ctx, None, "--release"
        )

    def action(environment: EnvironmentContext, out: Renderer) -> int:
        from smartstack.pipeline.deploy import deploy

        result = deploy(
            environment,
            release,
            resume=resume,
            allow_destroy=allow_destroy,
            replan=replan,
            progress=_progress(out),
        )
        if result.error is None:
            out.result(result, lambda console: _render_deploy(console, result))
            return ExitCode.OK
        code = int(result.error.exit_code)
        out.result(result, lambda console: _render_deploy(console, result), code=code)
        if not out.as_json:
            out.error(result.error)
        return code

    run_in(ctx, env, action)


def approve(ctx: typer.Context, env: EnvArg, release: ReleaseArg) -> None:
    """Approve a release's manifest for an environment that requires it, signed in as your
    own IAM user (an approvers group member); a role session is refused."""

    def action(environment: EnvironmentContext, out: Renderer) -> None:
        from smartstack.pipeline import promotion

        approval = promotion.approve(environment, release)
        out.result(
            approval,
            lambda c: c.print(
                f"{release} approved for {env} by {approval.approver} at {approval.at}"
            ),
        )

    run_in(ctx, env, action)


def rollback(ctx: typer.Context, env: EnvArg) -> None:
    """Move `live` back to the previous successful release (the app only; schema and infra stay).

    After a deploy that died, it goes back to the release that was live before that deploy."""

    def action(environment: EnvironmentContext, out: Renderer) -> None:
        from smartstack.pipeline import promotion

        attempt = promotion.rollback(environment)
        said = f"{env}: rolled back to {attempt.release} ({attempt.steps[0].detail})"
        if attempt.outcome != "succeeded":  # a first deploy died: nothing was live before it
            said = (
                f"{env}: undid the interrupted deploy of {attempt.release}; nothing passed smoke "
                f"there before it ({attempt.steps[0].detail})"
            )
        out.result(attempt, lambda c: c.print(said))

    run_in(ctx, env, action)


def _history_table(attempts: list[Attempt]) -> Table:
    table = Table("started (UTC)", "kind", "release", "outcome", "who", "steps (✓ ran, - skipped)")
    table.columns[2].no_wrap = True
    for a in attempts:
        steps = " ".join(f"{_SIGN.get(s.outcome, '?')}{s.name} {s.seconds:.0f}s" for s in a.steps)
        started = a.started[:19].replace("T", " ")
        table.add_row(started, a.kind, a.release, a.outcome, a.who.rsplit("/", 1)[-1], steps)
    return table


def history(
    ctx: typer.Context,
    env: EnvArg,
    limit: Annotated[int, typer.Option(min=1, help="How many attempts, newest first.")] = 20,
) -> None:
    """Deploys and rollbacks of an environment: who, when, each step's outcome and duration."""

    def action(environment: EnvironmentContext, out: Renderer) -> None:
        from smartstack.pipeline import promotion

        attempts = promotion.history(environment, limit)
        out.result(attempts, lambda c: c.print(_history_table(attempts)))

    run_in(ctx, env, action)


def _status_table(report: list[promotion.EnvironmentStatus]) -> Table:
    """Release ids never wrap or shorten: people copy them into the next command."""
    table = Table("env", "live release", "since", "last attempt", "waiting", "lease")
    table.columns[1].no_wrap = True
    table.columns[4].overflow = "fold"
    for s in report:
        live = s.current.release if s.current else "-"
        since = s.current.finished[:16].replace("T", " ") if s.current else ""
        last = "-"
        if s.last:
            last = s.last.outcome if s.current is s.last else f"{s.last.release} {s.last.outcome}"
            if s.last.unfinished:
                last += f" in {s.last.at_step or 'between steps'}, needs --resume or rollback"
        waiting = "-"
        if s.waiting:
            waiting = f"{s.waiting} (passed {s.promotes_from})"
            if s.needs_approval:
                who = s.approval.approver.rsplit("/", 1)[-1] if s.approval else ""
                waiting += f", approved by {who}" if s.approval else ", needs approval"
        lease = f"held by {s.lease.holder}" if s.lease else "free"
        table.add_row(s.env, live, since, last, waiting, lease)
    return table


def status(ctx: typer.Context) -> None:
    """What runs in each environment and what waits for promotion or approval."""

    def action(settings: Settings, out: Renderer) -> None:
        from smartstack.pipeline import promotion

        report = promotion.status(settings)
        out.result(report, lambda c: c.print(_status_table(report)))
        for s in report:
            for check in s.broken:
                assert check.broken is not None
                out.progress(
                    f"warning: {s.env}'s ledger ({check.partition}) is broken at "
                    f"{check.broken.sk}; see smartstack verify-ledger {s.env}"
                )

    run(ctx, action)


def verify_ledger(ctx: typer.Context, env: EnvArg) -> None:
    """Recompute the ledger's hash chains (attempts, approvals) and name the first break."""

    def action(environment: EnvironmentContext, out: Renderer) -> int:
        from smartstack.core.errors import LedgerBrokenError
        from smartstack.pipeline import promotion

        checks = promotion.verify_ledger(environment)

        def human(console: Console) -> None:
            for c in checks:
                state = f"broken at {c.broken.sk}" if c.broken else "intact"
                console.print(f"{c.partition}: {c.records} records, chain {state}")

        broken = [c for c in checks if c.broken]
        code = ExitCode.FAILED if broken else ExitCode.OK
        out.result(checks, human, code=code)
        if broken and not out.as_json:
            for c in broken:
                assert c.broken is not None
                out.error(LedgerBrokenError(f"{c.partition} {c.broken.sk}: {c.broken.reason}."))
        return code

    run_in(ctx, env, action)


def unlock(
    ctx: typer.Context,
    env: EnvArg,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    state_lock: Annotated[
        str | None,
        typer.Option(
            "--state-lock",
            metavar="LOCK_ID",
            help="Release the environment's OpenTofu state lock with this id (left by a run "
            "that died), instead of the deploy lease.",
        ),
    ] = None,
) -> None:
    """Release a stale deploy lease (or with --state-lock, a dead run's OpenTofu state lock),
    after showing who held it."""

    def action(environment: EnvironmentContext, out: Renderer) -> None:
        from smartstack.pipeline import promotion

        if state_lock is not None:
            _unlock_state(environment, out, state_lock, yes)
            return
        lease = promotion.current_lease(environment)
        if lease is None:
            raise UsageError(f"{env} has no lease to release.")
        out.progress(
            f"{env} is leased by {lease.holder} since {lease.acquired} (attempt {lease.attempt_id})"
        )
        if not yes and not typer.confirm("Release it?", err=True):
            raise UsageError("not released; nothing changed.")
        released = promotion.unlock(environment, lease.attempt_id)
        out.result(released, lambda c: c.print(f"released {env}'s lease held by {released.holder}"))

    run_in(ctx, env, action)


def _unlock_state(environment: EnvironmentContext, out: Renderer, lock_id: str, yes: bool) -> None:
    from smartstack.infra import state_lock

    env = environment.name
    held = state_lock.state_lock(environment.settings, env, environment.target)
    if held is None:
        raise UsageError(f"{env}'s state is not locked; nothing to release.")
    out.progress(held.describe())
    if held.lock_id != lock_id:
        raise UsageError(f"that lock is {held.lock_id}, not {lock_id}; nothing released.")
    if not yes and not typer.confirm("Is that run dead? Release its lock?", err=True):
        raise UsageError("not released; nothing changed.")
    released = state_lock.release_state_lock(environment.settings, env, environment.target, lock_id)
    out.result(
        released,
        lambda c: c.print(f"released {env}'s state lock {lock_id} held by {released.who}"),
    )


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy_command)
    for command in (approve, rollback, history, status, unlock):
        app.command()(command)
    app.command("verify-ledger")(verify_ledger)
