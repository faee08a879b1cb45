"""``secrets import``: all or nothing.

The whole file is validated before anything is read from AWS; the plan
(add / change / delete with ``--prune`` / unchanged, never values) is shown and confirmed before
anything is written; and when a write fails midway every key already touched
is put back to its previous value, deleted if it was new, or recreated if it
was deleted, so the environment ends as it was.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from smartstack.aws.environment import EnvironmentContext
from smartstack.aws.errors import error_code
from smartstack.core.errors import SmartStackError, UsageError
from smartstack.secrets.errors import CancelledError, ImportFailedError
from smartstack.secrets.formats import Format, format_for, parse
from smartstack.secrets.keys import INFRASTRUCTURE_OWNED, env_var_name
from smartstack.secrets.service import aws_errors, open_store
from smartstack.secrets.store import SecretShape, SecretStore, SecretValue


class Action(StrEnum):
    ADD = "add"
    CHANGE = "change"
    DELETE = "delete"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ImportOptions:
    format: Format | None = None  # None: by the file's suffix
    prune: bool = False  # also delete keys the file does not have


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


@dataclass(frozen=True)
class Snapshot:
    """The environment before the import: what a rollback restores."""

    values: dict[str, SecretValue] = field(repr=False)
    shapes: dict[str, SecretShape]


def plan_import(
    env: str, source: str, wanted: dict[str, str], before: Snapshot, prune: bool
) -> ImportPlan:
    """One change per key, sorted; with ``prune`` keys missing from the file are deleted
    (never the parameters OpenTofu owns: they are not secrets the file could hold)."""
    changes = []
    pruned = {k for k in before.values if k not in INFRASTRUCTURE_OWNED} if prune else set()
    for key in sorted(set(wanted) | pruned):
        if key not in wanted:
            action = Action.DELETE
        elif key not in before.values:
            action = Action.ADD
        elif before.values[key].value != wanted[key]:
            action = Action.CHANGE
        else:
            action = Action.UNCHANGED
        changes.append(PlannedChange(key, action))
    return ImportPlan(env, source, tuple(changes))


def take_snapshot(store: SecretStore, keys: list[str], prune: bool) -> Snapshot:
    """Values of the file's keys (batched), or of the whole environment when pruning, and
    what each is (type, tier, KMS key, description): a rollback gives all of it back."""
    values = store.read_all() if prune else store.read(keys)
    return Snapshot(values, store.shapes(values))


def import_file(
    environment: EnvironmentContext,
    path: Path,
    options: ImportOptions,
    confirm: Callable[[ImportPlan], bool],
) -> ImportResult:
    """Validate, plan, confirm, apply; the environment is unchanged unless all succeed."""
    env = environment.name
    wanted = read_import_file(path, options.format)
    for value in wanted.values():
        environment.redactor.register(value)
    owned = sorted(env_var_name(k) for k in wanted if k in INFRASTRUCTURE_OWNED)
    if owned:
        raise UsageError(
            f"{path} sets {', '.join(owned)}, written by OpenTofu (the environment's stack), "
            "not by secrets; remove them from the file. Nothing was changed."
        )
    store = open_store(environment)
    with aws_errors(env):
        before = take_snapshot(store, sorted(wanted), options.prune)
    plan = plan_import(env, str(path), wanted, before, options.prune)
    if not plan.writes:
        return ImportResult(plan, applied=False)
    if not confirm(plan):
        raise CancelledError(f"nothing imported into {env}; pass --yes to skip the question.")
    with aws_errors(env):
        store.check_key_exists()
        who = store.caller()
    apply_plan(store, plan, wanted, before, who)
    return ImportResult(plan, applied=True)


def apply_plan(
    store: SecretStore, plan: ImportPlan, wanted: dict[str, str], before: Snapshot, who: str
) -> None:
    """Write (or delete) key by key; on the first failure put everything back and raise."""
    touched: list[str] = []
    for key in plan.writes:
        touched.append(key)
        try:
            if key in wanted:
                store.write(key, wanted[key], who)
            else:
                store.delete(key)
        except (ClientError, BotoCoreError, SmartStackError, KeyboardInterrupt) as exc:
            with _interrupts_held():  # Ctrl-C (or SIGTERM) again must not cut the rollback
                failed = rollback(store, touched, before, who)
            raise ImportFailedError(
                _failure_message(store.env, key, exc, len(touched), failed)
            ) from None


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """SIGINT and SIGTERM ignored for the block (main thread only: signals go there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in held.items():
            signal.signal(signum, handler)


def rollback(store: SecretStore, touched: list[str], before: Snapshot, who: str) -> list[str]:
    """Bring each touched key back to ``before``; the keys that could not be restored.

    Keys are compared with what is there now, so a write that failed halfway
    (value stored, tags not) is undone too, and an untouched value is not
    rewritten needlessly.  A restored key gets back its type, tier, KMS key and
    description.
    """
    failed: list[str] = []
    try:
        now = store.read(touched)
    except (ClientError, BotoCoreError):
        return list(touched)
    for key in touched:
        old = before.values.get(key)
        try:
            if old is None and key in now:
                store.delete(key)
            elif old is not None and (key not in now or now[key].value != old.value):
                store.restore(key, old.value, before.shapes.get(key, SecretShape()), who)
        except (ClientError, BotoCoreError, SmartStackError):
            failed.append(key)
    return failed


def _failure_message(
    env: str, key: str, exc: BaseException, touched: int, failed: list[str]
) -> str:
    if isinstance(exc, ClientError):
        reason = error_code(exc, "error")
    elif isinstance(exc, SmartStackError):
        reason = exc.message
    elif isinstance(exc, KeyboardInterrupt):
        reason = "interrupted"
    else:
        reason = type(exc).__name__
    head = f"import into {env} failed at '{key}' ({reason})"
    if failed:
        return (
            f"{head}; could not restore {', '.join(failed)}: check them with "
            f"`smartstack secrets history {env} KEY` and fix by hand."
        )
    return f"{head}; rolled back the {touched} key(s) touched, {env} is as it was."
