"""Everything the renderer prints passes the redactor, human output included."""

from __future__ import annotations

import pytest

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
