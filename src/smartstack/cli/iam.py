"""``smartstack iam report``: least privilege, measured against the local AWS's record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from smartstack.cli.context import run
from smartstack.cli.output import Renderer
from smartstack.core.config import Settings

if TYPE_CHECKING:  # boto3 and the record: imported when a command runs
    from smartstack.local.iam.report import IamReport, RoleReport, StatementUse

app = typer.Typer(
    rich_markup_mode=None,
    help="The environment roles' IAM grants against what their sessions used.",
    no_args_is_help=True,
)

# One Action pattern that expanded to more unused actions than this is shown as the pattern.
_LISTED_PER_PATTERN = 5


@app.command("report")
def report(
    ctx: typer.Context,
    env: Annotated[
        Optional[str],  # noqa: UP045 - Typer needs Optional at runtime
        typer.Argument(help="Environment (a tfvars file in infrastructure/configs); all if none."),
    ] = None,
) -> None:
    """For each statement of smartstack-<env>-role's policies (as deployed in IAM): the
    actions it grants, which of them the role's sessions exercised and which never.

    The use is the local AWS's record of every call IAM enforcement allowed
    (iam-allowed.jsonl in its state directory, kept across restarts), so the local AWS
    must be running with enforcement on; --target aws is refused. A grant is exercised
    when a recorded call matches the statement's Action and Resource with IAM wildcards
    (* and ?; actions case-insensitive, resources case-sensitive). Conditions are
    ignored. Wildcard actions are expanded against the bundled service authorization
    reference (--json lists every expanded action; the table shortens long expansions
    to their pattern). NotAction statements show what was used through them; Deny
    statements grant nothing.
    """

    def action(settings: Settings, out: Renderer) -> None:
        from smartstack.local.iam.report import iam_report

        with out.step("reading the roles' policies and the record"):
            result = iam_report(settings, env)
        out.result(result, lambda console: _render(console, result))

    run(ctx, action)


def _render(console: Console, result: IamReport) -> None:
    for role in result.roles:
        if not role.found:
            console.print(
                f"{role.environment}: {role.role} is not in the local AWS "
                "(apply the account stack: `smartstack apply account`)",
                markup=False,
            )
            continue
        console.print(_table(role))
    console.print(f"Conditions are {result.conditions}. Record: {result.record}", markup=False)


def _table(role: RoleReport) -> Table:
    sessions = len(role.sessions)
    title = (
        f"{role.environment}: {role.role}: {role.exercised} of {role.granted} grants exercised "
        f"({sessions} session{'s' * (sessions != 1)}, {role.calls} calls recorded)"
    )
    several = len({s.policy for s in role.statements}) > 1
    table = Table("statement", "grants", "exercised", "never exercised", title=title)
    for statement in role.statements:
        name = f"{statement.policy}/{statement.sid}" if several else statement.sid
        notes = [statement.note] if statement.note else []
        if statement.conditional:
            notes.append("has conditions (ignored)")
        label = Text(name)
        for note in notes:
            label.append(f"\n{note}", style="dim")
        table.add_row(
            label,
            _granted(statement),
            Text("\n".join(statement.exercised) or "-"),
            Text("\n".join(_never(statement)) or "-"),
        )
    return table


def _granted(statement: StatementUse) -> str:
    if statement.effect != "Allow":
        return "-"
    if statement.not_action:
        return f"all but {len(statement.actions)}"
    return str(len(statement.grants))


def _never(statement: StatementUse) -> list[str]:
    """The unused grants; a pattern's expansion beyond a few becomes the pattern."""
    lines: list[str] = []
    for pattern in dict.fromkeys(g.pattern for g in statement.grants):
        grants = [g for g in statement.grants if g.pattern == pattern]
        unused = [g.action for g in grants if not g.exercised]
        if len(unused) > _LISTED_PER_PATTERN:
            lines.append(f"{pattern} ({len(unused)} of {len(grants)} actions)")
        else:
            lines += unused
    return lines
