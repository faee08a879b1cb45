"""Each module README's input and output tables agree with its variables and outputs.

The tables sit between ``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->`` and
are written by ``scripts/tf_docs.py``; the ``.tf`` files are read with python-hcl2.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT

FIX = "run `.venv/bin/python scripts/tf_docs.py` to rewrite the tables"


def _load_tf_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tf_docs", ROOT / "scripts" / "tf_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


tf_docs = _load_tf_docs()
MODULES = tf_docs.module_dirs(ROOT / "infrastructure")


def _cells(row: str) -> list[str]:
    """The cells of one Markdown table row; ``\\|`` is a literal bar."""
    inner = row.strip().removeprefix("|").removesuffix("|")
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def _code(cell: str) -> str:
    return cell[1:-1] if len(cell) >= 2 and cell[0] == cell[-1] == "`" else cell


def _text(cell: str) -> str:
    """A description cell as text (``\\<`` keeps a '<' from starting an HTML tag)."""
    return cell.replace("\\<", "<")


def _table(block: str, heading: str) -> list[list[str]]:
    """Rows (without header and separator) of the table under ``## <heading>``."""
    section = re.search(rf"^## {heading}\n(.*?)(?=^## |\Z)", block, re.S | re.M)
    assert section is not None, f"no '## {heading}' section between the markers; {FIX}"
    rows = [line for line in section.group(1).splitlines() if line.startswith("|")]
    return [_cells(r) for r in rows[2:]]


def _documented(readme: Path) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    text = readme.read_text(encoding="utf-8")
    begin, end = text.find(tf_docs.BEGIN), text.find(tf_docs.END)
    assert 0 <= begin < end, f"{readme}: no {tf_docs.BEGIN} ... {tf_docs.END} block; {FIX}"
    block = text[begin + len(tf_docs.BEGIN) : end]
    inputs = {
        _code(r[0]): (_code(r[1]), _code(r[2]), _text(r[3]))
        for r in _table(block, "Inputs")
        if len(r) == 4
    }
    outputs = {_code(r[0]): (_text(r[1]),) for r in _table(block, "Outputs") if len(r) == 2}
    return inputs, outputs


def _differences(kind: str, declared: dict[str, tuple[str, ...]],
                 documented: dict[str, tuple[str, ...]]) -> list[str]:  # fmt: skip
    problems = [f"{kind} {n}: missing from the README" for n in declared.keys() - documented]
    problems += [
        f"{kind} {n}: in the README but not declared" for n in documented.keys() - declared
    ]
    for name in sorted(declared.keys() & documented):
        if declared[name] != documented[name]:
            problems.append(
                f"{kind} {name}: README says {documented[name]}, the .tf says {declared[name]}"
            )
    return sorted(problems)


def test_every_module_has_a_readme() -> None:
    names = {d.name for d in MODULES}
    assert {"account", "storage", "compute", "ai-services", "lambda-function"} <= names
    assert all((d / "README.md").is_file() for d in MODULES)


@pytest.mark.parametrize("directory", MODULES, ids=lambda d: d.name)
def test_readme_tables_match_the_module(directory: Path) -> None:
    inputs, outputs = tf_docs.read_module(directory)
    declared_inputs = {i.name: (i.type, i.default_text, i.description) for i in inputs}
    declared_outputs = {o.name: (o.description,) for o in outputs}
    documented_inputs, documented_outputs = _documented(directory / "README.md")
    problems = _differences("input", declared_inputs, documented_inputs)
    problems += _differences("output", declared_outputs, documented_outputs)
    assert not problems, f"{directory / 'README.md'} disagrees with its .tf files ({FIX}):\n" + (
        "\n".join(problems)
    )
