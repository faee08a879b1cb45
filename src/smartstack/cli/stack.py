"""``smartstack bootstrap | plan | apply | up``: the state backend and the stacks."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from smartstack.cli.context import run
from smartstack.cli.local import IamOption, iam_choice
from smartstack.cli.output import Renderer
from smartstack.cli.render import render_bootstrap, render_stacks
from smartstack.core.config import Settings
from smartstack.core.errors import CommandFailedError, ExitCode

if TYPE_CHECKING:
    from smartstack.infra.stack import StackProgress

StackArg = Annotated[
    str,
    typer.Argument(help="account, or an environment (a tfvars file in infrastructure/configs)."),
]


def bootstrap(ctx: typer.Context) -> None:
    """Create or reconcile the S3 state bucket, its KMS key and the DynamoDB lock table."""

    def action(settings: Settings, out: Renderer) -> None:
        from smartstack.infra.state_backend import bootstrap_backend

        with out.step("reconciling the state backend"):
            report = bootstrap_backend(settings)
        out.result(report, lambda console: render_bootstrap(console, report))

    run(ctx, action)


def plan(ctx: typer.Context, env: StackArg) -> None:
    """Show what applying a stack would add, change and destroy."""

    def action(settings: Settings, out: Renderer) -> None:
        from smartstack.infra.stack import plan_stack

        with out.step(f"planning {env}"):
            _, summary = plan_stack(settings, env)
        out.result(summary, lambda console: console.print(f"{env}: {summary.describe()}"))

    run(ctx, action)


def apply(
    ctx: typer.Context,
    env: Annotated[str, typer.Argument(help="account, an environment, or 'all' (account first).")],
) -> None:
    """Plan a stack and apply exactly that saved plan."""

    def action(settings: Settings, out: Renderer) -> None:
        from smartstack.infra.stack import all_stacks, apply_stack

        stacks = all_stacks(settings) if env == "all" else (env,)
        results = []
        for name in stacks:
            with out.step(f"applying {name}"):
                results.append(apply_stack(settings, name))
        out.result(results, lambda console: render_stacks(console, results))

    run(ctx, action)


def up(
    ctx: typer.Context,
    serial: Annotated[
        bool, typer.Option("--serial", help="Apply the environments one after the other.")
    ] = False,
    enforce: IamOption = None,
) -> None:
    """The main job: start the local platform, bootstrap the backend, apply every stack.

    The environments are applied in parallel after the account stack, one progress
    line each; a failure in one is reported with its log while the others finish.
    """

    def action(settings: Settings, out: Renderer) -> int:
        from smartstack.local.provision import main_job

        settings = iam_choice(settings, enforce, out)
        board = ProgressBoard(out)
        result = main_job(settings, out.progress, board.update, serial=serial)

        def human(console: Console) -> None:
            render_bootstrap(console, result.local.backend)
            render_stacks(console, result.stacks)

        code = ExitCode.FAILED if result.failures else ExitCode.OK
        out.result(result, human, code=code)
        for failure in result.failures:
            out.error(CommandFailedError(f"{failure.stack}: {failure.error}"))
        return int(code)

    run(ctx, action)


class ProgressBoard:
    """One line per stack, printed when its phase changes or every tenth resource.

    Stacks report from several threads; lines are whole, never interleaved.
    """

    def __init__(self, out: Renderer) -> None:
        self.out = out
        self._lock = threading.Lock()
        self._shown: dict[str, tuple[str, int]] = {}

    def update(self, p: StackProgress) -> None:
        if self.out.as_json:
            return
        step = p.done // 10 if p.done < p.total else -1
        with self._lock:
            if self._shown.get(p.stack) == (p.phase, step):
                return
            self._shown[p.stack] = (p.phase, step)
            counts = f"{p.done}/{p.total} resources" if p.phase == "applying" else ""
            self.out.progress(f"  {p.stack:<8} {p.phase:<9} {counts:<16} {p.seconds:6.1f}s")


def register(app: typer.Typer) -> None:
    for command in (bootstrap, plan, apply, up):
        app.command()(command)
