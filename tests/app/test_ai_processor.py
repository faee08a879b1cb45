"""The AI processor's built artifact in the Lambda RIE: SQS batches, the echo model, PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from smartstack.aws.target import AwsTarget
from smartstack.local.lambda_runner import FunctionError, LocalLambda, sqs_event
from smartstack.local.network import PrivateNetwork
from smartstack.release.build import Manifest
from tests.app.helpers import AppDatabase, put_settings, start


@pytest.fixture
def processor(
    release: tuple[Manifest, Path],
    aws: AwsTarget,
    rie: Path,
    tmp_path: Path,
    network: PrivateNetwork | None,
) -> Iterator[LocalLambda]:
    with start(release, "ai-processor", aws, rie, tmp_path / "ai.log", network) as fn:
        yield fn


def queued(aws: AwsTarget, bodies: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The bodies sent through a real (local) SQS queue; the event and message ids, in order."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="smartstack-test-ai-jobs")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    ids = [sqs.send_message(QueueUrl=url, MessageBody=b)["MessageId"] for b in bodies]
    messages: list[dict[str, Any]] = []
    while len(messages) < len(bodies):
        messages += sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
    messages.sort(key=lambda m: ids.index(m["MessageId"]))
    return sqs_event(messages, arn), ids


def results(db: AppDatabase) -> list[tuple[str, str, str, str]]:
    with psycopg.connect(db.admin) as conn:
        rows = conn.execute(
            "SELECT job_id, prompt, model, output FROM ai_results ORDER BY job_id"
        ).fetchall()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def job(job_id: str, prompt: str) -> str:
    return json.dumps({"job_id": job_id, "prompt": prompt})


def test_jobs_are_answered_by_the_echo_model_and_stored(
    processor: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    put_settings(aws, migrated, **{"ai-model": "echo"})
    event, _ = queued(aws, [job("j-1", "hello"), job("j-2", "world")])

    assert processor.invoke(event) == {"batchItemFailures": []}
    assert results(migrated) == [
        ("j-1", "hello", "echo", "echo: hello"),
        ("j-2", "world", "echo", "echo: world"),
    ]


def test_a_bad_record_fails_alone(
    processor: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    put_settings(aws, migrated, **{"ai-model": "echo"})
    bodies = [job("j-1", "ok"), "not json", json.dumps({"prompt": "no id"}), job("j-4", "ok too")]
    event, ids = queued(aws, bodies)

    answer = processor.invoke(event)

    assert answer == {"batchItemFailures": [{"itemIdentifier": ids[1]}, {"itemIdentifier": ids[2]}]}
    assert [r[0] for r in results(migrated)] == ["j-1", "j-4"]
    assert "invalid job" in processor.logs()


def test_a_redelivered_job_is_stored_once(
    processor: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    put_settings(aws, migrated)  # no ai-model: echo is the default
    event, _ = queued(aws, [job("j-1", "first")])
    processor.invoke(event)
    again, _ = queued(aws, [job("j-1", "second")])

    assert processor.invoke(again) == {"batchItemFailures": []}
    assert results(migrated) == [("j-1", "second", "echo", "echo: second")]


def test_a_bedrock_model_id_is_called_through_bedrock_runtime(
    processor: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    # The local AWS answers InvokeModel with an empty result: the request path is
    # real (request body parsed by the local bedrock-runtime), the answer empty.
    model = "anthropic.claude-3-haiku-20240307-v1:0"
    put_settings(aws, migrated, **{"ai-model": model})
    event, _ = queued(aws, [job("j-1", "hello")])

    assert processor.invoke(event) == {"batchItemFailures": []}
    assert results(migrated) == [("j-1", "hello", model, "")]


def test_an_unusable_model_fails_the_whole_batch(
    processor: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    put_settings(aws, migrated, **{"ai-model": "meta.llama-not-supported"})
    event, _ = queued(aws, [job("j-1", "hello")])

    with pytest.raises(FunctionError, match="All records failed"):
        processor.invoke(event)
    assert "unsupported model 'meta.llama-not-supported'" in processor.logs()
    assert results(migrated) == []


def test_the_database_password_never_reaches_the_logs(
    processor: LocalLambda, aws: AwsTarget, migrated: AppDatabase
) -> None:
    password = put_settings(aws, migrated)
    event, _ = queued(aws, [job("j-1", "hello"), "bad"])
    processor.invoke(event)

    logs = processor.logs()
    assert "job processed" in logs
    assert password not in logs
