"""Code both SmartStack services share: settings from Parameter Store, the database, the release."""

from smartstack_common.config import ServiceSettings, SettingsError, load_settings, reload_settings
from smartstack_common.db import Database, DatabaseError, database_error_kind
from smartstack_common.release import release_id

__all__ = [
    "Database",
    "DatabaseError",
    "ServiceSettings",
    "SettingsError",
    "database_error_kind",
    "load_settings",
    "release_id",
    "reload_settings",
]
