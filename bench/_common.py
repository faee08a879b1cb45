"""What the benchmarks share: an isolated local platform and one table format."""

from __future__ import annotations

import os
import platform as host
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from smartstack.core.config import Settings, resolve_settings  # noqa: E402
from smartstack.local.isolated import isolated_environ, isolated_platform  # noqa: E402


@contextmanager
def isolated_settings() -> Iterator[Settings]:
    """Settings of a platform of its own (free ports, a temporary state directory), not started."""
    with tempfile.TemporaryDirectory() as state:
        yield resolve_settings(environ=isolated_environ(ROOT, Path(state)))


@contextmanager
def running_platform(iam_enforcement: str | None = None) -> Iterator[Settings]:
    """An isolated local platform (never a developer's own), purged after the block;
    ``iam_enforcement``: its local AWS's mode (enforce, audit, off; default enforce)."""
    base = dict(os.environ)
    if iam_enforcement is not None:
        base["SMARTSTACK_IAM_ENFORCEMENT"] = iam_enforcement
    with (
        tempfile.TemporaryDirectory() as state,
        isolated_platform(isolated_environ(ROOT, Path(state), base)) as settings,
    ):
        yield settings


def machine() -> str:
    return f"machine: {os.cpu_count()} cores, {host.machine()}, Python {host.python_version()}"


def row(name: str, samples: list[float], width: int = 34) -> str:
    return (
        f"{name:<{width}} {statistics.median(samples):>9.2f} {min(samples):>9.2f} "
        f"{max(samples):>9.2f} {len(samples):>5}"
    )
