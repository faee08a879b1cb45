"""Lambda's SQS event source mappings in the local AWS: a poller, as Lambda's.

Stock moto delivers a message to a mapped function inside ``SendMessage`` itself, one
message per batch, before the sender has its answer, and retries nothing.  Lambda
instead polls the queue: it receives up to ``BatchSize`` messages (waiting up to
``MaximumBatchingWindowInSeconds`` for a batch to fill), invokes the function with them,
and then

* deletes the batch when the function returns;
* leaves every message to come back after the queue's visibility timeout when the
  function fails (an error, a timeout, a throttle);
* with ``ReportBatchItemFailures``, deletes all but the ``batchItemFailures`` the
  function names (an answer it cannot read fails the whole batch);

and a message received more than the redrive policy's ``maxReceiveCount`` goes to the
dead-letter queue (moto's receive does that part).  Here one thread does that for every
enabled mapping of an SQS queue, one batch in flight per mapping.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from smartstack.local.lambda_runner import sqs_event
from smartstack.local.persistence.store import persisted

log = logging.getLogger("smartstack.local.event_sources")
_POLL_SECONDS = 0.2
Invoke = Callable[[Any, str, bytes], tuple[bytes, dict[str, str]]]


def batch_outcome(
    message_ids: list[str], payload: bytes, headers: dict[str, str], report_failures: bool
) -> set[str]:
    """The messages of a batch to delete, from the function's answer."""
    if headers.get("X-Amz-Function-Error"):
        return set()
    if not report_failures:
        return set(message_ids)
    try:
        answer = json.loads(payload) if payload else None
    except ValueError:
        return set()
    if answer is None:
        return set(message_ids)
    if not isinstance(answer, dict):
        return set()
    failures = answer.get("batchItemFailures") or []
    if not isinstance(failures, list):
        return set()
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            return set()  # Lambda fails the whole batch on an unreadable answer
        failed.add(identifier)
    return set(message_ids) - failed


class SqsPoller:
    """Polls every enabled SQS mapping's queue and invokes its function."""

    def __init__(self, invoke: Invoke) -> None:
        self.invoke = invoke
        self._first_seen: dict[str, float] = {}
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqs-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(_POLL_SECONDS):
            try:
                self.poll_once()
            except Exception:  # a broken mapping must not end the poller
                log.exception("local SQS poller: a poll failed")

    def poll_once(self) -> None:
        for backend, mapping in _sqs_mappings():
            with self._lock:
                if mapping.uuid in self._busy:
                    continue
            queue = _queue(mapping)
            if queue is None or not self._ready(mapping, queue):
                continue
            with self._lock:
                self._busy.add(mapping.uuid)
            threading.Thread(
                target=self._deliver, args=(backend, mapping, queue), daemon=True
            ).start()

    def _ready(self, mapping: Any, queue: Any) -> bool:
        waiting = int(queue.approximate_number_of_messages)
        if waiting == 0:
            self._first_seen.pop(mapping.uuid, None)
            return False
        window = float(mapping.max_batch_window or 0)
        first = self._first_seen.setdefault(mapping.uuid, time.monotonic())
        return waiting >= _batch_size(mapping) or time.monotonic() - first >= window

    def _deliver(self, backend: Any, mapping: Any, queue: Any) -> None:
        try:
            self._first_seen.pop(mapping.uuid, None)
            visibility = int(queue.visibility_timeout or 30)
            where = (queue.account_id, queue.region, queue.name)
            messages = _receive(*where, _batch_size(mapping), visibility)
            if not messages:
                return
            records = [_as_received(m) for m in messages]
            payload = json.dumps(sqs_event(records, queue.queue_arn)).encode()
            try:
                answer, headers = self.invoke(backend, mapping.function_arn, payload)
            except Exception as exc:  # throttled, or the function could not start
                log.warning("local SQS poller: %s not invoked: %s", mapping.function_arn, exc)
                return  # the messages come back after the visibility timeout
            report = "ReportBatchItemFailures" in (mapping.function_response_types or [])
            ids = [m.id for m in messages]
            done = batch_outcome(ids, answer, headers, report)
            for message in messages:
                if message.id in done:
                    _delete(*where, str(message.receipt_handle))
        finally:
            with self._lock:
                self._busy.discard(mapping.uuid)


