"""Secrets per environment in Parameter Store under ``/smartstack/{env}/`` (ADR-007).

Layers: :mod:`keys` (names and the env-var rule), :mod:`store` (the
``SecretStore`` protocol and its SSM backend), :mod:`formats` (dotenv/JSON),
:mod:`service` and :mod:`importing` (the use-cases the CLI calls).
"""

from __future__ import annotations

from smartstack.secrets.keys import env_var_name, key_from_env_var, parameter_name
from smartstack.secrets.store import SecretMetadata, SecretStore, SecretValue, SsmSecretStore

__all__ = [
    "SecretMetadata",
    "SecretStore",
    "SecretValue",
    "SsmSecretStore",
    "env_var_name",
    "key_from_env_var",
    "parameter_name",
]
