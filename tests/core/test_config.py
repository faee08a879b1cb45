from __future__ import annotations

from pathlib import Path

import pytest

from smartstack.core.config import DEFAULT_MOTO_PORT, resolve_settings
from smartstack.core.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]


def test_flag_beats_environment_beats_default() -> None:
    env = {"SMARTSTACK_ROOT": str(ROOT), "SMARTSTACK_MOTO_PORT": "6001", "HOME": "/h"}
    assert resolve_settings(environ=env).moto_port == 6001
    assert resolve_settings(moto_port=6002, environ=env).moto_port == 6002
    assert resolve_settings(environ={"SMARTSTACK_ROOT": str(ROOT)}).moto_port == DEFAULT_MOTO_PORT


def test_state_and_cache_default_under_home() -> None:
    settings = resolve_settings(environ={"SMARTSTACK_ROOT": str(ROOT), "HOME": "/h"})
    assert settings.state_dir == Path("/h/.local/state/smartstack")
    assert settings.cache_dir == Path("/h/.cache/smartstack")


@pytest.mark.parametrize("value", ["abc", "80", "70000"])
def test_bad_ports_are_refused(value: str) -> None:
    with pytest.raises(UsageError, match="port"):
        resolve_settings(environ={"SMARTSTACK_ROOT": str(ROOT), "SMARTSTACK_MOTO_PORT": value})


def test_unknown_target_is_refused() -> None:
    with pytest.raises(UsageError, match="unknown target 'gcp'"):
        resolve_settings(target="gcp", environ={"SMARTSTACK_ROOT": str(ROOT)})


def test_root_without_configs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="has no infrastructure/configs"):
        resolve_settings(root=tmp_path, environ={})
