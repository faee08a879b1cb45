"""Secrets per environment in Parameter Store under ``/smartstack/{env}/`` (ADR-007).

Layers: :mod:`keys` (names and the env-var rule), :mod:`store` (the
``SecretStore`` protocol and its SSM backend), :mod:`formats` (dotenv/JSON),
:mod:`service` and :mod:`importing` (the use-cases the CLI calls).
Nothing is re-exported here: ``import smartstack.secrets.keys`` must not load boto3.
"""
