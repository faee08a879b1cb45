"""Helpers shared by the secrets tests (a plain module; fixtures live in conftest.py)."""

from __future__ import annotations

from smartstack.aws.target import AwsTarget
from smartstack.core.naming import DEFAULT_PROJECT
from smartstack.core.redact import Redactor
from smartstack.secrets.store import SsmSecretStore

SEED_WHO = "arn:aws:iam::123456789012:user/seed"


def make_store(aws: AwsTarget, env: str, redactor: Redactor) -> SsmSecretStore:
    return SsmSecretStore(env, aws, redactor, DEFAULT_PROJECT)


def seed(store: SsmSecretStore, values: dict[str, str]) -> None:
    for key, value in values.items():
        store.write(key, value, SEED_WHO)
