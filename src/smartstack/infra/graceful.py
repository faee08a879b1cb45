"""Run a child that must be stopped gracefully, within a time limit.

OpenTofu, sent SIGINT, stops what it is doing, writes its state and releases its state
lock; killed, it loses both (resources made since its last write are orphaned and the
lock stays held).  ``subprocess.run`` kills the child a quarter of a second after an
interrupt.  Here the child runs in a session of its own (a terminal's Ctrl-C reaches
only us) and, on an interrupt, a SIGTERM turned into one, or the time limit, it gets
exactly one SIGINT and ``grace_seconds`` to finish.  A second interrupt kills it, and
the error says what that leaves behind.

Its output goes to files, never to a pipe: if we are killed outright (SIGKILL, nothing of
ours runs after), a child writing to a pipe nobody reads any more would die of SIGPIPE
mid-apply, holding its lock.  Writing to a file, it runs on to its end, writes its state
and releases its lock by itself.
"""

from __future__ import annotations

import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

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
    with tempfile.TemporaryDirectory(prefix="smartstack-run-") as tmp:
        paths = [Path(tmp, "stdout")] + ([] if merged else [Path(tmp, "stderr")])
        with open(paths[0], "w") as stdout, open(paths[-1], "a") as stderr:
            proc = subprocess.Popen(
                list(argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=stdout,
                stderr=subprocess.STDOUT if merged else stderr, text=True,
                start_new_session=True,
            )  # fmt: skip
        sinks: list[list[str]] = [[] for _ in paths]
        readers = [
            _follow(path, sink, on_line if index == 0 else None, proc, what)
            for index, (path, sink) in enumerate(zip(paths, sinks, strict=True))
        ]
        try:
            _wait(proc, what, timeout_seconds, grace_seconds)
        finally:
            for reader in readers:
                reader.join()
    out, err = "".join(sinks[0]), "" if merged else "".join(sinks[-1])
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


def _wait(
    proc: subprocess.Popen[str], what: str, timeout_seconds: float, grace_seconds: float
) -> None:
    deadline = time.monotonic() + timeout_seconds
    try:
        while proc.poll() is None:
            if time.monotonic() >= deadline:
                limit = f"{what} ran past its time limit ({timeout_seconds:.0f}s)"
                _stop(proc, limit, grace_seconds)
            time.sleep(0.05)
    except KeyboardInterrupt:
        _stop(proc, f"{what} was interrupted", grace_seconds)


def _follow(
    path: Path,
    sink: list[str],
    on_line: Callable[[str], None] | None,
    proc: subprocess.Popen[str],
    what: str,
) -> threading.Thread:
    """Read ``path`` as the child writes it, line by line, until the child has exited and
    everything it wrote is read."""

    def pump() -> None:
        with open(path, "rb") as stream:  # bytes: a character cut mid-write stays whole
            pending = b""
            while True:
                chunk = stream.read(65536)
                if not chunk:
                    if proc.poll() is None:
                        time.sleep(0.02)
                        continue
                    chunk = stream.read()
                    if not chunk:
                        break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    emit(line.decode(errors="replace"), "\n")
            if pending:
                emit(pending.decode(errors="replace"), "")

    def emit(line: str, end: str) -> None:
        sink.append(line + end)
        if on_line is not None:
            on_line(line)

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
