"""The environments' VPC on this machine: a Linux network namespace.

On AWS the database is private: only what runs in the VPC reaches it, and a
GitHub runner that deploys cannot connect to it.  Here PostgreSQL runs inside a
network namespace that stands for the VPC and listens on that namespace's
loopback only; the functions with a ``VpcConfig`` run in it too.  A process on
the machine's own network (the deploying tool, a test) finds nothing listening
at the database's endpoint, as a runner finds RDS unreachable.

A veth pair joins the namespace to the machine with link-local addresses
(169.254.0.0/16, never a private or public range: traffic stays on this
machine).  The local AWS also listens on the machine's end, as a VPC reaches
AWS through its endpoints; the local Lambda service reaches the functions'
runtimes at the namespace's end.

Making namespaces needs root (CI runs as root).  Without it there is no private
network: PostgreSQL listens on the machine's loopback and ``local status``
says that the database is reachable from this machine (docs/local-platform.md).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from smartstack.core.errors import CommandFailedError

NETNS_DIR = Path("/run/netns")
VARIABLE = "SMARTSTACK_PRIVATE_NETWORK"  # "<namespace> <machine's address> <VPC's address>"
# 169.254.169.x holds the instance metadata address and 169.254.170.x the container
# credentials one on AWS machines: never ours.
_RESERVED_THIRD_OCTETS = frozenset({0, 169, 170, 255})
_BLOCKS_PER_OCTET = 64  # /30 blocks


@dataclass(frozen=True)
class PrivateNetwork:
    """One platform's VPC namespace and the veth pair that joins it to the machine."""

    name: str
    host_address: str  # the machine's end: the local AWS listens here too
    vpc_address: str  # the namespace's end: the functions' runtimes listen here

    @classmethod
    def for_platform(cls, state_dir: Path) -> PrivateNetwork:
        """The network of the platform whose state lives in ``state_dir`` (stable per directory,
        so two platforms on one machine get different namespaces and addresses)."""
        digest = hashlib.sha256(str(state_dir.resolve()).encode()).digest()
        octets = [o for o in range(1, 255) if o not in _RESERVED_THIRD_OCTETS]
        third = octets[int.from_bytes(digest[:2], "big") % len(octets)]
        block = digest[2] % _BLOCKS_PER_OCTET * 4
        return cls(
            f"smartstack-{digest.hex()[:8]}",
            f"169.254.{third}.{block + 1}",
            f"169.254.{third}.{block + 2}",
        )

    @classmethod
    def from_variable(cls, value: str | None) -> PrivateNetwork | None:
        """The network a launcher was given (:data:`VARIABLE`); None without one."""
        parts = (value or "").split()
        if len(parts) != 3:
            return None
        for address in parts[1:]:
            if not ipaddress.ip_address(address).is_link_local:
                raise ValueError(f"{VARIABLE}: {address} is not a link-local address")
        return cls(*parts)

    def variable(self) -> str:
        return f"{self.name} {self.host_address} {self.vpc_address}"

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    @property
    def _host_link(self) -> str:
        return f"ss{self.name.removeprefix('smartstack-')}h"  # at most 15 characters

    @property
    def _vpc_link(self) -> str:
        return f"ss{self.name.removeprefix('smartstack-')}v"

    def exists(self) -> bool:
        """The namespace and the machine's end of its link, with its address."""
        if not self.path.exists():
            return False
        shown = _ip("-4", "-o", "addr", "show", "dev", self._host_link, check=False)
        return f" {self.host_address}/30 " in shown

    def create(self) -> bool:
        """Make the namespace and its link unless they are there; True when made."""
        if self.exists():
            return False
        self.delete()  # a half-made one from an interrupted start
        ns = self.name
        _ip("netns", "add", ns)
        _ip("link", "add", self._host_link, "type", "veth", "peer", "name", self._vpc_link,
            "netns", ns)  # fmt: skip
        _ip("addr", "add", f"{self.host_address}/30", "dev", self._host_link)
        _ip("link", "set", self._host_link, "up")
        _ip("-n", ns, "addr", "add", f"{self.vpc_address}/30", "dev", self._vpc_link)
        _ip("-n", ns, "link", "set", self._vpc_link, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        return True

    def delete(self) -> None:
        """Remove the link and the namespace (processes still inside keep theirs)."""
        _ip("link", "delete", self._host_link, check=False)
        if self.path.exists():
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


def private_network(state_dir: Path) -> PrivateNetwork | None:
    """The platform's VPC namespace where this machine can make one (root, ``ip``, ``nsenter``);
    None elsewhere."""
    if os.geteuid() != 0 or not (shutil.which("ip") and shutil.which("nsenter")):
        return None
    return PrivateNetwork.for_platform(state_dir)


def _ip(*args: str, check: bool = True) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip() or f"exit {result.returncode}"
        raise CommandFailedError(
            f"`ip {' '.join(args)}` failed: {detail}; the local platform's private network "
            "needs root and iproute2 (scripts/setup.sh installs it)."
        )
    return result.stdout
