"""The AI processor's entry point: an SQS batch with partial batch failures.

Each record is one job ``{"job_id": ..., "prompt": ...}``.  A bad record (not
JSON, missing fields) or a failed model call fails only that record: SQS
redelivers it and, after the queue's maxReceiveCount, moves it to the DLQ.
Results are upserted by ``job_id`` so a redelivered job stores one row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from smartstack_common import Database, load_settings, release_id, reload_settings
from smartstack_common.config import environment

from smartstack_ai.model import ModelClient, model_client

MAX_PROMPT_LENGTH = 20_000

logger = Logger(service="smartstack-ai-processor")
processor = BatchProcessor(event_type=EventType.SQS)

_db: Database | None = None
_model: ModelClient | None = None


class InvalidJob(ValueError):
    """The record's body is not a job."""


@dataclass(frozen=True)
class Job:
    job_id: str
    prompt: str


def parse_job(body: str) -> Job:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise InvalidJob("body is not JSON") from exc
    if not isinstance(data, dict):
        raise InvalidJob("body is not a JSON object")
    job_id, prompt = data.get("job_id"), data.get("prompt")
    if not isinstance(job_id, str) or not job_id.strip():
        raise InvalidJob("'job_id' must be a non-empty string")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidJob("'prompt' must be a non-empty string")
    if len(prompt) > MAX_PROMPT_LENGTH:
        raise InvalidJob(f"'prompt' is longer than {MAX_PROMPT_LENGTH} characters")
    return Job(job_id.strip(), prompt)


def _resources() -> tuple[Database, ModelClient]:
    global _db, _model
    if _db is None or _model is None:
        settings = load_settings()
        _db = Database(settings, reload=reload_settings)
        _model = model_client(settings.get("ai-model"))
    return _db, _model


def record_handler(record: SQSRecord) -> None:
    try:
        job = parse_job(record.body)
    except InvalidJob as exc:
        logger.warning("invalid job", extra={"message_id": record.message_id, "reason": str(exc)})
        raise
    db, model = _resources()
    output = model.complete(job.prompt)
    db.run(
        "INSERT INTO ai_results (job_id, prompt, model, output) "
        "VALUES (:job_id, :prompt, :model, :output) "
        "ON CONFLICT (job_id) DO UPDATE SET prompt = EXCLUDED.prompt, model = EXCLUDED.model, "
        "output = EXCLUDED.output, processed_at = now()",
        job_id=job.job_id,
        prompt=job.prompt,
        model=model.model_id,
        output=output,
    )
    logger.info("job processed", extra={"job_id": job.job_id, "model": model.model_id})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    logger.append_keys(release=release_id(), environment=environment())
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
