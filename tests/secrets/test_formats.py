"""dotenv and JSON: round trips, and errors that name lines and keys but never values."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartstack.secrets.errors import InvalidSecretsFileError
from smartstack.secrets.formats import Format, format_for, parse, render

NASTY = {
    "db-password": 'p@ss "quoted" \\ back $HOME `tick`',
    "multi-line": "line one\nline two\r\n\ttabbed",
    "single-quote": "it's here = too # not a comment",
    "unicode": "pässwörd-✓",
}


@pytest.mark.parametrize("fmt", list(Format))
def test_render_then_parse_round_trips(fmt: Format) -> None:
    assert parse(render(NASTY, fmt), fmt, "export") == NASTY


def test_dotenv_uses_variable_names() -> None:
    text = render({"db-password": "secret-1"}, Format.DOTENV)
    assert text == 'DB_PASSWORD="secret-1"\n'


def test_dotenv_accepts_comments_export_and_quote_styles() -> None:
    text = (
        "# comment\n\nexport API_KEY=plain-value\nJWT_SECRET='single $quoted'\n"
        'DB_PASSWORD="ab\\ncd"\n'
    )
    assert parse(text, Format.DOTENV, "f") == {
        "api-key": "plain-value",
        "jwt-secret": "single $quoted",
        "db-password": "ab\ncd",
    }


def test_format_follows_the_suffix_unless_given() -> None:
    assert format_for(Path("x.json"), None) is Format.JSON
    assert format_for(Path("x.env"), None) is Format.DOTENV
    assert format_for(Path("x.json"), Format.DOTENV) is Format.DOTENV


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("DB_PASSWORD=hunter2-secret\nnot a pair\n", Format.DOTENV, "line 2: expected NAME=value"),
        ("db-password=hunter2-secret\n", Format.DOTENV, "line 1: 'db-password' is not a secret"),
        ("DB_PASSWORD=hunter2-secret\nDB_PASSWORD=hunter2-other\n", Format.DOTENV, "twice"),
        ('DB_PASSWORD="hunter2-secret\n', Format.DOTENV, "unterminated double quote"),
        ("DB_PASSWORD=abc\n", Format.DOTENV, "shorter than 4"),
        ('{"db-password": "hunter2-secret",', Format.JSON, "not valid JSON"),
        ('["hunter2-secret"]', Format.JSON, "one JSON object"),
        ('{"../prod/x": "hunter2-secret"}', Format.JSON, "no '/' and no '..'"),
        ('{"db-password": 12345}', Format.JSON, "must be strings"),
        ('{"a-b": "hunter2-secret", "a-b": "hunter2-other"}', Format.JSON, "twice"),
        ("# nothing\n", Format.DOTENV, "no secrets found"),
    ],
)
def test_bad_files_are_refused_naming_the_place_not_the_value(
    text: str, fmt: Format, expected: str
) -> None:
    with pytest.raises(InvalidSecretsFileError) as info:
        parse(text, fmt, "secrets.txt")
    message = info.value.message
    assert expected in message
    assert message.startswith("secrets.txt")
    assert message.endswith("Nothing was changed.")
    assert "hunter2" not in message
