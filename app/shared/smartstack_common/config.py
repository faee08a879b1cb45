"""Settings from Parameter Store, read once per container.

The function's configuration gives ``ENVIRONMENT`` and ``PARAMETER_PREFIX``
(``/smartstack/{env}/``); everything else lives under that path and is read
with one decrypted GetParametersByPath.  The result is cached for the life of
the container; a failed read is not cached, so the next request tries again.
:func:`reload_settings` reads them afresh: the database calls it when the password
it has is refused (``smartstack secrets rotate db-password`` changed it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from aws_lambda_powertools.utilities import parameters

DEFAULT_DB_PORT = 5432
SSL_MODES = ("disable", "require")
_REQUIRED = ("db-host", "db-name", "db-username", "db-password")


class SettingsError(Exception):
    """The parameters could not be read, or required ones are missing.

    ``secret_readable`` tells /health whether the database password itself came back.
    """

    def __init__(self, message: str, *, secret_readable: bool = False) -> None:
        super().__init__(message)
        self.secret_readable = secret_readable


@dataclass(frozen=True)
class ServiceSettings:
    environment: str
    prefix: str
    db_host: str
    db_port: int
    db_name: str
    db_username: str
    db_password: str = field(repr=False)  # never printed, never logged
    db_sslmode: str = "disable"  # "require" for RDS (rds.force_ssl): encrypted, not verified
    extra: dict[str, str] = field(default_factory=dict, repr=False)

    def get(self, key: str, default: str | None = None) -> str | None:
        """Any other parameter under the prefix (for example ``ai-model``)."""
        return self.extra.get(key, default)


def environment() -> str:
    return os.environ.get("ENVIRONMENT", "unknown")


def parameter_prefix() -> str:
    prefix = os.environ.get("PARAMETER_PREFIX") or f"/smartstack/{environment()}/"
    return prefix if prefix.endswith("/") else prefix + "/"


_settings: ServiceSettings | None = None


def load_settings() -> ServiceSettings:
    """The service's settings, read once; raises :class:`SettingsError` naming what is wrong."""
    global _settings
    if _settings is None:
        _settings = _read(force_fetch=False)
    return _settings


def reload_settings() -> ServiceSettings:
    """The settings read again from Parameter Store, past every cache."""
    global _settings
    _settings = _read(force_fetch=True)
    return _settings


def _read(*, force_fetch: bool) -> ServiceSettings:
    prefix = parameter_prefix()
    try:
        values = parameters.get_parameters(
            prefix, decrypt=True, recursive=False, max_age=365 * 24 * 3600, force_fetch=force_fetch
        )
    except Exception as exc:  # any SDK failure: access denied, KMS, unreachable
        raise SettingsError(f"cannot read parameters under {prefix}: {type(exc).__name__}") from exc
    values = {str(k): str(v) for k, v in values.items()}
    missing = [k for k in _REQUIRED if not values.get(k)]
    if missing:
        raise SettingsError(
            f"missing parameters under {prefix}: {', '.join(missing)}",
            secret_readable="db-password" not in missing,
        )
    try:
        port = int(values.get("db-port") or DEFAULT_DB_PORT)
    except ValueError as exc:
        raise SettingsError(f"{prefix}db-port is not a number", secret_readable=True) from exc
    sslmode = values.get("db-sslmode") or "disable"
    if sslmode not in SSL_MODES:
        raise SettingsError(
            f"{prefix}db-sslmode must be one of {', '.join(SSL_MODES)}", secret_readable=True
        )
    return ServiceSettings(
        environment=environment(),
        prefix=prefix,
        db_host=values["db-host"],
        db_port=port,
        db_name=values["db-name"],
        db_username=values["db-username"],
        db_password=values["db-password"],
        db_sslmode=sslmode,
        extra={k: v for k, v in values.items() if not k.startswith("db-")},
    )
