"""The ledger's anchors: each chained record's hash, kept write-once outside the table.

The chain (:mod:`smartstack.pipeline.ledger_chain`) shows an edit made without knowing
it, but a writer who knows it and may put items in a partition can rewrite a record and
re-chain every later one: the chain holds again.  So each record, once written to the
table, also gets an anchor in the account's artifacts bucket: an empty object,
``ledger-anchors/<pk>/<sk>/<hash>``, created with ``If-None-Match: *``.  The hash is in
the key, so one listing reads a partition's anchors.  The bucket's
policy refuses any other write under that prefix and no environment role or approver may
delete there, so nobody but an administrator can change or remove an anchor.  A record
rewritten after its anchor was written no longer matches it; a record deleted leaves its
anchor behind.  And since every record's hash covers the one before it, the anchor of a
record also pins every earlier one.

A record without an anchor is no break by itself: records from before the anchors have
none, and a writer that dies between the two writes leaves the newest without one (the
next record chains on it, and its anchor covers it).  What stays open: whoever may write a
partition can still rewrite or remove its newest records as long as they have no anchor,
and an administrator can do anything.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import cached_property

from botocore.exceptions import BotoCoreError, ClientError

from smartstack.aws.errors import error_code
from smartstack.aws.target import AwsTarget
from smartstack.core.naming import artifacts_bucket_name
from smartstack.pipeline.ledger_chain import Break, Item, first_break

PREFIX = "ledger-anchors/"
_SHA256 = re.compile(r"[0-9a-f]{64}")
log = logging.getLogger(__name__)

Anchors = dict[str, list[str]]  # one partition's anchors: sk -> the hashes anchored


class AnchorStore:
    """The anchors in the account's artifacts bucket, read and written as ``target``."""

    def __init__(self, target: AwsTarget, project: str) -> None:
        self.target = target
        self.project = project
        self.s3 = target.client("s3")

    @cached_property
    def bucket(self) -> str:  # asked when first needed: it costs an STS call
        return artifacts_bucket_name(self.target.account_id(), self.target.region, self.project)

    def write(self, record: Item) -> None:
        """Anchor a chained record just written to the table (never over another anchor)."""
        pk, sk, digest = record["pk"]["S"], record["sk"]["S"], record["hash"]["S"]
        key = f"{PREFIX}{pk}/{sk}/{digest}"
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"", IfNoneMatch="*")
        except ClientError as exc:
            # This very anchor there already: a retry of this write.
            if error_code(exc) not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                _unanchored(pk, sk, error_code(exc))
        except BotoCoreError as exc:
            _unanchored(pk, sk, type(exc).__name__)

    def under(self, prefix: str) -> dict[str, Anchors]:
        """Every anchor whose partition key starts with ``prefix``, by partition key.

        Read before the records they anchor: an anchor is written after its record, so
        every anchor listed has its record in the table by the time it is queried."""
        found: dict[str, Anchors] = {}
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{PREFIX}{prefix}"
        )
        for page in pages:
            for entry in page.get("Contents", []):
                parts = entry["Key"].removeprefix(PREFIX).split("/")
                if len(parts) == 3 and _SHA256.fullmatch(parts[2]):  # else no record's anchor
                    pk, sk, digest = parts
                    found.setdefault(pk, {}).setdefault(sk, []).append(digest)
        return found


def _unanchored(pk: str, sk: str, why: str) -> None:
    """The record stands (it is the ledger); only its anchor is missing, which verify
    allows: say so rather than fail what the record completed."""
    log.warning(
        "warning: ledger record %s %s is written but not anchored (%s); verify-ledger "
        "allows it, but its anchor will not pin it",
        pk, sk, why,
    )  # fmt: skip


def anchor_break(items: Iterable[Item], anchors: Anchors) -> Break | None:
    """The first anchored record (in sort-key order) that is gone or differs from an anchor
    of it (a second anchor, written by whoever rewrote it, does not hide the first)."""
    hashes = {i["sk"]["S"]: i.get("hash", {}).get("S") for i in items}
    for sk in sorted(anchors):
        if sk not in hashes:
            return Break(sk, "it was deleted after it was anchored")
        if any(digest != hashes[sk] for digest in anchors[sk]):
            return Break(sk, "its hash is not its anchor's: it was rewritten after it was anchored")
    return None


def first_break_anchored(items: list[Item], anchors: Anchors) -> Break | None:
    """The first break in sort-key order of the chain or of its anchors; the chain's at a tie
    (its reason says more: a record changed in place still matches its anchor's hash)."""
    found = [b for b in (first_break(items), anchor_break(items, anchors)) if b is not None]
    return min(found, key=lambda b: b.sk) if found else None
