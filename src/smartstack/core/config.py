"""Settings, resolved once: flag > environment variable > default.

The result is frozen and passed down explicitly; nothing reads ``os.environ``
for tool settings after this point.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from smartstack.core.errors import UsageError
from smartstack.core.naming import DEFAULT_PROJECT

Target = Literal["local", "aws"]
TARGETS: tuple[Target, ...] = ("local", "aws")

DEFAULT_MOTO_PORT = 5010
DEFAULT_POSTGRES_PORT = 5442
DEFAULT_REGION = "us-east-1"

# Local IAM enforcement (docs/local-iam.md): what the local AWS does with each request.
IAM_ENFORCE, IAM_AUDIT, IAM_OFF = "enforce", "audit", "off"
IAM_ENFORCEMENT_VARIABLE = "SMARTSTACK_IAM_ENFORCEMENT"
_IAM_MODES = {
    "1": IAM_ENFORCE, "on": IAM_ENFORCE, "true": IAM_ENFORCE, "enforce": IAM_ENFORCE,
    "yes": IAM_ENFORCE, "audit": IAM_AUDIT,
    "0": IAM_OFF, "off": IAM_OFF, "false": IAM_OFF, "no": IAM_OFF,
}  # fmt: skip


_ON_OFF = {"1": True, "on": True, "true": True, "yes": True,
           "0": False, "off": False, "false": False, "no": False}  # fmt: skip


def iam_enforcement_mode(raw: str | None) -> str | None:
    """``enforce``, ``audit`` or ``off`` from a setting's text; None when not set."""
    value = (raw or "").strip().lower()
    if not value:
        return None
    if value not in _IAM_MODES:
        raise UsageError(
            f"{IAM_ENFORCEMENT_VARIABLE}={raw!r} is not a mode: use 1 (enforce), audit or 0 (off)."
        )
    return _IAM_MODES[value]


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about where things are."""

    root: Path
    state_dir: Path
    cache_dir: Path
    target: Target
    moto_port: int
    postgres_port: int
    region: str
    project: str = DEFAULT_PROJECT
    assume_roles: bool = False  # act through smartstack-{env}-role for environment work
    # A job's OIDC token (as GitHub Actions gives one): environment work acts through
    # smartstack-{env}-role by AssumeRoleWithWebIdentity with it.
    web_identity_token_file: Path | None = None
    # What the local AWS does with IAM: enforce (the default when it starts), audit or off.
    # None: not chosen, so a running local AWS is kept whatever its mode.
    iam_enforcement: str | None = None
    # OpenTofu's time limit per run (then SIGINT, as an interrupt) and how long it is given
    # after SIGINT to write its state and release its lock before it is killed.
    tofu_timeout_seconds: int = 3600
    tofu_grace_seconds: int = 120
    # A deploy's lease, renewed by its heartbeat, expires this long after the last beat:
    # then the next deploy may take it over (its holder is dead).
    lease_ttl_seconds: int = 300
    # Whether the local AWS keeps its state on disk across restarts (as AWS does) or in
    # memory only (SMARTSTACK_AWS_PERSISTENCE=off: a restart starts empty).
    aws_persistence: bool = True

    @property
    def infrastructure_dir(self) -> Path:
        return self.root / "infrastructure"

    @property
    def configs_dir(self) -> Path:
        return self.infrastructure_dir / "configs"

    @property
    def local_dir(self) -> Path:
        """Pid files, logs and the endpoint settings of the local platform."""
        return self.state_dir / "local"

    @property
    def endpoints_file(self) -> Path:
        return self.local_dir / "aws.env"


def resolve_settings(
    *,
    root: Path | None = None,
    target: str | None = None,
    moto_port: int | None = None,
    postgres_port: int | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Settings:
    """Apply the precedence rules in one place."""
    chosen_target = target or environ.get("SMARTSTACK_TARGET") or "local"
    if chosen_target not in TARGETS:
        raise UsageError(f"unknown target '{chosen_target}': use 'local' or 'aws'.")
    home = Path(environ.get("HOME", str(Path.home())))
    state_dir = Path(environ.get("SMARTSTACK_STATE_DIR") or home / ".local/state/smartstack")
    cache_dir = Path(environ.get("SMARTSTACK_CACHE") or home / ".cache/smartstack")
    return Settings(
        root=_find_root(root or _env_path(environ, "SMARTSTACK_ROOT")),
        state_dir=state_dir,
        cache_dir=cache_dir,
        target=chosen_target,
        moto_port=_port(moto_port, environ, "SMARTSTACK_MOTO_PORT", DEFAULT_MOTO_PORT),
        postgres_port=_port(
            postgres_port, environ, "SMARTSTACK_POSTGRES_PORT", DEFAULT_POSTGRES_PORT
        ),
        region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
        assume_roles=environ.get("SMARTSTACK_ASSUME_ROLES", "").lower() in {"1", "true", "yes"},
        web_identity_token_file=_env_path(environ, "SMARTSTACK_WEB_IDENTITY_TOKEN_FILE"),
        iam_enforcement=iam_enforcement_mode(environ.get(IAM_ENFORCEMENT_VARIABLE)),
        tofu_timeout_seconds=_seconds(environ, "SMARTSTACK_TOFU_TIMEOUT", 3600),
        tofu_grace_seconds=_seconds(environ, "SMARTSTACK_TOFU_GRACE", 120),
        lease_ttl_seconds=_seconds(environ, "SMARTSTACK_LEASE_TTL", 300),
        aws_persistence=_switch(environ, "SMARTSTACK_AWS_PERSISTENCE", True),
    )


def _switch(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (environ.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in _ON_OFF:
        raise UsageError(f"{name}='{raw}' is not a switch: use on or off.")
    return _ON_OFF[raw]


def _seconds(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name) or str(default)
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"{name}='{raw}' is not a number of seconds: use a whole number above 0.")
    return int(raw)


def _env_path(environ: Mapping[str, str], name: str) -> Path | None:
    value = environ.get(name)
    return Path(value) if value else None


def _port(flag: int | None, environ: Mapping[str, str], name: str, default: int) -> int:
    raw: int | str = flag if flag is not None else environ.get(name, default)
    try:
        port = int(raw)
    except ValueError as exc:
        raise UsageError(f"{name}='{raw}' is not a port number: use 1024-65535.") from exc
    if not 1024 <= port <= 65535:
        raise UsageError(f"port {port} is out of range: use 1024-65535.")
    return port


def _find_root(explicit: Path | None) -> Path:
    """The checkout that holds ``infrastructure/configs``: explicit, cwd upward, or ours."""
    if explicit is not None:
        if not (explicit / "infrastructure" / "configs").is_dir():
            raise UsageError(
                f"{explicit} has no infrastructure/configs; point --root at a checkout."
            )
        return explicit.resolve()
    candidates = [Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents]
    for candidate in candidates:
        if (candidate / "infrastructure" / "configs").is_dir():
            return candidate
    raise UsageError(
        "no infrastructure/configs found above the current directory; "
        "run from a SmartStack checkout or set SMARTSTACK_ROOT."
    )
