"""``smartstack build``: one release from a clean commit, the same bytes for every environment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from smartstack.cli.context import run
from smartstack.cli.output import Renderer
from smartstack.core.config import Settings

if TYPE_CHECKING:  # heavy (boto3 and friends): imported when a command runs
    from smartstack.release.make import ReleaseResult


def _render(console: Console, result: ReleaseResult) -> None:
    manifest = result.manifest
    console.print(
        f"release [bold]{manifest.release}[/] from commit {manifest.commit} "
        f"({manifest.created_from or 'detached'}) in {result.directory}"
    )
    table = Table("artifact", "sha256", "bytes")
    for artifact in manifest.artifacts:
        table.add_row(artifact.name, artifact.sha256, str(artifact.size))
    console.print(table)
    if result.bucket:
        console.print(f"published to {result.bucket}: {len(result.uploaded)} new object(s)")


def build(
    ctx: typer.Context,
    publish: Annotated[
        bool, typer.Option(help="Upload to the artifacts bucket (once per digest).")
    ] = False,
    allow_dirty: Annotated[
        bool, typer.Option(help="Build uncommitted changes (id ends in -dirty).")
    ] = False,
) -> None:
    """Build the Lambda artifacts and manifest of a release from a clean git commit."""

    def action(settings: Settings, out: Renderer) -> None:
        from smartstack.release.make import make_release

        with out.step("building the release"):
            result = make_release(settings, allow_dirty=allow_dirty, publish=publish)
        out.result(result, lambda console: _render(console, result))

    run(ctx, action)


def register(app: typer.Typer) -> None:
    app.command()(build)
