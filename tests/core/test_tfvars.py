from __future__ import annotations

from pathlib import Path

import pytest

from smartstack.core.errors import ConfigError
from smartstack.core.tfvars import read_tfvars


def test_values_come_back_plain(tmp_path: Path) -> None:
    path = tmp_path / "dev.tfvars"
    path.write_text('environment = "dev"\n# comment\nlog_retention_days = 7\ntags = { a = "b" }\n')
    assert read_tfvars(path) == {"environment": "dev", "log_retention_days": 7, "tags": {"a": "b"}}


def test_duplicate_key_names_file_and_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "dev.tfvars"
    path.write_text('environment = "dev"\nlog_retention_days = 7\nlog_retention_days = 14\n')
    with pytest.raises(ConfigError) as info:
        read_tfvars(path)
    assert str(info.value) == (
        f"{path}:3: 'log_retention_days' is set twice (first on line 2); keep one of them."
    )


def test_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "dev.tfvars"
    path.write_text('environment = "dev"\nlog_retention_days = \n')
    with pytest.raises(ConfigError, match=rf"^{path}:2:\d+: syntax error"):
        read_tfvars(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_tfvars(tmp_path / "nope.tfvars")
