"""The ``smartstack`` command: global options, error handling, sub-commands."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Optional

import typer

from smartstack.cli.context import Globals

app = typer.Typer(
    rich_markup_mode=None,
    name="smartstack",
    help="Environments and deployments for SmartStack (ADR-007), locally or on AWS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main_options(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON envelope for scripts.")
    ] = False,
    target: Annotated[
        Optional[str],  # noqa: UP045 - Typer needs Optional at runtime
        typer.Option(help="local (the local platform) or aws; env SMARTSTACK_TARGET."),
    ] = None,
    root: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Checkout holding infrastructure/; env SMARTSTACK_ROOT."),
    ] = None,
    moto_port: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Port of the local AWS; env SMARTSTACK_MOTO_PORT (5010)."),
    ] = None,
    postgres_port: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Port of the local PostgreSQL; env SMARTSTACK_POSTGRES_PORT (5442)."),
    ] = None,
) -> None:
    ctx.obj = Globals(as_json, target, root, moto_port, postgres_port)


def _register() -> None:
    from smartstack.cli import deploy, iam, local, release, secrets, stack

    app.add_typer(local.app, name="local")
    app.add_typer(secrets.app, name="secrets")
    app.add_typer(iam.app, name="iam")
    stack.register(app)
    release.register(app)
    deploy.register(app)


_register()


def main() -> None:
    interrupt_on_signals()
    app()


def interrupt_on_signals() -> None:
    """SIGINT and SIGTERM (Ctrl-C, a cancelled CI job, `kill`) interrupt the command: OpenTofu
    is stopped gracefully, a deploy moves its aliases back and records the attempt.  SIGINT
    too, explicitly: a process started in the background by a shell inherits it ignored."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")
