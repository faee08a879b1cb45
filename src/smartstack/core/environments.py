"""Per-environment settings, read from ``infrastructure/configs/<env>.tfvars``.

The tfvars files are the single source of truth: OpenTofu applies them and
Python reads the very same files, so a retention or a promotion rule is never
written twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartstack.core.errors import ConfigError, UsageError
from smartstack.core.naming import ACCOUNT_STACK, check_environment_name
from smartstack.core.tfvars import read_tfvars

# The retentions CloudWatch Logs accepts (the local AWS accepts any number), kept
# once for OpenTofu's variable validations and for Python: a JSON list of days in
# <infrastructure>/log-retention-days.json, beside configs/ (and shipped with it in
# a release's infrastructure zip).
RETENTION_DAYS_FILE = "log-retention-days.json"


def valid_retention_days(infrastructure_dir: Path) -> frozenset[int]:
    """The log retentions in days that ``log_retention_days`` may take."""
    path = infrastructure_dir / RETENTION_DAYS_FILE
    try:
        days = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the allowed log retentions: {exc}") from exc
    if not isinstance(days, list) or not all(type(d) is int for d in days):
        raise ConfigError(f"{path}: must be a JSON list of whole days, e.g. [1, 3, 7].")
    return frozenset(days)


@dataclass(frozen=True)
class EnvironmentConfig:
    """The validated part of one environment's tfvars that Python acts on."""

    name: str
    log_retention_days: int
    promotes_from: str | None
    tfvars_path: Path
    require_approval: bool = False
    approver_must_differ: bool = False
    deploy_branch: str = "main"
    protect_from_destroy: bool = False


def environment_names(configs_dir: Path) -> tuple[str, ...]:
    """Environments in promotion order (dev before staging before prod)."""
    configs = [load_environment(configs_dir, name) for name in _config_names(configs_dir)]
    ordered: list[str] = []
    remaining = {c.name: c for c in configs}
    while remaining:
        ready = [
            n for n, c in remaining.items() if c.promotes_from is None or c.promotes_from in ordered
        ]
        if not ready:
            raise ConfigError(
                f"{configs_dir}: promotes_from forms a cycle among {sorted(remaining)}; "
                "one environment must promote from none."
            )
        for name in sorted(ready):
            ordered.append(name)
            del remaining[name]
    return tuple(ordered)


def _config_names(configs_dir: Path) -> list[str]:
    """Environment tfvars files; the account stack's settings may sit beside them."""
    return sorted(p.stem for p in configs_dir.glob("*.tfvars") if p.stem != ACCOUNT_STACK)


def environment_tfvars(configs_dir: Path, name: str) -> Path:
    """The environment's tfvars file; an invalid or unknown name is refused (nothing parsed)."""
    check_environment_name(name)
    path = configs_dir / f"{name}.tfvars"
    if name == ACCOUNT_STACK or not path.is_file():
        known = _config_names(configs_dir)
        raise UsageError(
            f"unknown environment '{name}': known environments are {', '.join(known)}."
        )
    return path


def load_environment(configs_dir: Path, name: str) -> EnvironmentConfig:
    path = environment_tfvars(configs_dir, name)
    values = read_tfvars(path)
    return EnvironmentConfig(
        name=_environment_field(path, values, name),
        log_retention_days=_retention(path, values, valid_retention_days(configs_dir.parent)),
        promotes_from=values.get("promotes_from") or None,
        tfvars_path=path,
        require_approval=_flag(path, values, "require_approval"),
        approver_must_differ=_flag(path, values, "approver_must_differ"),
        deploy_branch=str(values.get("deploy_branch", "main")),
        protect_from_destroy=_flag(path, values, "protect_from_destroy"),
    )


def _flag(path: Path, values: dict[str, Any], name: str) -> bool:
    value = values.get(name, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: {name} = {value!r} must be true or false.")
    return value


def _environment_field(path: Path, values: dict[str, Any], name: str) -> str:
    declared = values.get("environment")
    if declared != name:
        raise ConfigError(f"{path}: environment = '{declared}' but the file is named for '{name}'.")
    return name


def _retention(path: Path, values: dict[str, Any], valid: frozenset[int]) -> int:
    days = values.get("log_retention_days")
    if not isinstance(days, int) or days not in valid:
        raise ConfigError(
            f"{path}: log_retention_days = {days!r} is not a CloudWatch retention; "
            f"use one of {sorted(valid)}."
        )
    return days
