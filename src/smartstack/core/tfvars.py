"""Read OpenTofu ``.tfvars`` files into plain Python values.

python-hcl2 silently keeps the last of two equal keys and raises lark parser
exceptions on syntax errors; this module turns both into a :class:`ConfigError`
that names the file and line, so a typo in a tfvars file reads like one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smartstack.core.errors import ConfigError
from smartstack.core.hcl import hcl2_exclusively


def read_tfvars(path: Path) -> dict[str, Any]:
    """Parse one tfvars file; strings come back without their quotes."""
    from lark.exceptions import UnexpectedInput

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror}).") from exc
    with hcl2_exclusively() as hcl2:
        try:
            tree = hcl2.parses_to_tree(text)
        except UnexpectedInput as exc:
            raise ConfigError(
                f"{path}:{exc.line}:{exc.column}: syntax error in tfvars; "
                "expected 'name = value' lines."
            ) from exc
        _reject_duplicate_keys(path, tree)
        options = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False)
        values: dict[str, Any] = hcl2.serialize(
            hcl2.transform(tree, discard_comments=True), serialization_options=options
        )
    return values


def _reject_duplicate_keys(path: Path, tree: Any) -> None:
    seen: dict[str, int] = {}
    body = tree.children[0]
    for node in body.children:
        if getattr(node, "data", None) != "attribute":
            continue
        name = str(node.children[0].children[0])
        line = node.meta.line
        if name in seen:
            raise ConfigError(
                f"{path}:{line}: '{name}' is set twice (first on line {seen[name]}); "
                "keep one of them."
            )
        seen[name] = line