def _sqs_mappings() -> list[tuple[Any, Any]]:
    from moto.awslambda.models import lambda_backends

    found = []
    for account in list(lambda_backends.keys()):
        for region in list(lambda_backends[account].keys()):
            backend = lambda_backends[account][region]
            for mapping in list(backend._event_source_mappings.values()):
                source = str(mapping.event_source_arn or "")
                if source.startswith("arn:aws:sqs:") and _enabled(mapping):
                    found.append((backend, mapping))
    return found


def _enabled(mapping: Any) -> bool:
    return mapping.enabled not in (False, "false", "False")


def _batch_size(mapping: Any) -> int:
    return max(1, int(mapping.batch_size or 10))


def _queue(mapping: Any) -> Any:
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = str(mapping.event_source_arn).split(":", 5)
    try:
        return sqs_backends[account][region].queues.get(name)
    except KeyError:
        return None


def _as_received(message: Any) -> dict[str, Any]:
    """A received message as ``ReceiveMessage`` lists it (what :func:`sqs_event` takes)."""
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": str(getattr(message, "sender_id", "")),
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    return {
        "MessageId": message.id,
        "ReceiptHandle": message.receipt_handle,
        "Body": message.body,
        "Attributes": attributes,
        "MessageAttributes": dict(message.message_attributes or {}),
        "MD5OfBody": message.body_md5,
    }


def deliver_on_send_no_more() -> None:
    """moto's own delivery inside ``SendMessage`` goes: the poller delivers instead."""
    from moto.sqs.models import Queue

    original = Queue.add_message
    lock = threading.Lock()

    def add_message(self: Any, message: Any) -> None:
        with lock:
            mappings, self.lambda_event_source_mappings = self.lambda_event_source_mappings, {}
            try:
                original(self, message)
            finally:
                self.lambda_event_source_mappings = mappings

    setattr(Queue, "add_message", add_message)  # noqa: B010 - patching a method


def mappings_keep_their_alias() -> None:
    """moto stores a mapping made for an alias with the ARN of the version the alias points
    to then, so it would keep feeding that version after the alias moves.  On AWS the
    mapping's ``FunctionArn`` is the alias's, and each batch goes where the alias points."""
    from moto.awslambda.models import LambdaBackend

    def keep(method: str) -> None:
        original = getattr(LambdaBackend, method)

        def patched(self: Any, *args: Any) -> Any:
            spec = args[-1]
            esm = original(self, *args)
            requested = str(spec.get("FunctionName") or "") if isinstance(spec, dict) else ""
            qualified = _qualified_arn(self, requested)
            if esm is not None and qualified:
                esm.function_arn = qualified
            return esm

        setattr(LambdaBackend, method, patched)

    keep("create_event_source_mapping")
    keep("update_event_source_mapping")


def _qualified_arn(backend: Any, requested: str) -> str | None:
    """The ARN of ``requested`` with its alias, when it names one."""
    if not requested:
        return None
    parts = requested.split(":")
    if requested.startswith("arn:"):
        name, qualifier = parts[6], parts[7] if len(parts) > 7 else ""
    else:
        name, qualifier = parts[0], parts[1] if len(parts) > 1 else ""
    if not qualifier or qualifier.isdigit() or qualifier == "$LATEST":
        return None
    unqualified = ":".join(str(backend.get_function(name).function_arn).split(":")[:7])
    return f"{unqualified}:{qualifier}"


def _receive(account: str, region: str, queue: str, count: int, visibility: int) -> Any:
    """A poll without a wait (logged by the store's receive_message, when there is one)."""
    from moto.sqs.models import sqs_backends

    return sqs_backends[account][region].receive_message(queue, count, 0, visibility, ["All"])


@persisted("sqs.delete_for_mapping")
def _delete(account: str, region: str, queue: str, receipt_handle: str) -> None:
    from moto.sqs.models import sqs_backends

    sqs_backends[account][region].delete_message(queue, receipt_handle)
