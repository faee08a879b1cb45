"""python-hcl2, one call at a time.

Its serializer keeps state (whether it is inside an interpolation) in a context object
that every call shares, a default argument. Two threads parsing at once, as
``smartstack up`` does when it plans the environments side by side, can therefore get
strings with their quotes, and can leave that state set for the rest of the process.
Every use of python-hcl2 in smartstack goes through here, under one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()


@contextmanager
def hcl2_exclusively() -> Iterator[Any]:
    """The ``hcl2`` module, for this thread alone while the block runs."""
    import hcl2  # builds a parser at first use: paid only by commands that read HCL

    with _LOCK:
        yield hcl2


def load_file(path: Path) -> dict[str, Any]:
    """A .tf file as python-hcl2 returns it (strings keep their quotes)."""
    with hcl2_exclusively() as hcl2, path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = hcl2.load(handle)
    return loaded
