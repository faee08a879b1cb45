"""Human renderings shared by several commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # heavy (boto3 and friends): imported when a command runs
    from smartstack.infra.stack import StackResult
    from smartstack.infra.state_backend import BootstrapReport


def render_bootstrap(console: Console, report: BootstrapReport) -> None:
    layout = report.layout
    console.print(
        f"state bucket [bold]{layout.bucket}[/], lock table [bold]{layout.lock_table}[/], "
        f"key {layout.kms_alias}"
    )
    if not report.changes:
        console.print("state backend: in place, nothing to change")
    for skipped in report.skipped:
        console.print(f"  [dim]not applied[/] {skipped}")
    for change in report.changes:
        colour = "green" if change.action == "created" else "yellow"
        console.print(f"  [{colour}]{change.action}[/] {change.resource}: {change.detail}")


def render_stacks(console: Console, results: tuple[StackResult, ...] | list[StackResult]) -> None:
    table = Table("stack", "plan", "applied", "seconds")
    for r in results:
        table.add_row(r.stack, r.plan.describe(), "yes" if r.applied else "no", f"{r.seconds:.1f}")
    console.print(table)
