"""Run a child that must be stopped gracefully, within a time limit.

OpenTofu, sent SIGINT, stops what it is doing, writes its state and releases its state
lock; killed, it loses both (resources made since its last write are orphaned and the
lock stays held).  ``subprocess.run`` kills the child a quarter of a second after an
interrupt.  Here the child runs in a session of its own (a terminal's Ctrl-C reaches
only us) and, on an interrupt, a SIGTERM turned into one, or the time limit, it gets
exactly one SIGINT and ``grace_seconds`` to finish.  A second interrupt kills it, and
the error says what that leaves behind.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO

from smartstack.core.errors import ExitCode, SmartStackError


class Interrupted(SmartStackError):
    """Stopped early: interrupted, or past its time limit."""

    code = "interrupted"
    exit_code = ExitCode.INTERRUPTED


def run_gracefully(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    what: str,
    timeout_seconds: float,
    grace_seconds: float,
    on_line: Callable[[str], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; raise :class:`Interrupted` if it had to be stopped.  With ``on_line``,
    stdout and stderr are merged and each line is passed on as it comes."""
    merged = on_line is not None
    proc = subprocess.Popen(
        list(argv), env=dict(env), stdout=subprocess.PIPE, text=True, start_new_session=True,
        stderr=subprocess.STDOUT if merged else subprocess.PIPE,
    )  # fmt: skip
    out: list[str] = []
    err: list[str] = []
    readers = [_reader(proc.stdout, out, on_line, what)]
    if not merged:
        readers.append(_reader(proc.stderr, err, None, what))
    deadline = time.monotonic() + timeout_seconds
    try:
        while proc.poll() is None:
            if time.monotonic() >= deadline:
                limit = f"{what} ran past its time limit ({timeout_seconds:.0f}s)"
                _stop(proc, limit, grace_seconds)
            time.sleep(0.05)
    except KeyboardInterrupt:
        _stop(proc, f"{what} was interrupted", grace_seconds)
    for reader in readers:
        reader.join(timeout=5)
    return subprocess.CompletedProcess(list(argv), proc.returncode, "".join(out), "".join(err))


def _reader(
    stream: IO[str] | None, sink: list[str], on_line: Callable[[str], None] | None, what: str
) -> threading.Thread:
    def pump() -> None:
        assert stream is not None
        for line in stream:
            sink.append(line)
            if on_line is not None:
                on_line(line.rstrip("\n"))

    thread = threading.Thread(target=pump, name=f"{what} output", daemon=True)
    thread.start()
    return thread


def _stop(proc: subprocess.Popen[str], reason: str, grace_seconds: float) -> None:
    """SIGINT, then wait; a second interrupt, or the grace running out, kills."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=grace_seconds)
    except KeyboardInterrupt:
        proc.kill()
        proc.wait()
        raise Interrupted(
            f"{reason}, and interrupted again: it was killed before it finished. Its state "
            "lock may still be held and what it changed since its last state write is not in "
            "the state; the next plan reports the lock's holder and how to release it."
        ) from None
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise Interrupted(
            f"{reason}, and did not stop within {grace_seconds:.0f}s of SIGINT: it was killed. "
            "Its state lock may still be held; the next plan reports the lock's holder and "
            "how to release it."
        ) from None
    raise Interrupted(f"{reason}; it stopped, wrote its state and released its lock.")
