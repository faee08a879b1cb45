"""Write the input and output tables of every OpenTofu module README from its .tf files.

    .venv/bin/python scripts/tf_docs.py           # rewrite the tables
    .venv/bin/python scripts/tf_docs.py --check   # exit 1 when a README is out of date

A module is ``infrastructure/account`` or a directory of ``infrastructure/modules``.
The tables (terraform-docs style: name, type, default, description of each input;
name and description of each output) replace whatever sits between
``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->`` in its README.md; a README
without the markers gets them appended.  tests/infra/test_module_docs.py checks the
tables against the .tf files.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
REQUIRED = "n/a"
INFRASTRUCTURE = Path(__file__).resolve().parents[1] / "infrastructure"


@dataclass(frozen=True)
class Input:
    name: str
    type: str
    default_text: str  # the default as HCL, or REQUIRED
    description: str


@dataclass(frozen=True)
class Output:
    name: str
    description: str


def module_dirs(infrastructure: Path = INFRASTRUCTURE) -> list[Path]:
    """The account stack and every module, each a directory with .tf files."""
    candidates = [infrastructure / "account", *sorted((infrastructure / "modules").iterdir())]
    return [d for d in candidates if d.is_dir() and any(d.glob("*.tf"))]


def read_module(directory: Path) -> tuple[list[Input], list[Output]]:
    """Every variable and output declared in the directory's .tf files, sorted by name."""
    inputs: list[Input] = []
    outputs: list[Output] = []
    for path in sorted(directory.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            parsed = hcl2.load(handle)
        for block in parsed.get("variable", []):
            for name, body in block.items():
                inputs.append(
                    Input(
                        _unquote(name),
                        _expression(body.get("type", "any")),
                        _hcl(body["default"]) if "default" in body else REQUIRED,
                        _unquote(body.get("description", "")),
                    )
                )
        for block in parsed.get("output", []):
            for name, body in block.items():
                outputs.append(Output(_unquote(name), _unquote(body.get("description", ""))))
    return sorted(inputs, key=lambda i: i.name), sorted(outputs, key=lambda o: o.name)


def _unquote(value: str) -> str:
    """A quoted HCL string as python-hcl2 returns it, e.g. '"a \\"b\\""', as its text."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return str(json.loads(value))
        except ValueError:
            return value[1:-1]
    return value


def _expression(value: str) -> str:
    """python-hcl2 wraps expressions in ``${...}``; the HCL is what is inside."""
    return value[2:-1] if value.startswith("${") and value.endswith("}") else value


def _hcl(value: Any) -> str:
    """A default value as python-hcl2 returns it, written back as HCL."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return _expression(value)
    if isinstance(value, list):
        return "[" + ", ".join(_hcl(v) for v in value) + "]"
    if isinstance(value, dict):
        items = [f"{_unquote(k)} = {_hcl(v)}" for k, v in value.items() if k != "__is_block__"]
        return "{" + ", ".join(items) + "}"
    return str(value)


def _cell(text: str) -> str:
    """Plain text in a table cell: a bar would end the cell, a '<' start an HTML tag."""
    return text.replace("|", "\\|").replace("<", "\\<").replace("\n", " ")


def _code(text: str) -> str:
    """Code in a table cell: only a bar needs escaping (GFM splits cells first)."""
    return "`" + text.replace("|", "\\|").replace("\n", " ") + "`"


def render(inputs: list[Input], outputs: list[Output]) -> str:
    """The Markdown that goes between the markers (without them)."""
    lines = ["## Inputs", ""]
    if inputs:
        lines += ["| Name | Type | Default | Description |", "| --- | --- | --- | --- |"]
        for i in inputs:
            default = i.default_text if i.default_text == REQUIRED else _code(i.default_text)
            lines.append(
                f"| {_code(i.name)} | {_code(i.type)} | {default} | {_cell(i.description)} |"
            )
    else:
        lines.append("No inputs.")
    lines += ["", "## Outputs", ""]
    if outputs:
        lines += ["| Name | Description |", "| --- | --- |"]
        lines += [f"| {_code(o.name)} | {_cell(o.description)} |" for o in outputs]
    else:
        lines.append("No outputs.")
    return "\n".join(lines)


def rewritten(readme: str, tables: str) -> str:
    """The README with the block between the markers replaced (or appended)."""
    block = f"{BEGIN}\n{tables}\n{END}"
    begin, end = readme.find(BEGIN), readme.find(END)
    if 0 <= begin < end:
        return readme[:begin] + block + readme[end + len(END) :]
    return readme.rstrip("\n") + "\n\n" + block + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale: list[Path] = []
    for directory in module_dirs():
        readme = directory / "README.md"
        current = readme.read_text(encoding="utf-8") if readme.is_file() else ""
        wanted = rewritten(current, render(*read_module(directory)))
        if wanted != current:
            stale.append(readme)
            if not check:
                readme.write_text(wanted, encoding="utf-8")
    for readme in stale:
        relative = readme.relative_to(INFRASTRUCTURE.parent)
        print(f"{'out of date' if check else 'rewrote'}: {relative}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
