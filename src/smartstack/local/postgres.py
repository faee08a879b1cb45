"""A PostgreSQL server from Debian's packages, in a data directory we own.

``initdb`` and ``postgres`` refuse to run as root.  When we are root (CI, these
sessions) the server runs as the unprivileged ``postgres`` user, and its
directory lives under ``/var/lib/smartstack`` because root's home is not
traversable by other users.

It stands in for RDS (the moto launcher creates each instance's role and
database here), so it behaves as RDS PostgreSQL 15+ does where the applications
can tell: TLS is on, with a self-signed certificate made here, and every role
but the admin must come over TLS and log in with its password (SCRAM-SHA-256),
as with ``rds.force_ssl``.  Every start rewrites these settings, so a data
directory made by an older version gets them too.

Given the platform's private network (:mod:`smartstack.local.network`), it runs
inside that namespace and listens on the namespace's 127.0.0.1: only the
functions in the VPC reach it, as on AWS.  The admin ``postgres`` (the local
AWS's RDS, the tests) comes through the Unix socket only, in a directory only
the server's user (and root) can enter, with ``trust``: no TCP login is trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from smartstack.core.errors import CommandFailedError, PortInUseError, ToolMissingError
from smartstack.local import processes
from smartstack.local.network import PrivateNetwork

_SERVICE_USER = "postgres"

# Rewritten at every start; the first matching line decides.  Roles other than the
# admin reach the server only over TLS (no line matches them otherwise).
_HBA = """\
# Written by smartstack at every start: edits are lost.
# TYPE   DATABASE  USER      ADDRESS       METHOD
local    all       postgres                trust
hostssl  all       all       127.0.0.1/32  scram-sha-256
"""

_SETTINGS_FILE = "smartstack.conf"
_SETTINGS = """\
# Written by smartstack at every start: edits are lost.
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
password_encryption = 'scram-sha-256'
"""
_INCLUDE = f"include_if_exists = '{_SETTINGS_FILE}'"

_CERT_DAYS = 3650
_SOCKET_PATH_MAX = 90  # a Unix socket path has at most 107 bytes; ".s.PGSQL.<port>" follows


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
    network: PrivateNetwork | None = None  # the VPC it runs in; None: the machine's loopback

    @property
    def _digest(self) -> str:
        return hashlib.sha256(str(self.owner_dir.resolve()).encode()).hexdigest()[:10]

    @property
    def base(self) -> Path:
        if os.geteuid() != 0:
            return self.owner_dir / "postgres"
        return Path("/var/lib/smartstack") / f"postgres-{self._digest}"

    @property
    def socket_dir(self) -> Path:
        """Where the admin's socket is: the base directory, unless its path is too long."""
        if len(str(self.base)) <= _SOCKET_PATH_MAX:
            return self.base
        return Path(tempfile.gettempdir()) / f"smartstack-pg-{os.geteuid()}-{self._digest}"

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def log_file(self) -> Path:
        return self.base / "postgres.log"

    def admin_dsn(self, database: str = "postgres") -> str:
        """The admin's connection, through the socket: it needs no password and no network."""
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql://postgres@/{quote(database, safe='')}?host={host}&port={self.port}"

    @property
    def dsn(self) -> str:
        return self.admin_dsn()

    @property
    def address(self) -> str:
        """Where the databases' roles connect (RDS endpoints name it), and from where."""
        where = f"in the VPC namespace {self.network.name}" if self.network else "on this machine"
        return f"127.0.0.1:{self.port} ({where})"

    def pid(self) -> int | None:
        return processes.owned_pid(self.data_dir / "postmaster.pid", str(self.data_dir))

    def healthy(self) -> bool:
        if self.pid() is None:
            return False
        result = subprocess.run(
            [str(_bindir() / "pg_isready"), "-q", "-h", str(self.socket_dir), "-p", str(self.port)],
            check=False,
        )
        return result.returncode == 0

    def _in_its_network(self, pid: int) -> bool:
        """Whether the running server is in the network it should be in."""
        if self.network is not None:
            return self.network.holds(pid)
        try:
            return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino
        except OSError:
            return True  # cannot tell: leave it be

    def start(self) -> bool:
        """Initialise on first use and start; returns True when it was not running.

        A server already running from an older version's data directory gets the
        TLS and authentication settings too, by a reload.
        """
        pid = self.pid()
        if pid is not None and self.healthy() and self._in_its_network(pid):
            if self._configure():
                self._run("pg_ctl", "reload", "-D", str(self.data_dir))
            return False
        self.stop()  # one in another network (or an older version's) starts again in this one
        self.check_port()
        self._init()
        self._configure()
        self._socket_dir()
        options = f"-p {self.port} -h 127.0.0.1 -k {self.socket_dir}"
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
            network=self.network,
        )
        return True

    def _socket_dir(self) -> None:
        """The socket's directory, entered only by the server's user (and root)."""
        if self.socket_dir == self.base:
            return
        with contextlib.suppress(FileExistsError):
            self.socket_dir.mkdir(mode=0o700)
        found = self.socket_dir.lstat()  # a symlink is not ours, whatever it points at
        if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.geteuid():
            raise CommandFailedError(
                f"{self.socket_dir} is not a directory of yours; set SMARTSTACK_STATE_DIR to a "
                "shorter path so the socket lives in the state directory."
            )
        self.socket_dir.chmod(0o700)

    def check_port(self) -> None:
        """Refuse a port another process holds (ours may hold it)."""
        if self.pid() is None and processes.port_in_use(self.port):
            raise PortInUseError(
                f"port {self.port} is taken by another process; free it or pick another "
                "with --postgres-port / SMARTSTACK_POSTGRES_PORT."
            )

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

    def _configure(self) -> bool:
        """TLS and authentication; returns True when a file changed."""
        changed = self._ensure_certificate()
        changed |= self._write(self.data_dir / _SETTINGS_FILE, _SETTINGS.encode(), 0o600)
        conf = self.data_dir / "postgresql.conf"
        text = conf.read_text()
        if _INCLUDE not in text.splitlines():
            addition = f"\n# TLS and authentication, kept by smartstack\n{_INCLUDE}\n"
            changed |= self._write(conf, (text + addition).encode(), 0o600)
        changed |= self._write(self.data_dir / "pg_hba.conf", _HBA.encode(), 0o600)
        return changed

    def _ensure_certificate(self) -> bool:
        """A self-signed certificate for localhost and 127.0.0.1, unless a valid one is there."""
        from cryptography import x509  # the `local` extra: only the local platform needs it

        cert_file, key_file = self.data_dir / "server.crt", self.data_dir / "server.key"
        if key_file.is_file() and cert_file.is_file():
            cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
            if cert.not_valid_after_utc > datetime.now(UTC) + timedelta(days=1):
                return False
        cert_pem, key_pem = _self_signed_certificate()
        self._write(key_file, key_pem, 0o600)  # the server refuses a key others can read
        self._write(cert_file, cert_pem, 0o644)
        return True

    def _write(self, path: Path, content: bytes, mode: int) -> bool:
        """Replace ``path`` atomically, owned by the server's user; False when unchanged."""
        if path.is_file() and path.read_bytes() == content:
            return False
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chmod(tmp, mode)
        if os.geteuid() == 0:
            user = pwd.getpwnam(_SERVICE_USER)
            os.chown(tmp, user.pw_uid, user.pw_gid)
        tmp.replace(path)
        return True

    def _run(self, tool: str, *args: str, network: PrivateNetwork | None = None) -> None:
        """Run a server tool as the server's user; inside ``network`` when given."""
        argv = [str(_bindir() / tool), *args]
        kwargs: dict[str, Any] = {}
        if network is not None:  # only root makes one: enter it, then become the user
            drop = [f"--reuid={_SERVICE_USER}", f"--regid={_SERVICE_USER}", "--clear-groups"]
            argv = [*network.enter(), "setpriv", *drop, "--", *argv]
        elif os.geteuid() == 0:
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


def _self_signed_certificate() -> tuple[bytes, bytes]:
    """A new EC key and a self-signed certificate for localhost / 127.0.0.1, as PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=_CERT_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem
