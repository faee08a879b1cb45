"""``smartstack bootstrap | plan | apply | up``: the state backend and the stacks."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from smartstack.cli.context import run
from smartstack.cli.output import Renderer
from smartstack.cli.render import render_bootstrap, render_stacks
from smartstack.config import Settings
from smartstack.environments import environment_names
from smartstack.provision import bootstrap_backend, main_job
from smartstack.stack import apply_environment, plan_environment

EnvArg = Annotated[str, typer.Argument(help="Environment: a file name in infrastructure/configs.")]


def bootstrap(ctx: typer.Context) -> None:
    """Create or reconcile the S3 state bucket, its KMS key and the DynamoDB lock table."""

    def action(settings: Settings, out: Renderer) -> None:
        with out.step("reconciling the state backend"):
            report = bootstrap_backend(settings)
        out.result(report, lambda console: render_bootstrap(console, report))

    run(ctx, action)


def plan(ctx: typer.Context, env: EnvArg) -> None:
    """Show what applying an environment's stack would add, change and destroy."""

    def action(settings: Settings, out: Renderer) -> None:
        with out.step(f"planning {env}"):
            _, summary = plan_environment(settings, env)
        out.result(summary, lambda console: console.print(f"{env}: {summary.describe()}"))

    run(ctx, action)


def apply(
    ctx: typer.Context,
    env: Annotated[str, typer.Argument(help="Environment, or 'all' for every one in order.")],
) -> None:
    """Plan an environment's stack and apply exactly that saved plan."""

    def action(settings: Settings, out: Renderer) -> None:
        envs = environment_names(settings.configs_dir) if env == "all" else (env,)
        results = []
        for name in envs:
            with out.step(f"applying {name}"):
                results.append(apply_environment(settings, name))
        out.result(results, lambda console: render_stacks(console, results))

    run(ctx, action)


def up(ctx: typer.Context) -> None:
    """The main job: start the local platform, bootstrap the backend, apply every stack."""

    def action(settings: Settings, out: Renderer) -> None:
        result = main_job(settings, out.progress)

        def human(console: Console) -> None:
            render_bootstrap(console, result.local.backend)
            render_stacks(console, result.stacks)

        out.result(result, human)

    run(ctx, action)


def register(app: typer.Typer) -> None:
    for command in (bootstrap, plan, apply, up):
        app.command()(command)
