"""A PostgreSQL server from Debian's packages, in a data directory we own.

``initdb`` and ``postgres`` refuse to run as root.  When we are root (CI, these
sessions) the server runs as the unprivileged ``postgres`` user, and its
directory lives under ``/var/lib/smartstack`` because root's home is not
traversable by other users.  Authentication is ``trust`` on 127.0.0.1 only:
this server holds nothing but local test data.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartstack.errors import CommandFailedError, PortInUseError, ToolMissingError
from smartstack.local import processes

_SERVICE_USER = "postgres"


def _bindir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_major, reverse=True)
    if not candidates:
        raise ToolMissingError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql; "
            "run scripts/setup.sh (it installs Debian's postgresql package)."
        )
    return candidates[0].parent


def _major(initdb: Path) -> int:
    try:
        return int(initdb.parent.parent.name)
    except ValueError:
        return 0


@dataclass(frozen=True)
class PostgresServer:
    port: int
    owner_dir: Path  # the tool's state directory this server belongs to

    @property
    def base(self) -> Path:
        if os.geteuid() != 0:
            return self.owner_dir / "postgres"
        digest = hashlib.sha256(str(self.owner_dir.resolve()).encode()).hexdigest()[:10]
        return Path("/var/lib/smartstack") / f"postgres-{digest}"

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def log_file(self) -> Path:
        return self.base / "postgres.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def pid(self) -> int | None:
        return processes.owned_pid(self.data_dir / "postmaster.pid", str(self.data_dir))

    def healthy(self) -> bool:
        if self.pid() is None:
            return False
        result = subprocess.run(
            [str(_bindir() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            check=False,
        )
        return result.returncode == 0

    def start(self) -> bool:
        """Initialise on first use and start; returns True when it was not running."""
        if self.healthy():
            return False
        if self.pid() is None and processes.port_in_use(self.port):
            raise PortInUseError(
                f"port {self.port} is taken by another process; free it or pick another "
                "with --postgres-port / SMARTSTACK_POSTGRES_PORT."
            )
        self._init()
        options = f"-p {self.port} -h 127.0.0.1 -k {self.base}"
        self._run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "30",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
        )
        return True

    def stop(self) -> bool:
        if self.pid() is None:
            return False
        self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir))
        return True

    def purge(self) -> None:
        """Delete the data directory (after ``stop``)."""
        shutil.rmtree(self.base, ignore_errors=True)

    def _init(self) -> None:
        if (self.data_dir / "PG_VERSION").is_file():
            return
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o700)
        if os.geteuid() == 0:
            user = pwd.getpwnam(_SERVICE_USER)
            os.chown(self.base, user.pw_uid, user.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-instructions",
        )

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(_bindir() / tool), *args]
        kwargs: dict[str, Any] = {}
        if os.geteuid() == 0:
            kwargs = {"user": _SERVICE_USER, "group": _SERVICE_USER, "extra_groups": []}
        result = subprocess.run(
            argv, capture_output=True, text=True, check=False, cwd="/", **kwargs
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise CommandFailedError(
                f"{tool} failed for the local PostgreSQL on port {self.port}: "
                f"{detail[-1] if detail else 'no output'} (log: {self.log_file})."
            )
