"""Per-invocation context: global options and the one error handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click
import typer

from smartstack.cli.output import Renderer
from smartstack.core.config import Settings, resolve_settings
from smartstack.core.errors import InternalError, SmartStackError
from smartstack.core.redact import Redactor

if TYPE_CHECKING:
    from smartstack.aws.environment import EnvironmentContext


@dataclass(frozen=True)
class Globals:
    """Global options, resolved into settings when a command runs."""

    as_json: bool
    target: str | None
    root: Path | None
    moto_port: int | None
    postgres_port: int | None
    redactor: Redactor = field(default_factory=Redactor)

    def settings(self) -> Settings:
        return resolve_settings(
            root=self.root,
            target=self.target,
            moto_port=self.moto_port,
            postgres_port=self.postgres_port,
        )

    def renderer(self) -> Renderer:
        return Renderer(self.as_json, self.redactor.redact)


def run(ctx: typer.Context, action: Callable[[Settings, Renderer], int | None]) -> None:
    """Run one command: known errors become one line on stderr and their exit code."""
    globals_: Globals = ctx.obj
    renderer = globals_.renderer()
    try:
        code = action(globals_.settings(), renderer)
    except SmartStackError as exc:
        renderer.error(exc)
        raise typer.Exit(int(exc.exit_code)) from None
    except (click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort):
        raise
    except Exception as exc:  # a bug: still one redacted line (or envelope), no traceback
        renderer.error(InternalError(f"internal error: {type(exc).__name__}: {exc}"))
        raise typer.Exit(int(InternalError.exit_code)) from None
    if code:
        raise typer.Exit(code)


def run_in(
    ctx: typer.Context,
    env: str,
    action: Callable[[EnvironmentContext, Renderer], int | None],
) -> None:
    """:func:`run` inside one environment, opened once with this invocation's redactor."""
    from smartstack.aws.environment import open_environment  # boto3: only when a command runs

    redactor = ctx.obj.redactor
    run(ctx, lambda settings, out: action(open_environment(settings, env, redactor), out))
