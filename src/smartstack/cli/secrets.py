"""``smartstack secrets set | get | list | delete | history | diff | exec | import | export |
rotate``.

Thin adapters: parse arguments, call one function of :mod:`smartstack.secrets`,
render.  Values come from stdin or a hidden prompt, never from argv.  The
human renderers pass every string through the redactor themselves; a value is
printed only for ``get --reveal`` and ``export --stdout``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import click
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from smartstack.cli.context import Globals, run, run_in
from smartstack.cli.output import Renderer
from smartstack.core.config import Settings
from smartstack.core.errors import ExitCode
from smartstack.secrets.formats import Format
from smartstack.secrets.keys import check_key

if TYPE_CHECKING:  # the use-cases load boto3: imported when a command runs
    from smartstack.aws.environment import EnvironmentContext
    from smartstack.secrets.importing import ImportPlan
    from smartstack.secrets.store import SecretMetadata

app = typer.Typer(
    rich_markup_mode=None,
    help="Secrets per environment in Parameter Store (/smartstack/{env}/KEY).",
    no_args_is_help=True,
)

EnvArg = Annotated[str, typer.Argument(help="Environment: a file name in infrastructure/configs.")]
KeyArg = Annotated[str, typer.Argument(help="Key: a-z, 0-9 and '-', e.g. db-password.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
FormatOpt = Annotated[
    Optional[Format],  # noqa: UP045 - Typer needs Optional at runtime
    typer.Option("--format", help="dotenv (NAME=value) or json; import: default by suffix."),
]
OutputOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--output", "-o", help="File to write (mode 0600)."),
]
Printer = Callable[[Console], None]
LISTED = ("key", "version", "last change", "by")
VERSIONS = ("version", "last change", "by", "description")
_DONE = {"add": "added", "change": "changed", "delete": "deleted", "unchanged": "unchanged"}


def _globals(ctx: typer.Context) -> Globals:
    globals_: Globals = ctx.obj
    return globals_


def _confirm(question: str) -> bool:
    """Ask on stderr so stdout stays data; no answer (no terminal) means no."""
    try:
        return bool(click.confirm(question, default=False, err=True))
    except click.Abort:
        return False


def _read_value() -> str:
    """The value from a hidden prompt on a terminal, else stdin (one trailing newline dropped)."""
    if sys.stdin.isatty():
        return str(click.prompt("value", hide_input=True, confirmation_prompt=True, err=True))
    value = sys.stdin.read()
    return value[:-2] if value.endswith("\r\n") else value.removesuffix("\n")


def _table(out: Renderer, rows: list[SecretMetadata], columns: tuple[str, ...]) -> Printer:
    """A printer of metadata rows, every cell masked."""
    table = Table(*columns)
    for m in rows:
        cells = {
            "key": m.key,
            "version": str(m.version),
            "last change": m.last_modified,
            "by": m.modified_by,
            "description": m.description,
        }
        table.add_row(*(Text(out.redact(cells[c])) for c in columns))  # Text: no markup
    return lambda console: console.print(table)


def _fields(out: Renderer, m: SecretMetadata) -> Printer:
    """One secret as ``name: value`` lines (a table would wrap long ARNs)."""
    rows = [
        ("key", m.key),
        ("version", str(m.version)),
        ("last change", m.last_modified),
        ("by", m.modified_by),
        ("description", m.description or "-"),
    ]
    return _line(out, "\n".join(f"{name + ':':<13}{value}" for name, value in rows))


def _line(out: Renderer, text: str) -> Printer:
    return lambda console: console.print(out.redact(text), markup=False)


@app.command("set")
def set_command(
    ctx: typer.Context,
    env: EnvArg,
    key: KeyArg,
    description: Annotated[Optional[str], typer.Option(help="What the secret is for.")] = None,  # noqa: UP045
) -> None:
    """Store a secret (SecureString, the environment's KMS key); the value comes from stdin."""

    def action(environment: EnvironmentContext, out: Renderer) -> None:
        from smartstack.secrets import service

        check_key(key)  # before asking for the value
        change = service.set_secret(environment, key, _read_value(), description)
        out.result(change, _line(out, f"set {env}/{key}: version {change.version}"))

    run_in(ctx, env, action)


@app.command("rotate")
def rotate_command(ctx: typer.Context, env: EnvArg, key: KeyArg) -> None:
    """Rotate the database password: a new one (never shown) in Parameter Store and RDS, the
    services made to reconnect and smoke-checked, recorded in the ledger.

    `rotate db-password <env>` works too."""
    from smartstack.pipeline.rotation import ROTATABLE

    if env in ROTATABLE:  # keys have a '-', environment names never do
        env, key = key, env

    def action(environment: EnvironmentContext, out: Renderer) -> int:
        from smartstack.pipeline.rotation import rotate

        attempt = rotate(environment, key)

        def human(console: Console) -> None:
            for s in attempt.steps:
                console.print(f"{s.name:<10} {s.outcome:<9} {s.seconds:6.1f}s  {s.detail}")
            console.print(f"{env}/{key}: rotation {attempt.outcome} (attempt {attempt.attempt_id})")

        failed = attempt.outcome != "succeeded"
        out.result(attempt, human, code=ExitCode.FAILED if failed else ExitCode.OK)
        return ExitCode.FAILED if failed else ExitCode.OK

    run_in(ctx, env, action)


@app.command("get")
def get_command(
    ctx: typer.Context,
    env: EnvArg,
    key: KeyArg,
    reveal: Annotated[bool, typer.Option("--reveal", help="Print the value too.")] = False,
) -> None:
    """Show a secret's version, last change and author; the value only with --reveal."""

    def action(environment: EnvironmentContext, out: Renderer) -> None:
        from smartstack.secrets import service

        meta, secret = service.get_secret(environment, key, reveal)
        if secret is None:
            out.result(meta, _fields(out, meta))
            return
        # Asked for explicitly: this one result is not masked.
        plain = Renderer(out.as_json)
        data = {"metadata": meta, "value": secret.value}
        plain.result(data, lambda _: print(secret.value))

    run_in(ctx, env, action)


@app.command("list")
def list_command(ctx: typer.Context, env: EnvArg) -> None:
    """List keys with version and last change (no values)."""

    def action(environment: EnvironmentContext, out: Renderer) -> None:
        from smartstack.secrets import service

        found = service.list_secrets(environment)
        out.result(found, _table(out, found, LISTED))

    run_in(ctx, env, action)


@app.command("delete")
def delete_command(ctx: typer.Context, env: EnvArg, key: KeyArg, yes: YesOpt = False) -> None:
    """Delete a secret, after confirmation unless --yes."""

    def action(environment: EnvironmentContext, out: Renderer) -> None:
        from smartstack.secrets import service

        confirm = (lambda _: True) if yes else _confirm
        change = service.delete_secret(environment, key, confirm)
        out.result(change, _line(out, f"deleted {env}/{key} (was version {change.version})"))

    run_in(ctx, env, action)


@app.command("history")
def history_command(ctx: typer.Context, env: EnvArg, key: KeyArg) -> None:
    """List a secret's versions with who changed it and when (no values)."""

    def action(environment: EnvironmentContext, out: Renderer) -> None:
        from smartstack.secrets import service

        versions = service.secret_history(environment, key)
        out.result(versions, _table(out, versions, VERSIONS))

    run_in(ctx, env, action)


@app.command("diff")
def diff_command(ctx: typer.Context, env_a: EnvArg, env_b: EnvArg) -> None:
    """Keys present in one environment and missing in the other (never values); exit 7 if any."""
    redactor = _globals(ctx).redactor

    def action(settings: Settings, out: Renderer) -> int:
        from smartstack.aws.environment import open_environment
        from smartstack.secrets import service

        a = open_environment(settings, env_a, redactor)
        b = open_environment(settings, env_b, redactor)
        diff = service.diff_environments(a, b)

        def human(c: Console) -> None:
            for env, keys in ((env_b, diff.only_in_a), (env_a, diff.only_in_b)):
                c.print(
                    out.redact(f"missing in {env}: {', '.join(keys) if keys else 'none'}"),
                    markup=False,
                )
            c.print(f"in both: {diff.in_both}", markup=False)

        code = int(ExitCode.DRIFT) if diff.only_in_a or diff.only_in_b else 0
        out.result(diff, human, code)
        return code

    run(ctx, action)


@app.command("exec")
def exec_command(
    ctx: typer.Context,
    env: EnvArg,
    command: Annotated[Optional[list[str]], typer.Argument(help="The command, after --.")] = None,  # noqa: UP045
    allow_override: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--allow-override",
            metavar="NAME",
            help="Let a secret set this process-control variable (PATH, LD_PRELOAD, "
            "BASH_ENV, PYTHONPATH …), refused otherwise; repeatable.",
        ),
    ] = None,
) -> None:
    """Run a command with the environment's secrets as variables (db-password -> DB_PASSWORD)."""

    def action(environment: EnvironmentContext, out: Renderer) -> int:
        from smartstack.secrets import service

        return service.exec_with_secrets(
            environment, command or [], out.progress, allow_override or ()
        )

    run_in(ctx, env, action)


