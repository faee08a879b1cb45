"""``smartstack local up | down | status | env``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from smartstack.cli.context import run
from smartstack.cli.output import Renderer
from smartstack.cli.render import render_bootstrap
from smartstack.core.config import Settings
from smartstack.core.errors import ExitCode

if TYPE_CHECKING:  # heavy (boto3 and friends): imported when a command runs
    from smartstack.local.platform import PlatformStatus

app = typer.Typer(
    rich_markup_mode=None,
    help="The local platform: a local AWS (moto server) and PostgreSQL.", no_args_is_help=True
)


def _status_table(status: PlatformStatus) -> Table:
    table = Table("component", "state", "pid", "address")
    for c in status.components:
        state = (
            "[green]healthy[/]"
            if c.healthy
            else ("[yellow]unhealthy[/]" if c.running else "[red]stopped[/]")
        )
        if c.started:
            state += " (started)"
        table.add_row(c.name, state, str(c.pid or "-"), c.address)
    return table


@app.command()
def up(ctx: typer.Context) -> None:
    """Start the local AWS and PostgreSQL (idempotent) and bootstrap the state backend."""

    def action(settings: Settings, out: Renderer) -> None:
        from smartstack.local.provision import local_up

        with out.step("starting the local platform"):
            result = local_up(settings)

        def human(console: Console) -> None:
            console.print(_status_table(result.status))
            render_bootstrap(console, result.backend)
            console.print(f"endpoint settings: {settings.endpoints_file}")

        out.result(result, human)

    run(ctx, action)


@app.command()
def down(
    ctx: typer.Context,
    purge: Annotated[bool, typer.Option(help="Also delete the PostgreSQL data directory.")] = False,
) -> None:
    """Stop the processes `local up` started (by PID file) and nothing else."""

    def action(settings: Settings, out: Renderer) -> None:
        from smartstack.local import platform

        status = platform.down(settings, purge=purge)
        out.result(status, lambda console: console.print(_status_table(status)))

    run(ctx, action)


@app.command()
def status(ctx: typer.Context) -> None:
    """Report each component's health; exits 3 when one is not healthy."""

    def action(settings: Settings, out: Renderer) -> int:
        from smartstack.local import platform

        current = platform.status(settings)
        code = ExitCode.OK if current.healthy else ExitCode.NOT_RUNNING
        out.result(current, lambda console: console.print(_status_table(current)), code)
        return int(code)

    run(ctx, action)


@app.command("env")
def env_command(ctx: typer.Context) -> None:
    """Print the local AWS settings as shell exports: eval "$(smartstack local env)"."""

    def action(settings: Settings, out: Renderer) -> None:
        from smartstack.local import platform

        variables = platform.endpoint_variables(settings)
        out.result(
            variables,
            lambda console: console.print(
                "\n".join(f"export {k}={v}" for k, v in variables.items())
            ),
        )

    run(ctx, action)
