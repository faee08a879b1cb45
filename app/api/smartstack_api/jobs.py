"""AI jobs: ``POST /jobs`` queues one for the AI processor, ``GET /jobs/{id}`` reads its result.

The job goes to the queue the stack names in ``AI_JOBS_URL``; the processor, fed by
the queue's event source mapping, stores its result in ``ai_results`` by ``job_id``.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from smartstack_common import Database

MAX_PROMPT_LENGTH = 20_000


class InvalidJob(ValueError):
    """The request body is not a job; the message says what to send."""


def parse_new_job(body: str | None) -> str:
    """The prompt of a ``POST /jobs`` body ``{"prompt": "..."}``."""
    try:
        data = json.loads(body or "")
    except ValueError:
        raise InvalidJob('the body must be JSON like {"prompt": "..."}') from None
    if not isinstance(data, dict) or set(data) != {"prompt"}:
        raise InvalidJob('send a JSON object with one field, like {"prompt": "..."}')
    prompt = data["prompt"]
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidJob("'prompt' must be a non-empty string")
    if len(prompt) > MAX_PROMPT_LENGTH:
        raise InvalidJob(f"'prompt' must be at most {MAX_PROMPT_LENGTH} characters")
    return prompt


def submit_job(sqs: Any, prompt: str) -> str:
    """Queue the job; returns its id."""
    job_id = uuid.uuid4().hex
    queue_url = os.environ.get("AI_JOBS_URL")
    if not queue_url:
        raise RuntimeError("AI_JOBS_URL is not set; the stack sets it on the function")
    sqs.send_message(
        QueueUrl=queue_url, MessageBody=json.dumps({"job_id": job_id, "prompt": prompt})
    )
    return job_id


def job_result(db: Database, job_id: str) -> dict[str, Any] | None:
    rows = db.run(
        "SELECT job_id, model, output, processed_at FROM ai_results WHERE job_id = :job_id",
        job_id=job_id,
    )
    if not rows:
        return None
    job, model, output, processed_at = rows[0]
    return {"job_id": job, "status": "done", "model": model, "output": output,
            "processed_at": processed_at.isoformat()}  # fmt: skip
