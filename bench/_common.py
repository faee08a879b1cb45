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
from smartstack.local import platform  # noqa: E402
from smartstack.local.processes import free_port  # noqa: E402


@contextmanager
def isolated_settings() -> Iterator[Settings]:
    """Settings on free ports in a temporary state directory: never a developer's platform."""
    with tempfile.TemporaryDirectory() as state:
        yield resolve_settings(
            root=ROOT,
            moto_port=free_port(),
            postgres_port=free_port(),
            environ={"SMARTSTACK_STATE_DIR": state, "HOME": os.environ["HOME"]},
        )


@contextmanager
def running_platform() -> Iterator[Settings]:
    """An isolated local platform, started for the block and purged after it."""
    with isolated_settings() as settings:
        try:
            platform.up(settings)
            yield settings
        finally:
            platform.down(settings, purge=True)


def machine() -> str:
    return f"machine: {os.cpu_count()} cores, {host.machine()}, Python {host.python_version()}"


def row(name: str, samples: list[float], width: int = 34) -> str:
    return (
        f"{name:<{width}} {statistics.median(samples):>9.2f} {min(samples):>9.2f} "
        f"{max(samples):>9.2f} {len(samples):>5}"
    )
