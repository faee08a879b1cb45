"""A local platform of its own: free ports and a private state directory.

Tests and benchmarks must never touch a developer's own ``smartstack local up``
(port 5010, ``~/.local/state/smartstack``).  Both get their platform here, so
"isolated" means the same thing in both places.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from smartstack.core.config import Settings, resolve_settings
from smartstack.local import platform
from smartstack.local.processes import free_port


def isolated_environ(
    root: Path, state_dir: Path, base: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """``base`` without AWS_*/SMARTSTACK_* settings, pointed at a platform of its own.

    The result selects the same platform for this process (``resolve_settings``)
    and for a CLI run as a child process.  The toolchain cache is shared, and so is
    the IAM enforcement mode when one is set.
    """
    env = {k: v for k, v in base.items() if not k.startswith(("AWS_", "SMARTSTACK_"))}
    env.update(
        SMARTSTACK_ROOT=str(root),
        SMARTSTACK_STATE_DIR=str(state_dir),
        SMARTSTACK_MOTO_PORT=str(free_port()),
        SMARTSTACK_POSTGRES_PORT=str(free_port()),
        SMARTSTACK_TARGET="local",
    )
    # audit: a suite that records refusals instead of failing on them; persistence off: a
    # benchmark's baseline
    for kept in ("SMARTSTACK_CACHE", "SMARTSTACK_IAM_ENFORCEMENT", "SMARTSTACK_AWS_PERSISTENCE"):
        if base.get(kept):
            env[kept] = base[kept]
    return env


@contextmanager
def isolated_platform(environ: Mapping[str, str]) -> Iterator[Settings]:
    """The platform ``environ`` selects, started for the block and purged after it."""
    settings = resolve_settings(environ=environ)
    try:
        platform.up(settings)
        yield settings
    finally:
        platform.down(settings, purge=True)
