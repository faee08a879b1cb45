from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from smartstack.core.environments import (
    RETENTION_DAYS_FILE,
    environment_names,
    load_environment,
    valid_retention_days,
)
from smartstack.core.errors import ConfigError, UsageError

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "infrastructure" / "configs"


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    """An infrastructure directory like the repository's: configs/ and the retention list."""
    shutil.copy(ROOT / "infrastructure" / RETENTION_DAYS_FILE, tmp_path)
    (tmp_path / "configs").mkdir()
    return tmp_path / "configs"


def test_the_repository_configs_follow_the_adr() -> None:
    retention = {
        e: load_environment(CONFIGS, e).log_retention_days for e in ("dev", "staging", "prod")
    }
    assert retention == {"dev": 7, "staging": 14, "prod": 30}
    assert environment_names(CONFIGS) == ("dev", "staging", "prod")


def _write(dir_: Path, name: str, body: str) -> None:
    (dir_ / f"{name}.tfvars").write_text(body)


def test_unknown_environment_lists_the_known_ones(configs: Path) -> None:
    _write(configs, "dev", 'environment = "dev"\nlog_retention_days = 7\n')
    with pytest.raises(UsageError, match="unknown environment 'qa': known environments are dev"):
        load_environment(configs, "qa")


def test_invalid_retention_is_rejected_with_the_allowed_values(configs: Path) -> None:
    _write(configs, "dev", 'environment = "dev"\nlog_retention_days = 8\n')
    with pytest.raises(ConfigError, match="log_retention_days = 8 is not a CloudWatch retention"):
        load_environment(configs, "dev")


def test_the_allowed_retentions_come_from_the_file_beside_configs(configs: Path) -> None:
    assert {7, 14, 30, 3653} <= valid_retention_days(ROOT / "infrastructure")
    (configs.parent / RETENTION_DAYS_FILE).write_text("[8]\n")
    _write(configs, "dev", 'environment = "dev"\nlog_retention_days = 8\n')
    assert load_environment(configs, "dev").log_retention_days == 8


def test_a_missing_retention_list_is_a_config_error(configs: Path) -> None:
    (configs.parent / RETENTION_DAYS_FILE).unlink()
    _write(configs, "dev", 'environment = "dev"\nlog_retention_days = 7\n')
    with pytest.raises(ConfigError, match="cannot read the allowed log retentions"):
        load_environment(configs, "dev")


def test_the_opentofu_validations_read_the_same_file() -> None:
    for variables in ("variables.tf", "modules/monitoring/variables.tf"):
        text = (ROOT / "infrastructure" / variables).read_text()
        assert f'{RETENTION_DAYS_FILE}")), var.log_retention_days)' in text, variables
        assert "3653" not in text, f"{variables} repeats the retention list"


def test_environment_must_match_its_file(configs: Path) -> None:
    _write(configs, "dev", 'environment = "prod"\nlog_retention_days = 7\n')
    with pytest.raises(ConfigError, match="environment = 'prod' but the file is named for 'dev'"):
        load_environment(configs, "dev")


def test_promotion_cycle_is_reported(configs: Path) -> None:
    _write(configs, "aa", 'environment = "aa"\nlog_retention_days = 7\npromotes_from = "bb"\n')
    _write(configs, "bb", 'environment = "bb"\nlog_retention_days = 7\npromotes_from = "aa"\n')
    with pytest.raises(ConfigError, match="cycle"):
        environment_names(configs)
