"""``secrets import``: all or nothing.

The whole file is validated before anything is read from AWS; the plan
(add / change / unchanged, never values) is shown and confirmed before
anything is written; and when a write fails midway every key already touched
is put back to its previous value, or deleted if it was new, so the
environment ends as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from smartstack.config import Settings
from smartstack.errors import SmartStackError, UsageError
from smartstack.redact import Redactor
from smartstack.secrets.errors import CancelledError, ImportFailedError
from smartstack.secrets.formats import Format, format_for, parse
from smartstack.secrets.service import aws_errors, check_inputs, open_store
from smartstack.secrets.store import SecretStore, SecretValue


class Action(StrEnum):
    ADD = "add"
    CHANGE = "change"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class PlannedChange:
    key: str
    action: Action


@dataclass(frozen=True)
class ImportPlan:
    env: str
    source: str
    changes: tuple[PlannedChange, ...]

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)

    @property
    def writes(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.changes if c.action is not Action.UNCHANGED)


@dataclass(frozen=True)
class ImportResult:
    plan: ImportPlan
    applied: bool


def read_import_file(path: Path, fmt: Format | None) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise UsageError(f"cannot read {path}: {reason}. Nothing was changed.") from None
    return parse(text, format_for(path, fmt), str(path))


def plan_import(store: SecretStore, source: str, wanted: dict[str, str],
                current: dict[str, SecretValue]) -> ImportPlan:
    changes = []
    for key in sorted(wanted):
        if key not in current:
            action = Action.ADD
        elif current[key].value != wanted[key]:
            action = Action.CHANGE
        else:
            action = Action.UNCHANGED
        changes.append(PlannedChange(key, action))
    return ImportPlan(store.env, source, tuple(changes))


def import_file(settings: Settings, env: str, path: Path, fmt: Format | None,
                confirm: Callable[[ImportPlan], bool], redactor: Redactor) -> ImportResult:
    """Validate, plan, confirm, apply; the environment is unchanged unless all succeed."""
    check_inputs(settings, env)
    wanted = read_import_file(path, fmt)
    for value in wanted.values():
        redactor.register(value)
    store = open_store(settings, env, redactor)
    with aws_errors(env):
        current = store.read(wanted)
    plan = plan_import(store, str(path), wanted, current)
    if not plan.writes:
        return ImportResult(plan, applied=False)
    if not confirm(plan):
        raise CancelledError(f"nothing imported into {env}; pass --yes to skip the question.")
    with aws_errors(env):
        store.check_key_exists()
        who = store.caller()
    apply_plan(store, plan, wanted, current, who)
    return ImportResult(plan, applied=True)


def apply_plan(store: SecretStore, plan: ImportPlan, wanted: dict[str, str],
               current: dict[str, SecretValue], who: str) -> None:
    touched: list[str] = []
    for key in plan.writes:
        touched.append(key)
        try:
            store.write(key, wanted[key], who)
        except (ClientError, BotoCoreError, SmartStackError) as exc:
            failed = rollback(store, touched, current, who)
            raise ImportFailedError(_failure_message(store.env, key, exc, len(touched), failed)) \
                from None


def rollback(store: SecretStore, touched: list[str], before: dict[str, SecretValue],
             who: str) -> list[str]:
    """Bring each touched key back to ``before``; the keys that could not be restored."""
    failed: list[str] = []
    try:
        now = store.read(touched)
    except (ClientError, BotoCoreError):
        return list(touched)
    for key in touched:
        try:
            if key not in before and key in now:
                store.delete(key)
            elif key in before and (key not in now or now[key].value != before[key].value):
                store.write(key, before[key].value, who)
        except (ClientError, BotoCoreError, SmartStackError):
            failed.append(key)
    return failed


def _failure_message(env: str, key: str, exc: BaseException, touched: int,
                     failed: list[str]) -> str:
    if isinstance(exc, ClientError):
        reason = str(exc.response.get("Error", {}).get("Code", "error"))
    elif isinstance(exc, SmartStackError):
        reason = exc.message
    else:
        reason = type(exc).__name__
    head = f"import into {env} failed writing '{key}' ({reason})"
    if failed:
        return (f"{head}; could not restore {', '.join(failed)}: check them with "
                f"`smartstack secrets history {env} KEY` and fix by hand.")
    return f"{head}; rolled back the {touched} key(s) written, {env} is as it was."
