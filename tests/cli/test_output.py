"""Everything the renderer prints passes the redactor, human output included."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from smartstack.cli.context import Globals, run
from smartstack.cli.output import Renderer
from smartstack.core.errors import UsageError
from smartstack.core.redact import Redactor

SECRET = "s3cr3t-Value-42"


@pytest.fixture
def renderer() -> Renderer:
    redactor = Redactor()
    redactor.register(SECRET)
    return Renderer(as_json=False, redact=redactor.redact)


def test_human_results_progress_and_errors_are_masked(
    renderer: Renderer, capsys: pytest.CaptureFixture[str]
) -> None:
    renderer.result({"v": SECRET}, lambda console: console.print(f"value is {SECRET}"))
    renderer.progress(f"working on {SECRET}")
    renderer.error(UsageError(f"bad {SECRET}"))
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    assert out == "value is ****\n"
    assert "working on ****" in err and "bad ****" in err


def test_json_results_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    redactor = Redactor()
    redactor.register(SECRET)
    Renderer(as_json=True, redact=redactor.redact).result({"v": SECRET}, lambda c: None)
    out = capsys.readouterr().out
    assert SECRET not in out and '"v": "****"' in out


ESCAPED = 'pa"ss\\wörd-42'  # a quote, a backslash and non-ASCII: json.dumps escapes all three


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "human"])
def test_a_secret_that_json_escapes_is_masked_too(
    as_json: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    redactor = Redactor()
    redactor.register(ESCAPED)
    renderer = Renderer(as_json=as_json, redact=redactor.redact)

    renderer.result({"v": ESCAPED, ESCAPED: 1}, lambda console: console.print(ESCAPED))
    renderer.error(UsageError(f"bad {ESCAPED}"))

    out, err = capsys.readouterr()
    printed = out + err
    for form in (ESCAPED, json.dumps(ESCAPED)[1:-1], json.dumps(ESCAPED, ensure_ascii=False)[1:-1]):
        assert form not in printed
    assert "w\\u00f6rd" not in printed and "ss\\\\w" not in printed


def test_markup_in_a_message_is_printed_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    Renderer(as_json=False).error(UsageError("step detail [/x] and [bold]not bold[/bold]"))

    assert "step detail [/x] and [bold]not bold[/bold]" in capsys.readouterr().err


def _crashing_app(redactor: Redactor, exc: BaseException) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
        ctx.obj = Globals(as_json, None, None, None, None, redactor)

    @app.command()
    def crash(ctx: typer.Context) -> None:
        def action(settings: Any, out: Renderer) -> None:
            raise exc

        run(ctx, action)

    return app


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "human"])
def test_an_unexpected_error_is_one_redacted_line_and_an_envelope(as_json: bool) -> None:
    redactor = Redactor()
    redactor.register(SECRET)
    app = _crashing_app(redactor, KeyError(f"no {SECRET} here"))

    result = CliRunner().invoke(app, ["--json", "crash"] if as_json else ["crash"])

    assert result.exit_code == 1
    printed = result.stdout + result.stderr
    assert SECRET not in printed and "Traceback" not in printed
    if as_json:
        envelope = json.loads(result.stdout)
        assert (envelope["status"], envelope["errors"][0]["code"]) == ("error", "internal_error")
    else:
        assert "internal error: KeyError" in result.stderr
