"""The placeholder package functions are created with, before any release."""

from __future__ import annotations

from smartstack.infra.stack_inputs import placeholder_files


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
