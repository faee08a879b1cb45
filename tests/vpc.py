"""PostgreSQL sessions opened from inside the platform's VPC, as a function there opens them.

The local database is private (smartstack.local.network): the test process, on the
machine's network, cannot reach its port.  A session here is a child Python entered
into the VPC namespace that runs the statements it is sent and answers with the rows;
the connection parameters (passwords too) go through its stdin, never its argv.
Without a private network the child runs on the machine's network, the same way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from types import TracebackType
from typing import Any

import psycopg

from smartstack.local.network import PrivateNetwork

_CHILD = r"""
import json, sys
import psycopg

def answer(**message):
    print(json.dumps(message, default=str), flush=True)

try:
    conn = psycopg.connect(**json.loads(sys.stdin.readline()), autocommit=True)
except psycopg.Error as exc:
    answer(error=str(exc), kind=type(exc).__name__)
    sys.exit(0)
answer(rows=[])
for line in sys.stdin:
    try:
        cursor = conn.execute(json.loads(line))
        answer(rows=cursor.fetchall() if cursor.description else [])
    except psycopg.Error as exc:
        answer(error=str(exc), kind=type(exc).__name__)
"""


class Rows:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None


class VpcSession:
    """One autocommit session; raises psycopg's exception classes with the server's text."""

    def __init__(self, network: PrivateNetwork | None, **params: Any) -> None:
        argv = [*(network.enter() if network else []), sys.executable, "-c", _CHILD]
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        try:
            self._send({"connect_timeout": 5, **params})
        except BaseException:
            self.close()
            raise

    def execute(self, sql: str) -> Rows:
        return self._send(sql)

    def _send(self, message: object) -> Rows:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(message) + "\n")
        line = self._proc.stdout.readline()
        if not line:
            raise psycopg.OperationalError("the session in the VPC ended")
        answer = json.loads(line)
        if "error" in answer:
            kind = getattr(psycopg.errors, answer["kind"], None) or getattr(
                psycopg, answer["kind"], psycopg.Error
            )
            raise kind(answer["error"])
        return Rows([tuple(r) for r in answer["rows"]])

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(timeout=10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> VpcSession:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
