"""A crash of the local AWS, as the persistence tests cause it."""

from __future__ import annotations

import os
import signal
import time

from smartstack.local.moto import MotoServer
from smartstack.local.processes import port_in_use


def kill(moto: MotoServer) -> None:
    """SIGKILL the server (no checkpoint, no atexit), and wait until its port is free."""
    pid = moto.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while port_in_use(moto.port) and time.monotonic() < deadline:  # its threads still exit
        time.sleep(0.01)
