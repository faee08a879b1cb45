"""The local AWS: a moto server on loopback, seeded so ids repeat run to run.

It runs through :mod:`smartstack.local.moto_server`, which fixes three places
where moto departs from AWS in ways the AWS provider or the applications trip
over; given ``postgres_dsn``, its RDS instances are databases in that server.

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

from smartstack.core.errors import CommandFailedError, PortInUseError
from smartstack.local import processes
from smartstack.local.iam import IAM_ENFORCEMENT, IAM_STATE_DIR

SEED = 42
_MARKER = "smartstack.local.moto_server"
RDS_POSTGRES_DSN = "SMARTSTACK_RDS_POSTGRES_DSN"  # read by the launcher
ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class MotoServer:
    port: int
    directory: Path
    # The admin DSN of the PostgreSQL that backs RDS instances; None: stock moto RDS.
    postgres_dsn: str | None = None
    # --- local IAM enforcement (issue 11; smartstack.local.iam) ---
    # "1" or "audit" sets SMARTSTACK_IAM_ENFORCEMENT for the server, "0" turns it off;
    # None passes on what this process's environment says (off when unset).
    iam_enforcement: str | None = None

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
        """Start unless ours is already up; returns True when a fresh server started.

        One of ours started with another RDS backing (by an older version, or for
        another PostgreSQL) is replaced: its in-memory state is lost, as on any start.
        """
        pid = self.pid()
        if pid is not None and self.healthy() and self._started_with_our_dsn(pid):
            return False
        self.check_port()
        self.stop()
        argv = [sys.executable, "-m", _MARKER, "-H", "127.0.0.1", "-p", str(self.port)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.pop(RDS_POSTGRES_DSN, None)  # only ours, never one inherited from the shell
        if self.postgres_dsn:
            env[RDS_POSTGRES_DSN] = self.postgres_dsn
        # --- local IAM enforcement (issue 11): the mode, and where it records decisions ---
        if self.iam_enforcement is not None:
            env[IAM_ENFORCEMENT] = self.iam_enforcement
        env[IAM_STATE_DIR] = str(self.directory)
        # --- end of local IAM enforcement ---
        processes.spawn(argv, self.log_file, self.pid_file, env)
        self._wait_healthy()
        self._seed()
        return True

    def check_port(self) -> None:
        """Refuse a port another process holds (ours may hold it)."""
        if self.pid() is None and processes.port_in_use(self.port):
            raise PortInUseError(
                f"port {self.port} is taken by another process; free it or pick another "
                "with --moto-port / SMARTSTACK_MOTO_PORT."
            )

    def _started_with_our_dsn(self, pid: int) -> bool:
        """Whether that process got the DSN we would pass (True when it cannot be told)."""
        try:
            raw = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            return True
        entries = dict(e.split(b"=", 1) for e in raw.split(b"\0") if b"=" in e)
        running = entries.get(RDS_POSTGRES_DSN.encode(), b"").decode() or None
        return running == (self.postgres_dsn or None)

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
