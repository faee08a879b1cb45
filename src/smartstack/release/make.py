"""Use-case: make a release (build it once) and, if asked, publish it for promotion."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from smartstack.aws.target import environment_target
from smartstack.core.config import Settings
from smartstack.core.environments import environment_names
from smartstack.core.naming import artifacts_bucket_name
from smartstack.release.build import Manifest, build_release
from smartstack.release.store import publish_release


@dataclass(frozen=True)
class ReleaseResult:
    manifest: Manifest
    directory: str
    uploaded: tuple[str, ...]
    bucket: str | None


def make_release(settings: Settings, *, allow_dirty: bool, publish: bool) -> ReleaseResult:
    """Build from the checkout into ``<state>/releases/<id>``; upload each artifact once."""
    staging = settings.state_dir / "releases" / ".building"
    shutil.rmtree(staging, ignore_errors=True)
    manifest = build_release(settings.root, staging, allow_dirty=allow_dirty)
    final = settings.state_dir / "releases" / manifest.release
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    uploaded: list[str] = []
    bucket = None
    if publish:
        # As the build job of the environment main deploys to (the first to promote from):
        # its role publishes, when the settings say to act as the environments' roles.
        target = environment_target(settings, environment_names(settings.configs_dir)[0])
        bucket = artifacts_bucket_name(target.account_id(), target.region, settings.project)
        uploaded = publish_release(target, bucket, manifest, final)
    return ReleaseResult(manifest, str(final), tuple(uploaded), bucket)
