"""Routes of the API; the Lambda entry point is :func:`handler`.

``GET /health`` reports the release, the database and whether the secret is
readable (200 when all is well, 503 otherwise); ``GET|POST /items`` and
``GET /items/{id}`` are the one resource; ``POST /jobs`` queues a job for the AI
processor and ``GET /jobs/{id}`` reads its result.  Settings come from Parameter
Store (see ``smartstack_common.config``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from smartstack_common import (
    Database,
    DatabaseError,
    SettingsError,
    database_error_kind,
    load_settings,
    release_id,
    reload_settings,
)
from smartstack_common.config import environment

from smartstack_api.items import InvalidItem, create_item, get_item, list_items, parse_new_item
from smartstack_api.jobs import InvalidJob, job_result, parse_new_job, submit_job

logger = Logger(service="smartstack-api")
app = APIGatewayHttpResolver()

_db: Database | None = None
_sqs: Any = None


def database() -> Database:
    """The container's database, built from the settings on first use."""
    global _db
    if _db is None:
        _db = Database(load_settings(), reload=reload_settings)
    return _db


def _json(status: int, body: dict[str, Any]) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@app.get("/health")
def health() -> Response[Any]:
    report: dict[str, Any] = {
        "status": "ok",
        "release": release_id(),
        "environment": environment(),
        "database": "ok",
        "secret": "readable",
    }
    try:
        database().run("SELECT 1")
    except SettingsError as exc:
        logger.warning("settings unavailable", extra={"reason": str(exc)})
        report["database"] = "unconfigured"
        report["secret"] = "readable" if exc.secret_readable else "unreadable"
    except Exception as exc:
        kind = database_error_kind(exc)
        logger.warning("database check failed", extra={"kind": kind})
        report["database"] = kind
    healthy = report["database"] == "ok" and report["secret"] == "readable"
    report["status"] = "ok" if healthy else "degraded"
    return _json(200 if healthy else 503, report)


@app.get("/items")
def get_items() -> Response[Any]:
    return _json(200, {"items": list_items(database())})


@app.post("/items")
def post_item() -> Response[Any]:
    try:
        name = parse_new_item(app.current_event.decoded_body)
    except InvalidItem as exc:
        raise BadRequestError(str(exc)) from exc
    item = create_item(database(), name)
    logger.info("item created", extra={"item_id": item["id"]})
    return _json(201, item)


@app.get("/items/<item_id>")
def get_one_item(item_id: str) -> Response[Any]:
    if not item_id.isdigit():
        return _json(404, {"message": "no such item"})
    item = get_item(database(), int(item_id))
    return _json(200, item) if item else _json(404, {"message": "no such item"})


@app.post("/jobs")
def post_job() -> Response[Any]:
    global _sqs
    try:
        prompt = parse_new_job(app.current_event.decoded_body)
    except InvalidJob as exc:
        raise BadRequestError(str(exc)) from exc
    if _sqs is None:
        import boto3

        _sqs = boto3.client("sqs")
    job_id = submit_job(_sqs, prompt)
    logger.info("job queued", extra={"job_id": job_id})
    return _json(202, {"job_id": job_id, "status": "queued"})


@app.get("/jobs/<job_id>")
def get_job(job_id: str) -> Response[Any]:
    result = job_result(database(), job_id)
    return _json(200, result) if result else _json(404, {"job_id": job_id, "status": "pending"})


@app.exception_handler(DatabaseError)
def _database_unavailable(exc: DatabaseError) -> Response[Any]:
    logger.warning("database unavailable", extra={"kind": exc.kind})
    return _json(503, {"message": "database unavailable", "database": exc.kind})


@app.exception_handler(SettingsError)
def _unconfigured(exc: SettingsError) -> Response[Any]:
    logger.warning("settings unavailable", extra={"reason": str(exc)})
    return _json(503, {"message": "service not configured", "database": "unconfigured"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(release=release_id(), environment=environment())
    response = app.resolve(event, context)
    logger.info(
        "request",
        extra={
            "method": event.get("requestContext", {}).get("http", {}).get("method"),
            "path": event.get("rawPath"),
            "status": response.get("statusCode"),
        },
    )
    return response
