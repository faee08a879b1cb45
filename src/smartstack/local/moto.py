"""The local AWS: a moto server on loopback, seeded so ids repeat run to run.

It runs through :mod:`smartstack.local.moto_server`, which fixes three places
where moto departs from AWS in ways the AWS provider or the applications trip
over; given ``postgres_dsn``, its RDS instances are databases in that server.

moto keeps everything in memory; given ``state_dir``, the server keeps it there
across restarts (:mod:`smartstack.local.persistence`), as AWS does.
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
from typing import Any

from smartstack.core.errors import CommandFailedError, PortInUseError
from smartstack.local import processes
from smartstack.local.iam import (
    ALLOWED_LOG,
    IAM_ENFORCEMENT,
    IAM_STATE_DIR,
    OFF,
    STATS_PATH,
    enforcement_mode,
)
from smartstack.local.lambda_service import RIE_VARIABLE
from smartstack.local.network import VARIABLE as NETWORK_VARIABLE
from smartstack.local.network import PrivateNetwork
from smartstack.local.oidc import GITHUB_ISSUER, LocalOidcIssuer
from smartstack.local.persistence import STATE_DIR_VARIABLE

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
    # Local IAM enforcement (smartstack.local.iam): "enforce", "audit" or "off" (or their
    # spellings, "1", "0"); None keeps a running server's mode and starts a new one with what
    # this process's environment says (enforce when unset).
    iam_enforcement: str | None = None
    # The Lambda RIE that runs invoked functions; None: Invoke answers moto's canned reply.
    lambda_rie: Path | None = None
    # The VPC the functions with a VpcConfig run in (it also listens on the network's
    # machine end); None: every function runs on the machine's network.
    network: PrivateNetwork | None = None
    # Where the server keeps its state across restarts; None: in memory only, lost on a stop.
    state_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.directory / "moto.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / "moto.log"

    def oidc_issuer(self, issuer: str = GITHUB_ISSUER) -> LocalOidcIssuer:
        """A local issuer whose tokens this server's STS trusts (for ``issuer``'s provider)."""
        return LocalOidcIssuer(self.directory, issuer)

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
        another PostgreSQL), another IAM enforcement mode or another state directory than
        the one asked for is replaced (its state stays on disk, where it kept any).
        """
        pid = self.pid()
        if pid is not None and self.healthy() and self._started_as_configured(pid):
            return False
        self.check_port()
        self.stop()
        argv = [sys.executable, "-m", _MARKER, "-H", "127.0.0.1", "-p", str(self.port)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.pop(RDS_POSTGRES_DSN, None)  # only ours, never one inherited from the shell
        if self.postgres_dsn:
            env[RDS_POSTGRES_DSN] = self.postgres_dsn
        env[IAM_ENFORCEMENT] = self.wanted_iam_mode()  # always explicit: a mode it reports
        env[IAM_STATE_DIR] = str(self.directory)  # where it records its IAM decisions
        env.pop(RIE_VARIABLE, None)
        if self.lambda_rie is not None:
            env[RIE_VARIABLE] = str(self.lambda_rie)
        env.pop(NETWORK_VARIABLE, None)
        if self.network is not None:
            env[NETWORK_VARIABLE] = self.network.variable()
        env.pop(STATE_DIR_VARIABLE, None)
        if self.state_dir is not None:
            env[STATE_DIR_VARIABLE] = str(self.state_dir)
        self._wait_healthy(processes.spawn(argv, self.log_file, self.pid_file, env))
        self._seed()
        return True

    def check_port(self) -> None:
        """Refuse a port another process holds (ours may hold it)."""
        if self.pid() is None and processes.port_in_use(self.port):
            raise PortInUseError(
                f"port {self.port} is taken by another process; free it or pick another "
                "with --moto-port / SMARTSTACK_MOTO_PORT."
            )

    def _started_as_configured(self, pid: int) -> bool:
        """Whether that process got the DSN we would pass (True when it cannot be told)
        and, when a mode is asked for, runs in that IAM enforcement mode."""
        environ = _environ_of(pid)
        if environ is not None and (environ.get(RDS_POSTGRES_DSN) or None) != (
            self.postgres_dsn or None
        ):
            return False
        if environ is not None and (environ.get(RIE_VARIABLE) or None) != (
            str(self.lambda_rie) if self.lambda_rie else None
        ):
            return False
        if environ is not None and (environ.get(NETWORK_VARIABLE) or None) != (
            self.network.variable() if self.network else None
        ):
            return False
        if environ is not None and (environ.get(STATE_DIR_VARIABLE) or None) != (
            str(self.state_dir) if self.state_dir else None
        ):
            return False
        return self.iam_enforcement is None or self.iam_mode() == self.wanted_iam_mode()

    def wanted_iam_mode(self) -> str:
        """The mode a server started now gets: the one asked for, else this process's
        SMARTSTACK_IAM_ENFORCEMENT, else enforce."""
        if self.iam_enforcement is not None:
            return enforcement_mode({IAM_ENFORCEMENT: self.iam_enforcement})
        return enforcement_mode(os.environ)

    def iam_mode(self) -> str:
        """The IAM enforcement mode of our server, which answers, as it reports it (a server
        that does not enforce has no report: off)."""
        return str(self.iam_stats("brief").get("mode", OFF))

    def stop(self) -> bool:
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        processes.terminate(pid)
        return True

    def _wait_healthy(self, pid: int, timeout: float = 90.0) -> None:
        """Until the server answers; given up at once when the child we started died.

        The child is watched by its PID alone. :meth:`pid` also checks the command line
        (so that ``stop`` never kills another process); with it, a CI run once reported a
        start failed within seconds while the server came up, cause not found.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthy():
                return
            if not processes.pid_alive(pid):
                break
            time.sleep(0.1)
        raise CommandFailedError(
            f"the moto server did not come up on port {self.port}; see {self.log_file}."
        )

    def _seed(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/seed?a={SEED}", method="POST")
        with urllib.request.urlopen(request, timeout=5) as resp:
            resp.read()

    def iam_stats(self, query: str = "") -> dict[str, Any]:
        """What the IAM enforcement decided so far (``query``: ``brief``, or
        ``refusals_since=N``; see smartstack.local.iam.enforcer).

        Empty when the server does not enforce (moto answers the path with 404).
        """
        url = f"{self.url}{STATS_PATH}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                stats: dict[str, Any] = json.loads(resp.read())
                return stats
        except urllib.error.HTTPError:
            return {}

    def iam_refusals(self, since: int = 0) -> list[dict[str, Any]]:
        """The requests refused (audit mode: that would have been) after the ``since``-th,
        each with its number (``seq``), principal, operation and message."""
        refusals: list[dict[str, Any]] = self.iam_stats(f"refusals_since={since}").get(
            "refusals", []
        )
        return refusals

    def iam_allowed(self) -> list[dict[str, Any]]:
        """The record of what IAM enforcement allowed: every (principal, action, resource)
        once per server process, from ``iam-allowed.jsonl`` in the state directory (kept
        across restarts; a line still being written is skipped)."""
        try:
            lines = (self.directory / ALLOWED_LOG).read_text().splitlines()
        except FileNotFoundError:
            return []
        records: list[dict[str, Any]] = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def reset(self) -> None:
        """Forget every resource (used by tests between cases)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10) as resp:
            json.loads(resp.read() or b"{}")


def _environ_of(pid: int) -> dict[str, str] | None:
    """The environment a process of ours started with; None when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    pairs = (entry.split(b"=", 1) for entry in raw.split(b"\0") if b"=" in entry)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}
