"""``KEY=value`` files: the pins in ``scripts/versions.env`` and the local AWS's ``aws.env``."""

from __future__ import annotations


def read_env_file(text: str) -> dict[str, str]:
    """Parse ``KEY=value`` lines (comments and blanks skipped)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values
