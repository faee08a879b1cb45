"""Masks secret values in anything we print or log.

Every secret value the tool reads is registered here; the renderer and the
subprocess log relays pass all text through :meth:`Redactor.redact`.
"""

from __future__ import annotations

import json

MASK = "****"
_MIN_LENGTH = 4  # shorter values would mask ordinary words; they are refused at `set`


class Redactor:
    """Collects secret values and replaces them wherever they appear."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def register(self, value: str) -> None:
        """Mask ``value``, and the forms JSON gives it (quotes, backslashes and non-ASCII
        characters escaped), wherever text carrying it is printed or logged."""
        if len(value) < _MIN_LENGTH:
            return
        self._values.add(value)
        for ascii_only in (True, False):
            self._values.add(json.dumps(value, ensure_ascii=ascii_only)[1:-1])

    def redact(self, text: str) -> str:
        # Longest first, so a secret containing another is masked whole.
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, MASK)
        return text
