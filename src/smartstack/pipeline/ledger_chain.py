"""The ledger's hash chain: each record carries the hash of the record before it.

Within a partition (an environment's attempts, its approvals) records are ordered by
sort key.  Each carries ``prev``, the hash of the record before it (:data:`GENESIS` for
the first), and ``hash``, the hash of its own content ``prev`` included.  An edited
record no longer matches its ``hash``; a deleted one leaves its successor's ``prev``
pointing at nothing.  Records written before the chain existed carry neither and may
only come first; the first chained record's ``prev`` covers the last of them.

This makes tampering evident to whoever verifies, not impossible.  The chain alone
catches an edit made by hand, in a console or by a script that does not know it; a
writer who knows it and may put items could rewrite every record from the edit on, so
each record is also anchored, write-once, outside the table
(:mod:`smartstack.pipeline.ledger_anchors`): a rewrite or deletion of an anchored record,
or of any record before one, no longer verifies.  Still open: the newest records of a
partition while they have no anchor (a writer that died between the two writes), and an
administrator, who can change anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

GENESIS = "0" * 64

Item = dict[str, Any]  # DynamoDB's attribute-value form


def item_hash(item: Item) -> str:
    """The hash of a record's content: every attribute but ``hash``, canonically encoded.

    Numbers are hashed as DynamoDB keeps them (it drops leading and trailing zeros, so
    ``"0.120"`` comes back ``"0.12"``): the record written and the record read hash alike.
    """
    content = {k: _canonical(v) for k, v in item.items() if k != "hash"}
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"N"}:
            return {"N": _number(str(value["N"]))}
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _number(text: str) -> str:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    return "0" if number.is_zero() else format(number.normalize(), "f")


def chained(item: Item, previous: Item | None) -> Item:
    """``item`` with ``prev`` (the hash of ``previous``) and its own ``hash``."""
    linked = dict(item, prev={"S": item_hash(previous) if previous else GENESIS})
    linked["hash"] = {"S": item_hash(linked)}
    return linked


@dataclass(frozen=True)
class Break:
    """The first record where the chain does not hold, and why."""

    sk: str
    reason: str


def first_break(items: Iterable[Item]) -> Break | None:
    """Walk the records oldest first; the first that breaks the chain, or None."""
    previous: Item | None = None
    for item in items:
        sk = item["sk"]["S"]
        if "hash" not in item:
            if previous is not None and "hash" in previous:
                return Break(sk, "carries no hash, after records that do: it was rewritten")
        elif item_hash(item) != item["hash"]["S"]:
            return Break(sk, "its content does not match its hash: it was changed after writing")
        elif item.get("prev", {}).get("S") != (item_hash(previous) if previous else GENESIS):
            after = f"the record before ({previous['sk']['S']})" if previous else "nothing"
            return Break(sk, f"it does not follow {after}: one was deleted, or that one changed")
        previous = item
    return None
