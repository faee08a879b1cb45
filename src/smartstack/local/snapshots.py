"""``local snapshot save | load | list | delete``: the local platform at one point in time.

A snapshot is the local AWS's state (every resource, object, item, parameter and
version, and with them the OpenTofu state, which lives in its S3 bucket) and
PostgreSQL's data directory, taken together.  Both servers are stopped while it is
taken, so nothing changes between the two copies: the local AWS writes its checkpoint
as it stops, PostgreSQL shuts down cleanly.  Whatever was running is started again.

A snapshot is written under a temporary name and renamed when whole; a load copies it
next to the live data and swaps the directories only once both copies are made, so an
interruption leaves the old state or the new, never a mix.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from smartstack.core.config import Settings
from smartstack.core.errors import CommandFailedError, UsageError
from smartstack.local import platform

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_AWS, _POSTGRES, _ABOUT = "aws-state", "postgres-data", "snapshot.json"


@dataclass(frozen=True)
class Snapshot:
    name: str
    path: Path
    created: str  # ISO 8601, UTC
    size_bytes: int
    seconds: float = 0.0  # how long the save or load took (0 when listed)


def snapshots_dir(settings: Settings) -> Path:
    return settings.local_dir / "snapshots"


def save(settings: Settings, name: str, *, replace_existing: bool = False) -> Snapshot:
    """Stop what runs, copy the local AWS's state and PostgreSQL's data, start it again."""
    _require_persistence(settings)
    started = time.monotonic()
    target = snapshots_dir(settings) / _checked(name)
    if target.exists() and not replace_existing:
        raise UsageError(
            f"snapshot {name!r} exists; choose another name, or pass --replace to overwrite it."
        )
    partial = target.with_name(f".{name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with _paused(settings):
        aws, data = platform.aws_state_dir(settings), platform.postgres_server(settings).data_dir
        if not aws.is_dir() and not data.is_dir():
            shutil.rmtree(partial)
            raise UsageError("the local platform has no state yet; run `smartstack up` first.")
        for source, copy in ((aws, partial / _AWS), (data, partial / _POSTGRES)):
            if source.is_dir():
                _copy(source, copy)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (partial / _ABOUT).write_text(json.dumps({"name": name, "created": created}) + "\n")
    os.sync()  # the copies on disk before the name says they are whole
    replaced = target.with_name(f".{name}.replaced")
    if target.exists():
        target.rename(replaced)
    partial.rename(target)
    shutil.rmtree(replaced, ignore_errors=True)
    return Snapshot(name, target, created, _size(target), time.monotonic() - started)


def load(settings: Settings, name: str) -> Snapshot:
    """Put the platform back to the snapshot: everything made since is gone."""
    _require_persistence(settings)
    started = time.monotonic()
    source = snapshots_dir(settings) / _checked(name)
    if not (source / _ABOUT).is_file():
        raise UsageError(f"no snapshot {name!r}; `smartstack local snapshot list` shows them.")
    with _paused(settings):
        aws, data = platform.aws_state_dir(settings), platform.postgres_server(settings).data_dir
        pairs = [(source / _AWS, aws), (source / _POSTGRES, data)]
        for saved, live in pairs:  # both copies made before either is swapped in
            shutil.rmtree(_incoming(live), ignore_errors=True)
            if saved.is_dir():
                _copy(saved, _incoming(live))
        os.sync()
        # Until both are swapped in, `local up` refuses to start a mix and names this load.
        intent = platform.interrupted_load_file(settings)
        intent.write_text(name + "\n")
        for saved, live in pairs:
            outgoing = live.with_name(live.name + ".outgoing")
            shutil.rmtree(outgoing, ignore_errors=True)
            if live.exists():
                live.rename(outgoing)
            if saved.is_dir():
                _incoming(live).rename(live)
            shutil.rmtree(outgoing, ignore_errors=True)
        intent.unlink()
    return replace(_read(source), seconds=time.monotonic() - started)


def list_snapshots(settings: Settings) -> list[Snapshot]:
    root = snapshots_dir(settings)
    if not root.is_dir():
        return []
    return [_read(path) for path in sorted(root.iterdir()) if (path / _ABOUT).is_file()]


def delete(settings: Settings, name: str) -> Snapshot:
    path = snapshots_dir(settings) / _checked(name)
    if not (path / _ABOUT).is_file():
        raise UsageError(f"no snapshot {name!r}; `smartstack local snapshot list` shows them.")
    snapshot = _read(path)
    shutil.rmtree(path)
    return snapshot


@contextmanager
def _paused(settings: Settings) -> Iterator[None]:
    """The platform stopped for the block, then started again as it was (its IAM mode
    too), if it was running."""
    current = platform.status(settings)
    running = any(c.running for c in current.components)
    mode = current.iam_enforcement
    platform.down(settings)
    try:
        yield
    finally:
        if running:
            platform.up(replace(settings, iam_enforcement=mode or settings.iam_enforcement))


def _require_persistence(settings: Settings) -> None:
    if not settings.aws_persistence:
        raise UsageError(
            "SMARTSTACK_AWS_PERSISTENCE is off: the local AWS keeps nothing on disk to save or "
            "load; unset it (or set it to on) and run `smartstack local up`."
        )


def _checked(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"{name!r} is not a snapshot name: use letters, digits, '.', '_' and '-' "
            "(up to 64, starting with a letter or digit)."
        )
    return name


def _incoming(live: Path) -> Path:
    return live.with_name(live.name + ".incoming")


def _copy(source: Path, target: Path) -> None:
    """A copy that keeps owners and modes (PostgreSQL's files belong to its user)."""
    result = subprocess.run(
        ["cp", "-a", "--reflink=auto", str(source), str(target)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise CommandFailedError(f"copying {source} failed: {result.stderr.strip()}")


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _read(path: Path) -> Snapshot:
    about = json.loads((path / _ABOUT).read_text())
    return Snapshot(path.name, path, str(about.get("created", "")), _size(path))
