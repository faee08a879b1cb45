from __future__ import annotations

from pathlib import Path

import pytest

from smartstack.core.environments import environment_names, load_environment
from smartstack.core.errors import ConfigError, UsageError

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "infrastructure" / "configs"


def test_the_repository_configs_follow_the_adr() -> None:
    retention = {
        e: load_environment(CONFIGS, e).log_retention_days for e in ("dev", "staging", "prod")
    }
    assert retention == {"dev": 7, "staging": 14, "prod": 30}
    assert environment_names(CONFIGS) == ("dev", "staging", "prod")


def _write(dir_: Path, name: str, body: str) -> None:
    (dir_ / f"{name}.tfvars").write_text(body)


def test_unknown_environment_lists_the_known_ones(tmp_path: Path) -> None:
    _write(tmp_path, "dev", 'environment = "dev"\nlog_retention_days = 7\n')
    with pytest.raises(UsageError, match="unknown environment 'qa': known environments are dev"):
        load_environment(tmp_path, "qa")


def test_invalid_retention_is_rejected_with_the_allowed_values(tmp_path: Path) -> None:
    _write(tmp_path, "dev", 'environment = "dev"\nlog_retention_days = 8\n')
    with pytest.raises(ConfigError, match="log_retention_days = 8 is not a CloudWatch retention"):
        load_environment(tmp_path, "dev")


def test_environment_must_match_its_file(tmp_path: Path) -> None:
    _write(tmp_path, "dev", 'environment = "prod"\nlog_retention_days = 7\n')
    with pytest.raises(ConfigError, match="environment = 'prod' but the file is named for 'dev'"):
        load_environment(tmp_path, "dev")


def test_promotion_cycle_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, "aa", 'environment = "aa"\nlog_retention_days = 7\npromotes_from = "bb"\n')
    _write(tmp_path, "bb", 'environment = "bb"\nlog_retention_days = 7\npromotes_from = "aa"\n')
    with pytest.raises(ConfigError, match="cycle"):
        environment_names(tmp_path)
