"""OpenTofu stopped as it expects: one SIGINT and time to write its state, never a bare kill.

A stand-in for ``tofu`` (bash) traps SIGINT the way OpenTofu handles it: it takes a
moment to "write its state", then exits.  ``Tofu.run`` runs in a child Python process,
which the test interrupts as a terminal's Ctrl-C or a cancelled CI job would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

FAKE_TOFU = """#!/usr/bin/env bash
trap 'echo interrupted > "$DIR/signal"; sleep "$SAVE"; echo saved > "$DIR/state"; exit 1' INT
echo started > "$DIR/started"
for i in $(seq "${LOOPS:-600}"); do echo "still applying ($i)"; sleep 0.1; done
echo finished > "$DIR/finished"
"""

RUNNER = """
import sys
from pathlib import Path
from types import SimpleNamespace
from smartstack.aws.target import AwsTarget
from smartstack.cli.app import interrupt_on_signals
from smartstack.core.errors import SmartStackError
from smartstack.infra.tofu import Tofu

interrupt_on_signals()  # as the CLI's main() does
here = Path(sys.argv[1])
toolchain = SimpleNamespace(tofu=here / "tofu", cli_config=here / "tofu.rc")
tofu = Tofu(toolchain, AwsTarget({}), here, here / "data", "stack dev",
            timeout_seconds=float(sys.argv[2]), grace_seconds=10)
try:
    tofu.run("apply")
except SmartStackError as exc:
    print(exc.message, flush=True)
    sys.exit(3)
"""


def _start(
    tmp_path: Path,
    *,
    timeout: float = 60,
    save: float = 1.0,
    sigint_ignored: bool = False,
    loops: int = 600,
) -> subprocess.Popen[str]:
    (tmp_path / "tofu").write_text(FAKE_TOFU)
    (tmp_path / "tofu").chmod(0o755)
    env = dict(
        os.environ, DIR=str(tmp_path), SAVE=str(save), LOOPS=str(loops),
        PYTHONPATH=str(ROOT / "src"),
    )  # fmt: skip
    # A shell starts a background job with SIGINT ignored, and the job's children inherit it.
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(tmp_path), str(timeout)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=ignore,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline and proc.poll() is None, "the fake tofu never started"
        time.sleep(0.05)
    return proc


@pytest.mark.parametrize(
    ("signum", "sigint_ignored"),
    [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["SIGINT", "SIGTERM", "SIGINT-after-an-ignoring-parent"],
)
def test_an_interrupt_gives_tofu_sigint_and_waits_for_its_state(
    tmp_path: Path, signum: signal.Signals, sigint_ignored: bool
) -> None:
    proc = _start(tmp_path, sigint_ignored=sigint_ignored)
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=30)

    assert (tmp_path / "signal").read_text() == "interrupted\n"
    assert (tmp_path / "state").read_text() == "saved\n"  # it was not killed mid-write
    assert proc.returncode == 3
    assert "tofu apply (stack dev) was interrupted; it stopped, wrote its state" in output


def test_a_second_interrupt_kills_and_says_what_is_left(tmp_path: Path) -> None:
    proc = _start(tmp_path, save=20)
    proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 10
    while not (tmp_path / "signal").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)

    assert not (tmp_path / "state").exists()
    assert proc.returncode == 3
    assert "interrupted again: it was killed" in output and "state lock" in output


def test_a_run_past_its_time_limit_is_stopped_like_an_interrupt(tmp_path: Path) -> None:
    proc = _start(tmp_path, timeout=2)
    output, _ = proc.communicate(timeout=30)

    assert (tmp_path / "state").read_text() == "saved\n"
    assert "tofu apply (stack dev) ran past its time limit (2s); it stopped" in output


def test_a_killed_runner_leaves_tofu_to_finish_on_its_own(tmp_path: Path) -> None:
    """SIGKILL of the deploy (nothing of it runs after) must not take OpenTofu down with it:
    writing to a pipe nobody reads any more would kill it mid-apply, holding its lock."""
    proc = _start(tmp_path, loops=30)
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 30
    while not (tmp_path / "finished").exists():
        assert time.monotonic() < deadline, "the fake tofu died with its runner"
        time.sleep(0.1)
