"""The local AWS: a moto server on loopback, seeded so ids repeat run to run.

It runs through :mod:`smartstack.local.moto_server`, which fixes two places
where moto departs from AWS in ways the AWS provider trips over.

moto keeps everything in memory.  When it restarts, every bucket, table and
parameter is gone, which is why ``local up`` bootstraps the state backend
again each time it starts a fresh server.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from smartstack.errors import CommandFailedError, PortInUseError
from smartstack.local import processes

SEED = 42
_MARKER = "smartstack.local.moto_server"
ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class MotoServer:
    port: int
    directory: Path

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.directory / "moto.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / "moto.log"

    def pid(self) -> int | None:
        return processes.owned_pid(self.pid_file, _MARKER)

    def healthy(self) -> bool:
        try:
            # The dashboard page is static; data.json would serialise every resource.
            with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=5) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def start(self) -> bool:
        """Start unless ours is already up; returns True when a fresh server started."""
        if self.pid() is not None and self.healthy():
            return False
        if self.pid() is None and processes.port_in_use(self.port):
            raise PortInUseError(
                f"port {self.port} is taken by another process; free it or pick another "
                "with --moto-port / SMARTSTACK_MOTO_PORT."
            )
        self.stop()
        argv = [sys.executable, "-m", _MARKER, "-H", "127.0.0.1", "-p", str(self.port)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        processes.spawn(argv, self.log_file, self.pid_file, env)
        self._wait_healthy()
        self._seed()
        return True

    def stop(self) -> bool:
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        processes.terminate(pid)
        return True

    def _wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthy():
                return
            if self.pid() is None:
                break
            time.sleep(0.1)
        raise CommandFailedError(
            f"the moto server did not come up on port {self.port}; see {self.log_file}."
        )

    def _seed(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/seed?a={SEED}", method="POST")
        with urllib.request.urlopen(request, timeout=5) as resp:
            resp.read()

    def reset(self) -> None:
        """Forget every resource (used by tests between cases)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10) as resp:
            json.loads(resp.read() or b"{}")
