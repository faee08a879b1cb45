"""Errors of the secrets commands, under the tool's one error tree.

Messages name the environment and key and the fix; they never carry a value,
because an error message is printed, logged and shown in CI output.
"""

from __future__ import annotations

from smartstack.core.errors import ExitCode, SmartStackError, UsageError


class InvalidKeyError(UsageError):
    """A key that is not allowed: bad characters, length, or outside the environment."""

    code = "invalid_key"


class InvalidSecretsFileError(UsageError):
    """An import file that cannot be imported; nothing was changed."""

    code = "invalid_file"


class SecretNotFoundError(SmartStackError):
    """The key has no parameter in the environment."""

    code = "secret_not_found"
    exit_code = ExitCode.FAILED


class KmsKeyMissingError(SmartStackError):
    """The environment's KMS key (made by the account stack) does not exist yet."""

    code = "kms_key_missing"
    exit_code = ExitCode.FAILED


class CancelledError(SmartStackError):
    """The person answered no to a confirmation; nothing was changed."""

    code = "cancelled"
    exit_code = ExitCode.FAILED


class ImportFailedError(SmartStackError):
    """An import failed while writing; the message says what was restored."""

    code = "import_failed"
    exit_code = ExitCode.FAILED
