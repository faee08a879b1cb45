"""``smartstack bootstrap | plan | apply | up``: the state backend and the stacks."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from smartstack.cli.context import run
from smartstack.cli.output import Renderer
from smartstack.cli.render import render_bootstrap, render_stacks
from smartstack.core.config import Settings

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


def up(ctx: typer.Context) -> None:
    """The main job: start the local platform, bootstrap the backend, apply every stack."""

    def action(settings: Settings, out: Renderer) -> None:
        from smartstack.local.provision import main_job

        result = main_job(settings, out.progress)

        def human(console: Console) -> None:
            render_bootstrap(console, result.local.backend)
            render_stacks(console, result.stacks)

        out.result(result, human)

    run(ctx, action)


def register(app: typer.Typer) -> None:
    for command in (bootstrap, plan, apply, up):
        app.command()(command)
