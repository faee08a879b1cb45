"""The one place that prints.

People get Rich tables and lines on stdout; scripts get ``--json``: a
versioned envelope ``{"schema", "status", "exit_code", "data", "errors"}``,
used for failures too.  Logs and progress go to stderr.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any, TextIO, cast

from rich.console import Console
from rich.markup import escape

from smartstack.core.errors import ExitCode, SmartStackError

SCHEMA_VERSION = 1


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums, paths and tuples as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value


class RedactingStream(io.TextIOBase):
    """A text stream that masks secrets on the way to the real one.

    The real stream is looked up at each write (``sys.stdout`` may be swapped,
    as test runners do), so every byte a Console prints passes the redactor.
    """

    def __init__(self, stream: Callable[[], TextIO], redact: Callable[[str], str]) -> None:
        super().__init__()
        self._stream = stream
        self._redact = redact

    def write(self, text: str) -> int:
        self._stream().write(self._redact(text))
        return len(text)

    def flush(self) -> None:
        self._stream().flush()

    def isatty(self) -> bool:
        return self._stream().isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream(), "encoding", "utf-8") or "utf-8"


class Renderer:
    """Renders results and errors for people or for scripts; everything is redacted."""

    def __init__(self, as_json: bool, redact: Callable[[str], str] = lambda s: s) -> None:
        self.as_json = as_json
        self.redact = redact
        out = cast(TextIO, RedactingStream(lambda: sys.stdout, redact))
        err = cast(TextIO, RedactingStream(lambda: sys.stderr, redact))
        self.out = Console(file=out, highlight=False, soft_wrap=True)
        self.err = Console(file=err, highlight=False, soft_wrap=True)

    def result(self, data: Any, human: Callable[[Console], None], code: int = ExitCode.OK) -> None:
        """Print a command's result; a non-zero ``code`` marks a result that is a failure."""
        if self.as_json:
            self._envelope("ok" if code == ExitCode.OK else "failed", code, data, [])
        else:
            human(self.out)

    def error(self, exc: SmartStackError) -> None:
        if self.as_json:
            error = {"code": exc.code, "message": self.redact(exc.message)}
            self._envelope("error", exc.exit_code, None, [error])
        else:  # the message is text: a "[/x]" in it is not markup
            self.err.print(f"[bold red]error:[/] {escape(self.redact(exc.message))}", markup=True)

    def progress(self, message: str) -> None:
        """Progress lines go to stderr so stdout stays clean data."""
        self.err.print(self.redact(message), markup=False)

    @contextmanager
    def step(self, message: str) -> Iterator[None]:
        if self.as_json:
            yield
            return
        with self.err.status(message):
            yield

    def _envelope(self, status: str, code: int, data: Any, errors: list[dict[str, str]]) -> None:
        envelope = {
            "schema": SCHEMA_VERSION,
            "status": status,
            "exit_code": int(code),
            "data": to_jsonable(data),
            "errors": errors,
        }
        # Each string is masked before JSON escapes it (a secret with a quote, a backslash or
        # a non-ASCII character would no longer match once escaped), and the text again.
        text = json.dumps(_redacted(envelope, self.redact), indent=2, sort_keys=True)
        sys.stdout.write(self.redact(text) + "\n")


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    """A JSON-like value with every string, keys included, passed through ``redact``."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {_redacted(k, redact): _redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, redact) for v in value]
    return value
