"""The artifacts bucket: releases published once, keyed by digest, loaded for promotion.

A release is immutable: its artifacts are stored under ``artifacts/<sha256>.zip``
and its manifest under ``releases/<id>/manifest.json``; every environment
fetches the very bytes that were published, checking their digest.

Immutability is the bucket's, not only ours: its policy refuses a write under those
prefixes without ``If-None-Match: *``, so an object is created once and never
replaced.  The manifest's own sha256 is the release's identity: the ledger records
it with every attempt and approval, and the gates compare it, so a manifest deleted
and published again under the same id is not the release that passed.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from smartstack.aws.errors import NOT_FOUND_CODES, error_code
from smartstack.aws.target import AwsTarget
from smartstack.core.errors import CommandFailedError, UsageError
from smartstack.release.build import INFRASTRUCTURE, Artifact, Manifest


def manifest_key(release: str) -> str:
    return f"releases/{release}/manifest.json"


@dataclass(frozen=True)
class PublishedRelease:
    """A manifest as the bucket holds it, and the sha256 of its bytes: the release's identity
    (its id, from the commit, is a label)."""

    manifest: Manifest
    sha256: str

    @property
    def release(self) -> str:
        return self.manifest.release


def manifest_sha256(manifest: Manifest) -> str:
    """The sha256 of the manifest's published bytes."""
    return hashlib.sha256(manifest.to_json().encode()).hexdigest()


def publish_release(target: AwsTarget, bucket: str, manifest: Manifest, out_dir: Path) -> list[str]:
    """Upload the artifacts not yet in ``bucket`` (keyed by digest) and the manifest.

    Returns the keys written; an artifact already stored is skipped.  A release
    id already published with other artifacts is refused: releases are immutable.
    """
    s3 = target.client("s3")
    _require_bucket(s3, bucket)
    uploaded: list[str] = []
    for artifact in manifest.stored:
        data = (out_dir / artifact.file_name).read_bytes()
        if hashlib.sha256(data).hexdigest() != artifact.sha256:
            raise UsageError(
                f"{out_dir / artifact.file_name} does not match the manifest's sha256; "
                "rebuild the release."
            )
        if _head(s3, bucket, artifact.key) is None and _create(
            s3, bucket, artifact.key, data, "application/zip",
            {"sha256": artifact.sha256, "release": manifest.release},
        ):  # fmt: skip
            uploaded.append(artifact.key)
    key = manifest_key(manifest.release)
    if _head(s3, bucket, key) is None and _create(
        s3, bucket, key, manifest.to_json().encode(), "application/json", {}
    ):
        uploaded.append(key)
        return uploaded
    published = load_release(target, bucket, manifest.release).manifest
    if published.stored != manifest.stored:
        raise CommandFailedError(
            f"release {manifest.release} is already published with other artifacts; "
            "releases are immutable: commit the change and build a new release."
        )
    return uploaded


def _create(
    s3: Any, bucket: str, key: str, body: bytes, content_type: str, metadata: dict[str, str]
) -> bool:
    """Write ``key`` unless it exists (the bucket refuses any other write there); False when
    someone else wrote it first."""
    try:
        s3.put_object(
            Bucket=bucket, Key=key, Body=body, ContentType=content_type, Metadata=metadata,
            IfNoneMatch="*",
        )  # fmt: skip
    except ClientError as exc:
        if error_code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            return False
        raise
    return True


def load_release(target: AwsTarget, bucket: str, release_id: str) -> PublishedRelease:
    """The published manifest of ``release_id``, with its digest."""
    s3 = target.client("s3")
    try:
        body = s3.get_object(Bucket=bucket, Key=manifest_key(release_id))["Body"].read()
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND_CODES:
            raise UsageError(
                f"release {release_id} is not published in s3://{bucket}; "
                "build and publish it first (smartstack build)."
            ) from exc
        if error_code(exc) == "NoSuchBucket":
            raise UsageError(
                f"artifacts bucket {bucket} does not exist; apply the account stack first."
            ) from exc
        raise
    manifest = Manifest.from_json(body.decode())
    if manifest.release != release_id:
        raise UsageError(
            f"the manifest published as {release_id} names release {manifest.release}, not "
            f"{release_id}; it is not that release's: publish the release again."
        )
    return PublishedRelease(manifest, hashlib.sha256(body).hexdigest())


def fetch_artifact(target: AwsTarget, bucket: str, artifact: Artifact, dest_dir: Path) -> Path:
    """Download a published artifact to ``dest_dir/<name>.zip``, checking its digest."""
    data = target.client("s3").get_object(Bucket=bucket, Key=artifact.key)["Body"].read()
    if hashlib.sha256(data).hexdigest() != artifact.sha256:
        raise CommandFailedError(
            f"s3://{bucket}/{artifact.key} does not match its sha256; "
            "delete it and publish the release again."
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / artifact.file_name
    path.write_bytes(data)
    return path


def _unpack(zip_path: Path, dest_dir: Path, required: tuple[str, ...], what: str) -> None:
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        unsafe = any(n.startswith("/") or ".." in n.split("/") for n in names)
        if unsafe or not set(required) <= set(names):
            raise CommandFailedError(f"{zip_path} is not a release's {what}; rebuild it.")
        archive.extractall(dest_dir)


def unpack_infrastructure(zip_path: Path, dest_dir: Path) -> Path:
    """Unpack a release's infrastructure; returns the root to run its stacks from."""
    required = (f"{INFRASTRUCTURE}/main.tf", "scripts/versions.env")
    _unpack(zip_path, dest_dir, required, "infrastructure")
    return dest_dir


def _require_bucket(s3: Any, bucket: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        raise UsageError(
            f"artifacts bucket {bucket} is not reachable ({error_code(exc)}); "
            "apply the account stack or check the bucket name."
        ) from exc


def _head(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        head: dict[str, Any] = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND_CODES:
            return None
        raise
    return head
