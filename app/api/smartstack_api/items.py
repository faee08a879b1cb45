"""The one resource: items, stored in PostgreSQL table ``items``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, Field, ValidationError, parse
from pydantic import ConfigDict
from pydantic_core import ErrorDetails
from smartstack_common import Database

MAX_NAME_LENGTH = 200
LIST_LIMIT = 100
EXAMPLE = '{"name": "..."}'


class InvalidItem(ValueError):
    """The request body is not a valid item; the message says what to send."""


class NewItem(BaseModel):
    """The body of ``POST /items``: a name of 1-200 characters after trimming, nothing else."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)


def parse_new_item(body: str | None) -> str:
    """The item's name from the raw JSON body, validated by the parser utility (pydantic)."""
    try:
        return parse(event=body or "", model=NewItem).name
    except ValidationError as exc:
        raise InvalidItem("; ".join(_explain(e) for e in exc.errors())) from None


def _explain(error: ErrorDetails) -> str:
    """One pydantic error as a sentence that says what to send instead."""
    kind, field = error["type"], ".".join(str(p) for p in error["loc"])
    if kind == "json_invalid":
        return f"the body must be JSON like {EXAMPLE}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"send a JSON object like {EXAMPLE}"
    if kind == "extra_forbidden":
        return f"unknown field {field!r}; only 'name' is accepted"
    if kind == "missing":
        return f"{field!r} is required, like {EXAMPLE}"
    if kind in ("string_type", "string_too_short"):
        return f"{field!r} must be a non-empty string"
    if kind == "string_too_long":
        return f"{field!r} must be at most {MAX_NAME_LENGTH} characters"
    return f"{field or 'body'}: {error['msg']}"


def _item(row: list[Any]) -> dict[str, Any]:
    return {"id": row[0], "name": row[1], "created_at": row[2].isoformat()}


def create_item(db: Database, name: str) -> dict[str, Any]:
    rows = db.run(
        "INSERT INTO items (name) VALUES (:name) RETURNING id, name, created_at", name=name
    )
    return _item(rows[0])


def list_items(db: Database) -> list[dict[str, Any]]:
    rows = db.run(
        "SELECT id, name, created_at FROM items ORDER BY id LIMIT :limit", limit=LIST_LIMIT
    )
    return [_item(r) for r in rows]


def get_item(db: Database, item_id: int) -> dict[str, Any] | None:
    rows = db.run("SELECT id, name, created_at FROM items WHERE id = :id", id=item_id)
    return _item(rows[0]) if rows else None
