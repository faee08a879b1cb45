"""One error tree for the whole tool.

Every error carries a stable ``code`` (for ``--json`` consumers), an exit code
and a message that names the resource and the fix.  The CLI catches
:class:`SmartStackError` once at the top; anything else is a bug and shows a
traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Distinct process exit codes, one per kind of failure."""

    OK = 0
    FAILED = 1
    USAGE = 2
    NOT_RUNNING = 3
    LOCKED = 4
    TOOL_MISSING = 5
    CONFLICT = 6
    DRIFT = 7
    INTERRUPTED = 130  # a signal stopped it (128 + SIGINT, as shells report)


class SmartStackError(Exception):
    """Base of every error the tool reports to a person."""

    code = "failed"
    exit_code = ExitCode.FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(SmartStackError):
    """Bad input: an unknown environment, an invalid name or value."""

    code = "usage"
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """A configuration file (tfvars, versions.env) is malformed."""

    code = "config"


class NotRunningError(SmartStackError):
    """A component the command needs (local AWS, PostgreSQL) is not up."""

    code = "not_running"
    exit_code = ExitCode.NOT_RUNNING


class PortInUseError(SmartStackError):
    """A port we were asked to listen on belongs to someone else."""

    code = "port_in_use"
    exit_code = ExitCode.CONFLICT


class StateLockedError(SmartStackError):
    """Another run holds the OpenTofu state lock."""

    code = "state_locked"
    exit_code = ExitCode.LOCKED


class LeaseHeldError(SmartStackError):
    """Another deploy holds the environment's lease in the deployments table."""

    code = "lease_held"
    exit_code = ExitCode.LOCKED


class LeaseLostError(SmartStackError):
    """The environment's lease was taken over (its holder seemed dead): stop, touch nothing."""

    code = "lease_lost"
    exit_code = ExitCode.LOCKED


class ToolMissingError(SmartStackError):
    """A binary (tofu, go, initdb) is missing; the message says how to get it."""

    code = "tool_missing"
    exit_code = ExitCode.TOOL_MISSING


class CommandFailedError(SmartStackError):
    """An external command (tofu, pg_ctl) exited non-zero."""

    code = "command_failed"


class LedgerBrokenError(SmartStackError):
    """The deployments ledger's hash chain does not hold: a record was changed or deleted."""

    code = "ledger_broken"


class InternalError(SmartStackError):
    """An exception outside this tree (a bug), shown as one redacted line like the others."""

    code = "internal_error"
