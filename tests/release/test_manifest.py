"""A manifest is data from a bucket others may write: its names and digests are checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smartstack.aws.target import AwsTarget
from smartstack.core.errors import ConfigError, UsageError
from smartstack.release.build import Manifest
from smartstack.release.store import load_release, manifest_key

DIGEST = "ab" * 32


def _manifest(**artifact: str) -> str:
    entry = {"sha256": DIGEST, "size": 10, "key": f"artifacts/{DIGEST}.zip",
             "handler": "pkg.handler.handler", **artifact}  # fmt: skip
    name = artifact.pop("name", "api") if "name" in artifact else "api"
    entry.pop("name", None)
    return json.dumps({"version": 1, "release": "r-0123456789ab", "commit": "0" * 40,
                       "created_from": "main", "artifacts": {name: entry}})  # fmt: skip


def test_a_well_formed_manifest_loads() -> None:
    assert Manifest.from_json(_manifest()).artifact("api").sha256 == DIGEST


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "../../outside"),
        ("name", "api/../../x"),
        ("sha256", "../../etc"),
        ("sha256", "AB" * 32),
        ("key", "artifacts/../../another.zip"),
        ("key", f"artifacts/{'cd' * 32}.zip"),  # not the artifact's own digest
    ],
)
def test_names_digests_and_keys_that_could_leave_their_place_are_refused(
    field: str, value: str
) -> None:
    with pytest.raises(ConfigError, match="not a release manifest"):
        Manifest.from_json(_manifest(**{field: value}))


def test_a_manifest_published_under_another_release_s_name_is_refused(
    aws: AwsTarget, tmp_path: Path
) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="smartstack-artifacts")
    s3.put_object(Bucket="smartstack-artifacts", Key=manifest_key("r-ffffffffffff"),
                  Body=_manifest().encode())  # fmt: skip

    with pytest.raises(UsageError, match="names release r-0123456789ab, not r-ffffffffffff"):
        load_release(aws, "smartstack-artifacts", "r-ffffffffffff")
