"""Import and export formats: dotenv and JSON.

* dotenv holds environment-variable names (``DB_PASSWORD=...``), so an export
  can be sourced or handed to ``docker --env-file``; names map back to keys by
  the one rule in :mod:`smartstack.secrets.keys`.
* JSON is one object of keys to strings (``{"db-password": "..."}``).

Parse errors name the file, line and key, never a value: they are printed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

from smartstack.core.errors import SmartStackError
from smartstack.secrets.errors import InvalidSecretsFileError
from smartstack.secrets.keys import check_key, check_value, env_var_name, key_from_env_var

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$", "`": "`"}
_QUOTE = {v: k for k, v in _ESCAPES.items()}


class Format(StrEnum):
    DOTENV = "dotenv"
    JSON = "json"


def format_for(path: Path, explicit: Format | None) -> Format:
    """The explicit format, else ``.json`` files are JSON and anything else dotenv."""
    if explicit is not None:
        return explicit
    return Format.JSON if path.suffix.lower() == ".json" else Format.DOTENV


def render(values: dict[str, str], fmt: Format) -> str:
    """Serialise key -> value pairs; :func:`parse` reads the result back unchanged."""
    if fmt is Format.JSON:
        return json.dumps(dict(sorted(values.items())), indent=2) + "\n"
    lines = [f'{env_var_name(k)}="{_quote(v)}"' for k, v in sorted(values.items())]
    return "".join(line + "\n" for line in lines)


def parse(text: str, fmt: Format, source: str) -> dict[str, str]:
    """Key -> value pairs from a file's text, all validated; any problem raises."""
    try:
        pairs = _parse_json(text, source) if fmt is Format.JSON else _parse_dotenv(text, source)
        for key, value in pairs.items():
            check_value(key, value)
        if not pairs:
            raise InvalidSecretsFileError(f"{source}: no secrets found.")
    except SmartStackError as exc:
        message = exc.message if exc.message.startswith(source) else f"{source}: {exc.message}"
        raise InvalidSecretsFileError(f"{message} Nothing was changed.") from None
    return pairs


def _quote(value: str) -> str:
    return "".join("\\" + _QUOTE[c] if c in _QUOTE else c for c in value)


def _unquote(raw: str, where: str) -> str:
    if raw.startswith("'"):
        if len(raw) < 2 or not raw.endswith("'"):
            raise InvalidSecretsFileError(f"{where}: unterminated single quote.")
        return raw[1:-1]
    if not raw.startswith('"'):
        return raw
    out: list[str] = []
    i = 1
    while i < len(raw):
        c = raw[i]
        if c == '"':
            if raw[i + 1 :].strip():
                raise InvalidSecretsFileError(f"{where}: text after the closing quote.")
            return "".join(out)
        if c == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    raise InvalidSecretsFileError(f"{where}: unterminated double quote.")


def _parse_dotenv(text: str, source: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = f"{source}, line {number}"
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :].lstrip()
        name, sep, raw = stripped.partition("=")
        if not sep:
            raise InvalidSecretsFileError(f"{where}: expected NAME=value.")
        key = _key(key_from_env_var, name.strip(), where)
        if key in pairs:
            raise InvalidSecretsFileError(f"{where}: {name.strip()} appears twice.")
        pairs[key] = _unquote(raw.strip(), where)
    return pairs


def _parse_json(text: str, source: str) -> dict[str, str]:
    try:
        data = json.loads(text, object_pairs_hook=lambda items: _unique(items, source))
    except json.JSONDecodeError as exc:
        raise InvalidSecretsFileError(
            f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno})."
        ) from None
    if not isinstance(data, dict):
        raise InvalidSecretsFileError(f"{source}: expected one JSON object of key to string.")
    pairs: dict[str, str] = {}
    for key, value in data.items():
        _key(check_key, key, source)
        if not isinstance(value, str):
            raise InvalidSecretsFileError(
                f"{source}: the value of '{key}' is a JSON {type(value).__name__}; "
                "secrets must be strings."
            )
        pairs[key] = value
    return pairs


def _unique(items: list[tuple[str, Any]], source: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in items:
        if key in seen:
            raise InvalidSecretsFileError(f"{source}: '{key[:80]}' appears twice.")
        seen[key] = value
    return seen


def _key(check: Callable[[str], str], name: str, where: str) -> str:
    try:
        return str(check(name))
    except SmartStackError as exc:
        raise InvalidSecretsFileError(f"{where}: {exc.message}") from None
