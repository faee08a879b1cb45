"""Requests that must not hold the store's lock while they run.

A Lambda invocation runs the function, which calls the local AWS back from another
thread: under the lock it would wait for itself.  An invocation changes no resource by
itself; what the function's run changes (its log lines, its role session, its metrics) is
logged as calls (:func:`..store.persisted`) and the function's own requests as writes,
so an invocation is neither locked nor logged, and a replay never runs a function again.

An SQS long poll waits up to 20 seconds for a message.  Here it polls without waiting,
each poll a logged call under the lock, and waits between polls without it.
"""

from __future__ import annotations

import re
from typing import Any

from smartstack.local.persistence.store import installed, persisted
from smartstack.local.persistence.writes import operation

_INVOCATION = re.compile(
    r"/functions/[^/]+/(invocations|invoke-async|response-streaming-invocations)/?$"
)
_POLL_EVERY = 1.0  # seconds a long poll waits between two polls (moto's own step)


def runs_unlocked(environ: dict[str, Any], body: bytes) -> bool:
    if _INVOCATION.search(str(environ.get("PATH_INFO") or "")):
        return True
    return operation(environ, body) == "ReceiveMessage"


def poll_queues_outside_the_lock() -> None:
    """SQS's ``receive_message`` as polls without a wait, each logged, waiting between
    them without the lock."""
    from moto.sqs.models import SQSBackend

    receive = SQSBackend.receive_message

    @persisted("sqs.receive_message")
    def poll(account: str, region: str, queue: str, count: int, visibility: int,
             attributes: list[str] | None) -> Any:  # fmt: skip
        from moto.sqs.models import sqs_backends

        return receive(sqs_backends[account][region], queue, count, 0, visibility, attributes)

    def receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> Any:
        import time

        deadline = time.monotonic() + int(wait_seconds_timeout or 0)
        while True:
            found = poll(self.account_id, self.region_name, queue_name, count,
                         visibility_timeout, message_attribute_names)  # fmt: skip
            store = installed()
            if found or time.monotonic() >= deadline or (store is not None and store.replaying):
                return found
            self.get_queue(queue_name).wait_for_messages(_POLL_EVERY)

    setattr(SQSBackend, "receive_message", receive_message)  # noqa: B010
