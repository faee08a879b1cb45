"""The local AWS's state on disk: a checkpoint, and every write logged since.

Each request that changes something (:mod:`.writes`) runs under one lock, seeded from
its number (:mod:`.backends`), and is appended to the log and fsynced before its answer
leaves: an acknowledged write survives a SIGKILL of the server or of the machine.  The
server's own changes made outside any request (an alarm changing state, the queue
poller taking messages, a function's log lines) are logged the same way, as calls
(:func:`persisted`).

Opening the store loads the checkpoint and replays the log on top of it, through
moto itself, before the server answers anyone.  A checkpoint is written when the
server stops (SIGTERM), after ``/moto-api/reset``, and once the log outgrows
:data:`CHECKPOINT_AFTER`; it replaces the old one atomically, then the log is emptied
(a record the checkpoint already holds is skipped by its number, should a kill come
in between).

A request answered with an error is not logged: as on AWS, it changed nothing.  A Lambda
invocation and an SQS long poll run outside the lock (:mod:`.unlocked`).  Each write is
replayed at the time it started (the clock frozen there), so what depends on time (a
message's visibility, a session's expiry) comes out as it did.  Records and checkpoint
are sealed (:mod:`.sealing`).  A write that cannot be logged (the disk full) stops the
server before it is answered: moto's memory then holds a change the store does not, and
no client may see it.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from smartstack.local.persistence import backends
from smartstack.local.persistence.log import WriteAheadLog, write_atomically
from smartstack.local.persistence.sealing import Sealer, SealError
from smartstack.local.persistence.writes import RESET_PATH, is_write
from smartstack.local.wsgi import WsgiApp, read_body

log = logging.getLogger("smartstack.local.persistence")

FORMAT = 1
CHECKPOINT = "checkpoint.pickle"
LOG = "writes.log"
VERSION = "version"  # the format and the moto that wrote the store
KEY_SUFFIX = ".key"  # the sealing key: beside the state directory, never inside it
CHECKPOINT_AFTER = 64 * 1024 * 1024  # bytes of log
_ENVIRON_KEPT = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "RAW_URI",
                 "REQUEST_URI", "CONTENT_TYPE", "CONTENT_LENGTH", "SERVER_NAME",
                 "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "wsgi.url_scheme")  # fmt: skip

F = TypeVar("F", bound=Callable[..., Any])


class StoreError(Exception):
    """The store cannot be opened (written by another moto, or by another format)."""


@dataclass(frozen=True)
class Recovery:
    checkpoint_seq: int
    replayed: int
    torn_bytes: int
    seconds: float


class AwsStore:
    def __init__(self, directory: Path, checkpoint_after: int | None = None) -> None:
        self.directory = directory
        self.checkpoint_after = checkpoint_after or CHECKPOINT_AFTER
        self.replaying = False
        self._lock = threading.RLock()
        self._inside = threading.local()  # set while this thread runs a logged write
        self._seq = 0
        self._log: WriteAheadLog | None = None
        self._moto: WsgiApp | None = None  # moto's dispatcher, without any wrapper
        self._sealer: Sealer | None = None

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def key_file(self) -> Path:
        return self.directory.with_name(self.directory.name + KEY_SUFFIX)

    def open(self, moto: WsgiApp) -> Recovery:
        """Load the checkpoint and replay the log through ``moto``; ready to log after."""
        started = time.perf_counter()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory.chmod(0o700)
        self._moto = moto
        with self._lock:
            try:
                self._sealer = Sealer.for_key_file(self.key_file)
                self._check_version()
                checkpoint_seq = self._load_checkpoint()
                self._log = WriteAheadLog(self.directory / LOG)
                records = [self._unsealed(payload) for payload in self._log.records()]
            except SealError as exc:
                raise StoreError(f"{self.directory}: {exc}") from None
            replayed = self._replay_all([r for r in records if r[1] > self._seq])
        return Recovery(checkpoint_seq, replayed, self._log.torn_bytes,
                        time.perf_counter() - started)  # fmt: skip

    def wrap(self, moto: WsgiApp) -> WsgiApp:
        """Every request to moto under the lock; a write logged before it is answered."""
        from smartstack.local.persistence.unlocked import runs_unlocked

        def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            body = read_body(environ)
            if runs_unlocked(environ, body):
                return moto(environ, start_response)
            write = is_write(environ, body)
            captured: list[tuple[Any, ...]] = []

            def capture(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
                captured.append((status, headers, *rest))
                return lambda data: None

            def answered() -> bool:  # an error answer changed nothing: not logged
                return bool(captured) and int(str(captured[0][0]).split()[0]) < 400

            with self._lock:
                if write:
                    answer = self._logged(
                        lambda: b"".join(moto(environ, capture)),
                        lambda seq, at: ("http", seq, at, _kept(environ), body),
                        answered,
                    )
                else:
                    answer = b"".join(moto(environ, capture))
                if write and str(environ.get("PATH_INFO")) == RESET_PATH:
                    self._checkpoint_quietly()
            if not captured:
                raise RuntimeError("moto answered without a status")
            start_response(*captured[0])
            return [answer]

        return serve

    def call(self, name: str, function: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """``function(*args)`` as a logged write, replayed by ``name`` after a restart."""
        with self._lock:
            if getattr(self._inside, "active", False) or self.replaying:
                return function(*args)  # part of a write being logged or replayed
            return self._logged(
                lambda: function(*args),
                lambda seq, at: ("call", seq, at, name, args),
                lambda: True,  # it returned: logged (an exception is not)
            )

    def _logged(
        self,
        run: Callable[[], Any],
        record: Callable[[int, float], tuple[Any, ...]],
        succeeded: Callable[[], bool],
    ) -> Any:
        assert self._log is not None, "the store is not open"
        seq, started = self._seq + 1, time.time()  # replayed at the time it started
        self._inside.active = True
        try:
            with backends.seeded(seq):
                result = run()
        finally:
            self._inside.active = False
        if succeeded():
            self._append(record(seq, started))
            self._seq = seq
            if self._log.size > self.checkpoint_after:
                self._checkpoint_quietly()
        return result

    def _append(self, record: tuple[Any, ...]) -> None:
        assert self._log is not None and self._sealer is not None
        payload = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._log.append(self._sealer.seal(payload, LOG.encode()))
        except OSError as exc:
            # moto holds a change the log does not: no client may see it. Stop unanswered;
            # the next start has the state of every write that was answered.
            log.critical("the local AWS cannot log write %d (%s): stopping", record[1], exc)
            os._exit(70)

    def _unsealed(self, payload: bytes) -> tuple[Any, ...]:
        assert self._sealer is not None
        record: tuple[Any, ...] = pickle.loads(self._sealer.open(payload, LOG.encode()))
        return record

    def _replay_all(self, records: list[tuple[Any, ...]]) -> int:
        """Each record at the time it was made; moto's clock is frozen there meanwhile."""
        if not records:
            return 0
        import freezegun

        self.replaying = True
        try:
            with freezegun.freeze_time(_utc(records[0][2])) as clock:
                for record in records:
                    clock.move_to(_utc(record[2]))
                    self._replay(record)
        finally:
            self.replaying = False
        return len(records)

    def _replay(self, record: tuple[Any, ...]) -> None:
        kind, seq = record[0], record[1]
        try:
            with backends.seeded(seq):
                if kind == "http":
                    self._replay_request(record[3], record[4])
                else:
                    function = _REGISTRY.get(record[3])
                    if function is None:
                        log.warning("write %d: nothing here carries out %s", seq, record[3])
                    else:
                        function(*record[4])
        except Exception as exc:  # it was answered; moto fails it now: keep the rest
            log.warning("replaying write %d failed: %s: %s", seq, type(exc).__name__, exc)
        self._seq = seq

    def _replay_request(self, kept: dict[str, Any], body: bytes) -> None:
        environ = dict(kept)
        environ.update({"wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
                        "wsgi.version": (1, 0), "wsgi.multithread": False,
                        "wsgi.multiprocess": False, "wsgi.run_once": False})  # fmt: skip
        assert self._moto is not None
        b"".join(self._moto(environ, lambda *_: lambda data: None))

    def checkpoint(self) -> None:
        """Everything into one file, atomically; then the log starts empty."""
        with self._lock:
            from moto import __version__ as moto_version

            assert self._sealer is not None
            saved = {"format": FORMAT, "moto": moto_version, "seq": self._seq,
                     "backends": backends.capture()}  # fmt: skip
            data = pickle.dumps(saved, protocol=pickle.HIGHEST_PROTOCOL)
            write_atomically(self.directory / CHECKPOINT, self._sealer.seal(data, b"checkpoint"))
            if self._log is not None:
                self._log.truncate()

    def _checkpoint_quietly(self) -> None:
        """A checkpoint now; one that fails leaves the log as it was (it holds everything)."""
        try:
            self.checkpoint()
        except Exception:
            log.exception("the local AWS could not write a checkpoint; its log keeps every write")

    def close(self) -> None:
        with self._lock:
            if self._log is None:
                return
            self._checkpoint_quietly()
            self._log.close()
            self._log = None

    def _check_version(self) -> None:
        """A store is replayed by the moto that wrote it: another one may carry out the
        same requests differently."""
        from moto import __version__ as moto_version

        wanted = f"format {FORMAT}, moto {moto_version}"
        path = self.directory / VERSION
        if path.is_file() and path.read_text().strip() != wanted:
            raise StoreError(
                f"{self.directory} was written by another version "
                f"({path.read_text().strip()}; this is {wanted})"
            )
        if not path.is_file():
            write_atomically(path, (wanted + "\n").encode())

    def _load_checkpoint(self) -> int:
        from moto import __version__ as moto_version

        path = self.directory / CHECKPOINT
        path.with_name(path.name + ".tmp").unlink(missing_ok=True)  # a checkpoint cut short
        if not path.is_file():
            return 0
        assert self._sealer is not None
        data = self._sealer.open(path.read_bytes(), b"checkpoint")
        try:
            saved = pickle.loads(data)
        except Exception as exc:
            raise StoreError(f"{path} cannot be read ({exc})") from None
        if saved.get("format") != FORMAT or saved.get("moto") != moto_version:
            raise StoreError(
                f"{path} was written by another version (format {saved.get('format')}, "
                f"moto {saved.get('moto')}; this is format {FORMAT}, moto {moto_version})"
            )
        backends.restore(saved["backends"])
        self._seq = int(saved["seq"])
        return self._seq


def _utc(timestamp: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC)


def _kept(environ: dict[str, Any]) -> dict[str, Any]:
    """What of a request's environ a replay needs: its line and its headers."""
    from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY

    kept = {k: v for k, v in environ.items() if k.startswith("HTTP_") or k in _ENVIRON_KEPT}
    if PRESERVED_HEADER_NAMES_ENVIRON_KEY in environ:
        kept[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = dict(environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY])
    return kept


_STORE: AwsStore | None = None
_REGISTRY: dict[str, Callable[..., Any]] = {}  # what a logged call's name stands for


def installed() -> AwsStore | None:
    return _STORE


def install(store: AwsStore) -> None:
    global _STORE
    _STORE = store


def persisted(name: str) -> Callable[[F], F]:
    """A change the server makes outside any request, logged as a call to ``name`` and
    replayed by calling the function again with the same arguments (which must pickle).
    Without a store (a test, or persistence off) it just runs."""

    def decorate(function: F) -> F:
        def logged(*args: Any) -> Any:
            store = _STORE
            if store is None:
                return function(*args)
            return store.call(name, function, args)

        _REGISTRY[name] = function
        return logged  # type: ignore[return-value]

    return decorate
