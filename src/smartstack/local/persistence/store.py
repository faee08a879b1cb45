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
"""

from __future__ import annotations

import io
import logging
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
from smartstack.local.persistence.writes import RESET_PATH, is_write
from smartstack.local.wsgi import WsgiApp, read_body

log = logging.getLogger("smartstack.local.persistence")

FORMAT = 1
CHECKPOINT = "checkpoint.pickle"
LOG = "writes.log"
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

    @property
    def seq(self) -> int:
        return self._seq

    def open(self, moto: WsgiApp) -> Recovery:
        """Load the checkpoint and replay the log through ``moto``; ready to log after."""
        started = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._moto = moto
        with self._lock:
            checkpoint_seq = self._load_checkpoint()
            self._log = WriteAheadLog(self.directory / LOG)
            replayed = 0
            self.replaying = True
            try:
                for payload in self._log.records():
                    record = pickle.loads(payload)
                    if record[1] <= self._seq:
                        continue
                    self._replay(record)
                    replayed += 1
            finally:
                self.replaying = False
        return Recovery(checkpoint_seq, replayed, self._log.torn_bytes,
                        time.monotonic() - started)  # fmt: skip

    def wrap(self, moto: WsgiApp) -> WsgiApp:
        """Every request to moto under the lock; a write logged before it is answered."""

        def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            body = read_body(environ)
            write = is_write(environ, body)
            captured: list[tuple[Any, ...]] = []

            def capture(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
                captured.append((status, headers, *rest))
                return lambda data: None

            with self._lock:
                if write:
                    answer = self._logged(
                        lambda: b"".join(moto(environ, capture)),
                        lambda seq: ("http", seq, time.time(), _kept(environ), body),
                    )
                else:
                    answer = b"".join(moto(environ, capture))
                if write and str(environ.get("PATH_INFO")) == RESET_PATH:
                    self.checkpoint()
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
                lambda: function(*args), lambda seq: ("call", seq, time.time(), name, args)
            )

    def _logged(self, run: Callable[[], Any], record: Callable[[int], tuple[Any, ...]]) -> Any:
        assert self._log is not None, "the store is not open"
        seq = self._seq + 1
        self._inside.active = True
        try:
            with backends.seeded(seq):
                return run()
        finally:
            self._inside.active = False
            # Logged whatever the outcome: a write that failed half-way fails so again.
            self._log.append(pickle.dumps(record(seq), protocol=pickle.HIGHEST_PROTOCOL))
            self._seq = seq
            if self._log.size > self.checkpoint_after:
                self.checkpoint()

    def _replay(self, record: tuple[Any, ...]) -> None:
        kind, seq = record[0], record[1]
        with backends.seeded(seq):
            if kind == "http":
                environ = dict(record[3])
                environ.update({"wsgi.input": io.BytesIO(record[4]), "wsgi.errors": sys.stderr,
                                "wsgi.version": (1, 0), "wsgi.multithread": False,
                                "wsgi.multiprocess": False, "wsgi.run_once": False})  # fmt: skip
                assert self._moto is not None
                b"".join(self._moto(environ, lambda *_: lambda data: None))
            else:
                name, args = record[3], record[4]
                function = _REGISTRY.get(name)
                if function is None:
                    raise StoreError(f"write {seq} is a call to {name}, which nothing registered")
                try:
                    function(*args)
                except Exception as exc:  # it failed when it ran, too
                    log.warning("replayed write %d (%s) failed again: %s", seq, name, exc)
        self._seq = seq

    def checkpoint(self) -> None:
        """Everything into one file, atomically; then the log starts empty."""
        with self._lock:
            from moto import __version__ as moto_version

            saved = {"format": FORMAT, "moto": moto_version, "seq": self._seq,
                     "backends": backends.capture()}  # fmt: skip
            data = pickle.dumps(saved, protocol=pickle.HIGHEST_PROTOCOL)
            write_atomically(self.directory / CHECKPOINT, data)
            if self._log is not None:
                self._log.truncate()

    def close(self) -> None:
        with self._lock:
            if self._log is None:
                return
            self.checkpoint()
            self._log.close()
            self._log = None

    def _load_checkpoint(self) -> int:
        from moto import __version__ as moto_version

        path = self.directory / CHECKPOINT
        path.with_name(path.name + ".tmp").unlink(missing_ok=True)  # a checkpoint cut short
        if not path.is_file():
            return 0
        try:
            saved = pickle.loads(path.read_bytes())
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
