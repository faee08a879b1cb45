"""The inputs the runner offers an environment's stack: the placeholder package, the
service table's handlers and runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2
import pytest

from smartstack.core.services import ARCHITECTURE, RUNTIME, SERVICES
from smartstack.infra.stack import declared_variables
from smartstack.infra.stack_inputs import placeholder_files, service_variables
from tests.conftest import ROOT

INFRA = ROOT / "infrastructure"


def test_the_placeholder_package_answers_at_every_handler() -> None:
    files = placeholder_files(("smartstack_api.handler.handler", "pkg.sub.mod.entry"))

    assert set(files) == {
        "smartstack_api/__init__.py",
        "smartstack_api/handler.py",
        "pkg/__init__.py",
        "pkg/sub/__init__.py",
        "pkg/sub/mod.py",
    }
    assert "def handler(event, context)" in files["smartstack_api/handler.py"]
    assert "def entry(event, context)" in files["pkg/sub/mod.py"]


# --- the runtime: one source, the service table ---------------------------------------------


def _variables(path: Path) -> dict[str, dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        blocks = hcl2.load(handle).get("variable", [])
    return {name.strip('"'): body for block in blocks for name, body in block.items()}


def _text(value: object) -> str:
    return str(value).strip('"')


def test_the_stack_gets_the_handlers_and_the_runtime_from_the_service_table() -> None:
    offered = service_variables()

    assert offered["lambda_runtime"] == RUNTIME
    assert offered["api_handler"] == "smartstack_api.handler.handler"
    assert {offered[f"{s.name.replace('-', '_')}_handler"] for s in SERVICES} == {
        s.handler for s in SERVICES
    }
    declared = declared_variables(INFRA)
    assert {"lambda_runtime", "api_handler", "ai_processor_handler"} <= declared
    # No architecture variable yet: the functions get Lambda's default, which must be the table's.
    assert "lambda_architecture" in declared or ARCHITECTURE == "x86_64"


def test_the_runtime_default_of_the_stack_is_the_service_tables() -> None:
    """tofu validate and checkov read the default; a plan gets the table's value offered."""
    variable = _variables(INFRA / "variables.tf")["lambda_runtime"]

    assert _text(variable.get("default", RUNTIME)) == RUNTIME
    for validation in variable.get("validation", []):
        assert f'"{RUNTIME}"' in str(validation["condition"]), "the validation allows it"


@pytest.mark.parametrize(
    "module", sorted(p.parent.name for p in (INFRA / "modules").glob("*/variables.tf"))
)
def test_no_module_defaults_to_another_runtime(module: str) -> None:
    variables = _variables(INFRA / "modules" / module / "variables.tf")

    for name in ("runtime", "lambda_runtime"):
        if name in variables and "default" in variables[name]:
            assert _text(variables[name]["default"]) == RUNTIME, f"{module}: var.{name}"
