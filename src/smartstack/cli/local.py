"""``smartstack local up | down | status | env | snapshot``."""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from smartstack.cli.context import run
from smartstack.cli.output import Renderer
from smartstack.cli.render import render_bootstrap
from smartstack.core.config import IAM_OFF, Settings
from smartstack.core.errors import ExitCode, UsageError

if TYPE_CHECKING:  # heavy (boto3 and friends): imported when a command runs
    from smartstack.local.platform import PlatformStatus
    from smartstack.local.snapshots import Snapshot

_SHELL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # what `export` may name

app = typer.Typer(
    rich_markup_mode=None,
    help="The local platform: a local AWS (moto server) and PostgreSQL.",
    no_args_is_help=True,
)
snapshot_app = typer.Typer(
    rich_markup_mode=None,
    help="The local platform at one point in time: the local AWS (the OpenTofu state with "
    "it) and PostgreSQL's data, saved and loaded together.",
    no_args_is_help=True,
)
app.add_typer(snapshot_app, name="snapshot")
NameArgument = Annotated[str, typer.Argument(help="The snapshot's name (letters, digits, . _ -).")]


IamOption = Annotated[
    Optional[bool],  # noqa: UP045 - Typer needs Optional at runtime
    typer.Option(
        "--iam-enforcement/--no-iam-enforcement",
        help="Authorize every request to the local AWS as AWS would; --no-iam-enforcement "
        "allows everything, for debugging only. Without either: SMARTSTACK_IAM_ENFORCEMENT "
        "(enforce, audit, off), else on.",
        show_default=False,
    ),
]


def iam_choice(settings: Settings, enforce: bool | None, out: Renderer) -> Settings:
    """The settings with the enforcement the flag chose, else the variable's, else on;
    says loudly when it is off."""
    from dataclasses import replace

    from smartstack.core.config import IAM_ENFORCE

    if enforce is not None:
        settings = replace(settings, iam_enforcement=IAM_ENFORCE if enforce else IAM_OFF)
    elif settings.iam_enforcement is None:
        settings = replace(settings, iam_enforcement=IAM_ENFORCE)
    if settings.iam_enforcement == IAM_OFF:
        out.err.print(
            "[bold yellow]warning:[/] IAM enforcement is OFF: the local AWS allows every "
            "request, so a call the roles would be refused on AWS passes here. For debugging "
            "only; `smartstack local up --iam-enforcement` turns it back on.",
            markup=True,
        )
    return settings


def _iam_line(status: PlatformStatus) -> str:
    mode = status.iam_enforcement
    if mode is None:
        return "IAM enforcement: - (the local AWS is not running)"
    if mode == IAM_OFF:
        return "IAM enforcement: [bold yellow]OFF[/] (every request allowed)"
    return f"IAM enforcement: {mode}"


def _status_table(status: PlatformStatus) -> Table:
    table = Table("component", "state", "pid", "address", caption=_iam_line(status))
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
def up(ctx: typer.Context, enforce: IamOption = None) -> None:
    """Start the local AWS and PostgreSQL (idempotent) and bootstrap the state backend.

    The local AWS keeps its resources on disk across restarts (SMARTSTACK_AWS_PERSISTENCE=off:
    in memory only). A running one with another IAM enforcement mode than the one asked
    for is restarted.
    """

    def action(settings: Settings, out: Renderer) -> None:
        from smartstack.local.provision import local_up

        settings = iam_choice(settings, enforce, out)
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
    """Stop the processes `local up` started (by PID file) and nothing else.

    The local AWS writes its state to disk as it stops; the next `local up` has every
    resource back. --purge deletes it, and PostgreSQL's data.
    """

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
        for name in variables:
            if not _SHELL_NAME.match(name):
                raise UsageError(
                    f"{settings.endpoints_file} names {name!r}, not a variable; run "
                    "`smartstack local up` to write it again."
                )
        exports = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in variables.items())
        out.result(variables, lambda console: console.print(exports, markup=False))

    run(ctx, action)


def _snapshot_line(snapshot: Snapshot) -> str:
    took = f" in {snapshot.seconds:.1f} s" if snapshot.seconds else ""
    return (f"{snapshot.name}: {snapshot.size_bytes / 1e6:.1f} MB, taken {snapshot.created}"
            f"{took} ({snapshot.path})")  # fmt: skip


@snapshot_app.command("save")
def snapshot_save(
    ctx: typer.Context,
    name: NameArgument,
    replace_existing: Annotated[
        bool, typer.Option("--replace", help="Overwrite a snapshot of that name.")
    ] = False,
) -> None:
    """Save the local platform as NAME (it is stopped meanwhile and started again)."""

    def action(settings: Settings, out: Renderer) -> None:
        from smartstack.local import snapshots

        with out.step(f"saving snapshot {name}"):
            saved = snapshots.save(settings, name, replace_existing=replace_existing)
        out.result(saved, lambda console: console.print(_snapshot_line(saved), markup=False))

    run(ctx, action)


@snapshot_app.command("load")
def snapshot_load(ctx: typer.Context, name: NameArgument) -> None:
    """Put the local platform back to snapshot NAME: whatever was made since is gone."""

    def action(settings: Settings, out: Renderer) -> None:
        from smartstack.local import snapshots

        with out.step(f"loading snapshot {name}"):
            loaded = snapshots.load(settings, name)
        out.result(loaded, lambda console: console.print(_snapshot_line(loaded), markup=False))

    run(ctx, action)


@snapshot_app.command("list")
def snapshot_list(ctx: typer.Context) -> None:
    """The saved snapshots, with their sizes and times."""

    def action(settings: Settings, out: Renderer) -> None:
        from smartstack.local import snapshots

        found = snapshots.list_snapshots(settings)

        def human(console: Console) -> None:
            for snapshot in found:
                console.print(_snapshot_line(snapshot), markup=False)
            if not found:
                console.print("no snapshots; `smartstack local snapshot save NAME` takes one.")

        out.result(found, human)

    run(ctx, action)


@snapshot_app.command("delete")
def snapshot_delete(ctx: typer.Context, name: NameArgument) -> None:
    """Delete snapshot NAME."""

    def action(settings: Settings, out: Renderer) -> None:
        from smartstack.local import snapshots

        deleted = snapshots.delete(settings, name)
        out.result(deleted, lambda console: console.print(f"deleted snapshot {deleted.name}"))

    run(ctx, action)
