"""The environments' VPC on this machine: a Linux network namespace with a loopback only.

On AWS the database is private: only what runs in the VPC reaches it, and a
GitHub runner that deploys cannot connect to it.  Here PostgreSQL runs inside a
network namespace that stands for the VPC and listens on that namespace's
loopback; the functions with a ``VpcConfig`` run in it too.  A process on the
machine's own network (the deploying tool, a test) finds nothing listening at
the database's endpoint, as a runner finds RDS unreachable.

The namespace has no link to the machine at all, so nothing in it reaches the
machine's network.  The two paths that AWS has are sockets the moto launcher
opens *inside* the namespace from its own process (a socket keeps the namespace
it was made in, :meth:`PrivateNetwork.new_socket`):

* the VPC's endpoint of the local AWS: a listener on the namespace's
  ``127.0.0.1:<port of the local AWS>`` whose connections are relayed to the
  local AWS (:mod:`smartstack.local.vpc_endpoint`), so the functions' usual
  ``AWS_ENDPOINT_URL`` works unchanged, as a VPC's interface endpoints answer at
  the service's own name;
* Lambda's service reaching a function's runtime: the local Lambda service
  connects to the runtime's port inside the namespace.

Making namespaces needs root (CI runs as root).  As root, ``local up`` refuses
to go on without the tools rather than fall back to a public database.  Without
root there is no private network: PostgreSQL listens on the machine's loopback
and ``local status`` says the database is reachable from this machine
(docs/local-platform.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from smartstack.core.errors import CommandFailedError, ToolMissingError

NETNS_DIR = Path("/run/netns")
VARIABLE = "SMARTSTACK_PRIVATE_NETWORK"  # the namespace's name, for the moto launcher
_CLONE_NEWNET = 0x40000000
_TOOLS = ("ip", "nsenter", "setpriv")


@dataclass(frozen=True)
class PrivateNetwork:
    """One platform's VPC namespace."""

    name: str

    @classmethod
    def for_platform(cls, state_dir: Path) -> PrivateNetwork:
        """The network of the platform whose state lives in ``state_dir`` (stable per directory,
        so two platforms on one machine get two namespaces)."""
        digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()
        return cls(f"smartstack-{digest[:12]}")

    @classmethod
    def from_variable(cls, value: str | None) -> PrivateNetwork | None:
        """The network a launcher was given (:data:`VARIABLE`); None without one."""
        name = (value or "").strip()
        if not name:
            return None
        if not name.startswith("smartstack-") or "/" in name or not name.isascii():
            raise ValueError(f"{VARIABLE}: {name!r} is not a namespace of ours")
        return cls(name)

    def variable(self) -> str:
        return self.name

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    def exists(self) -> bool:
        """The namespace, with its loopback up."""
        if not self.path.exists():
            return False
        shown = _ip("-n", self.name, "-o", "link", "show", "lo", check=False)
        return ",UP" in shown or "<UP" in shown

    def create(self) -> bool:
        """Make the namespace (loopback up) unless it is there; True when made.  A namespace
        left half-made by an interrupted start is repaired."""
        if self.exists():
            return False
        if not self.path.exists():
            _ip("netns", "add", self.name)
        _ip("-n", self.name, "link", "set", "lo", "up")
        return True

    def delete(self) -> None:
        """End whatever still runs inside (a function's runtime a killed server left), then
        remove the namespace."""
        if not self.path.exists():
            return
        for pid in _ip("netns", "pids", self.name, check=False).split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        _ip("netns", "delete", self.name, check=False)

    def enter(self) -> list[str]:
        """The argv prefix that runs a command inside the namespace."""
        return ["nsenter", f"--net={self.path}", "--"]

    def holds(self, pid: int) -> bool:
        """Whether process ``pid`` runs inside this namespace."""
        try:
            return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(self.path).st_ino
        except OSError:
            return False

    def new_socket(self, family: int = socket.AF_INET) -> socket.socket:
        """A TCP socket of the namespace, made by a thread that entered it (the namespace of a
        socket is the one it was made in, whichever thread uses it later)."""
        made: list[socket.socket | BaseException] = []

        def inside() -> None:
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    if _libc().setns(fd, _CLONE_NEWNET) != 0:
                        errno = ctypes.get_errno()
                        raise OSError(errno, f"setns into {self.name}: {os.strerror(errno)}")
                finally:
                    os.close(fd)
                made.append(socket.socket(family, socket.SOCK_STREAM))
            except BaseException as exc:  # handed to the caller's thread
                made.append(exc)

        # The thread ends right after, so no other work of this process runs in the namespace.
        worker = threading.Thread(target=inside, name=f"enter-{self.name}")
        worker.start()
        worker.join()
        result = made[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def connect(self, port: int, timeout: float) -> socket.socket:
        """A connection to ``127.0.0.1:port`` inside the namespace."""
        sock = self.new_socket()
        try:
            sock.settimeout(timeout)
            sock.connect(("127.0.0.1", port))
        except BaseException:
            sock.close()
            raise
        return sock

    def listening(self, port: int) -> bool:
        """Whether something listens on ``127.0.0.1:port`` inside the namespace."""
        with self.new_socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    def free_port(self) -> int:
        """A port nobody listens on inside the namespace right now."""
        with self.new_socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])


def private_network(state_dir: Path) -> PrivateNetwork | None:
    """The platform's VPC namespace when this process is root; None otherwise.  As root the
    tools must be there: a missing one is an error, never a silently public database."""
    if os.geteuid() != 0:
        return None
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        raise ToolMissingError(
            f"the private network needs {', '.join(missing)} on PATH (iproute2, util-linux; "
            "scripts/setup.sh installs them; as root, /usr/sbin must be on PATH)."
        )
    return PrivateNetwork.for_platform(state_dir)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _ip(*args: str, check: bool = True) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip() or f"exit {result.returncode}"
        raise CommandFailedError(
            f"`ip {' '.join(args)}` failed: {detail}; the local platform's private network "
            "needs root and iproute2 (scripts/setup.sh installs it)."
        )
    return result.stdout