def _render_plan(out: Renderer, plan: ImportPlan) -> None:
    out.progress(f"import into {plan.env} from {plan.source}:")
    for change in plan.changes:
        out.progress(f"  {change.action.value:<9} {change.key}")
    from smartstack.secrets.importing import Action

    counts = ", ".join(f"{plan.count(a)} {a.value}" for a in Action)
    out.progress(f"plan: {counts}")


@app.command("import")
def import_command(
    ctx: typer.Context,
    env: EnvArg,
    file: Annotated[Path, typer.Argument(help="A dotenv (NAME=value) or .json file.")],
    fmt: FormatOpt = None,
    prune: Annotated[bool, typer.Option(help="Also delete keys the file does not have.")] = False,
    yes: YesOpt = False,
) -> None:
    """Import all secrets of a file or none: shows the plan, asks, rolls back on failure."""

    def action(environment: EnvironmentContext, out: Renderer) -> None:
        from smartstack.secrets.importing import Action, ImportOptions, import_file

        def confirm(plan: ImportPlan) -> bool:
            _render_plan(out, plan)
            return yes or _confirm(f"apply {len(plan.writes)} change(s) to {env}?")

        result = import_file(environment, file, ImportOptions(fmt, prune), confirm)
        plan = result.plan
        done = ", ".join(f"{plan.count(a)} {_DONE[a.value]}" for a in Action)
        line = (
            f"imported into {env}: {done}"
            if result.applied
            else f"{env} already matches {plan.source}; nothing to do"
        )
        out.result(result, _line(out, line))

    run_in(ctx, env, action)


@app.command("export")
def export_command(
    ctx: typer.Context,
    env: EnvArg,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    to_stdout: Annotated[bool, typer.Option("--stdout", help="Print the values instead.")] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing --output file.")] = False,
) -> None:
    """Export values to a file (--output FILE), or to stdout only with --stdout."""

    def action(environment: EnvironmentContext, out: Renderer) -> None:
        from smartstack.secrets import service

        service.check_export_target(env, output, to_stdout, force)
        chosen = fmt or Format.DOTENV
        result, text = service.export_secrets(environment, chosen, output)
        if to_stdout:
            sys.stdout.write(text)  # asked for explicitly: not masked
            return
        out.result(
            result,
            _line(out, f"exported {result.count} secret(s) of {env} to {output} ({chosen.value})"),
        )

    run_in(ctx, env, action)
