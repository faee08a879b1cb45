"""SmartStack's migrator: a Lambda that runs the release's Alembic migrations in the VPC.

The runner (:mod:`smartstack_migrator.runner`) is driver-agnostic; the Lambda entry point
is ``smartstack_migrator.handler.handler``.
"""

from smartstack_migrator.runner import (
    LOCK_KEY,
    Migrated,
    MigrationFailed,
    current_revision,
    migrate,
)

__all__ = ["LOCK_KEY", "Migrated", "MigrationFailed", "current_revision", "migrate"]
