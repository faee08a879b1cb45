"""The release this code belongs to, from the ``release.json`` the build writes."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

_RELEASE_FILE = Path(__file__).resolve().parents[1] / "release.json"


@cache
def release_id() -> str:
    try:
        return str(json.loads(_RELEASE_FILE.read_text())["release"])
    except (OSError, ValueError, KeyError):
        return "unknown"
