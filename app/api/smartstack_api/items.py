"""The one resource: items, stored in PostgreSQL table ``items``."""

from __future__ import annotations

from typing import Any

from smartstack_common import Database

MAX_NAME_LENGTH = 200
LIST_LIMIT = 100


class InvalidItem(ValueError):
    """The request body is not a valid item; the message says what to send."""


def parse_new_item(body: Any) -> str:
    """The item's name from a ``{"name": ...}`` body, validated."""
    if not isinstance(body, dict):
        raise InvalidItem('send a JSON object like {"name": "..."}')
    unknown = sorted(set(body) - {"name"})
    if unknown:
        raise InvalidItem(f"unknown field(s): {', '.join(unknown)}; only 'name' is accepted")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidItem("'name' must be a non-empty string")
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidItem(f"'name' must be at most {MAX_NAME_LENGTH} characters")
    return name


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
