"""Where the pinned OpenTofu, AWS provider, Lambda RIE, checkov and actionlint live.

``scripts/versions.env`` pins them and ``scripts/build-toolchain.sh`` installs
them into the cache; this module only finds the results and says how to get
them when they are missing.

The provider is either built here into the filesystem mirror (the source route)
or installed by ``tofu init`` from the registry (the official route, recorded as
``PROVIDERS=registry`` in the cache's ``toolchain.env``); only the first needs
the binary to exist beforehand.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from smartstack.core.config import Settings
from smartstack.core.envfile import read_env_file
from smartstack.core.errors import ConfigError, ToolMissingError


@dataclass(frozen=True)
class Toolchain:
    opentofu_version: str
    aws_provider_version: str
    tofu: Path
    cli_config: Path
    provider: Path
    lambda_rie: Path
    checkov: Path
    actionlint: Path
    provider_from_registry: bool = False

    def missing(self) -> list[Path]:
        provider = () if self.provider_from_registry else (self.provider,)
        return [
            p for p in (self.tofu, self.cli_config, *provider, self.lambda_rie) if not p.exists()
        ]

    def require(self) -> Toolchain:
        missing = self.missing()
        if missing:
            raise ToolMissingError(
                f"toolchain incomplete ({', '.join(p.name for p in missing)} missing); "
                "build it with scripts/build-toolchain.sh."
            )
        return self


def toolchain(settings: Settings) -> Toolchain:
    versions_file = settings.root / "scripts" / "versions.env"
    try:
        pins = read_env_file(versions_file.read_text())
        tofu_version = pins["OPENTOFU_VERSION"]
        provider_version = pins["AWS_PROVIDER_VERSION"]
        rie_version = pins["LAMBDA_RIE_MODULE_VERSION"]
        checkov_version = pins["CHECKOV_VERSION"]
        actionlint_version = pins["ACTIONLINT_VERSION"]
    except (OSError, KeyError) as exc:
        raise ConfigError(f"{versions_file}: missing or incomplete ({exc}).") from exc
    # checkov's environment is keyed by its lock too, as in scripts/setup.sh. A release's
    # infrastructure root has no lock (and no use for checkov): a path that never exists.
    try:
        lock = (settings.root / "scripts" / "checkov.lock").read_bytes()
        checkov_lock = hashlib.sha256(lock).hexdigest()[:12]
    except OSError:
        checkov_lock = "no-lock"
    cache = settings.cache_dir
    try:
        state = read_env_file((cache / "toolchain.env").read_text())
    except OSError:
        state = {}  # nothing installed yet, or a cache from before the routes
    provider_dir = (
        cache / "plugins/registry.opentofu.org/hashicorp/aws" / provider_version / "linux_amd64"
    )
    return Toolchain(
        opentofu_version=tofu_version,
        aws_provider_version=provider_version,
        tofu=cache / "bin" / f"tofu-{tofu_version}",
        cli_config=cache / "tofu.rc",
        provider=provider_dir / f"terraform-provider-aws_v{provider_version}_x5",
        lambda_rie=cache / "bin" / f"aws-lambda-rie-{rie_version}",
        checkov=cache / f"checkov-{checkov_version}-{checkov_lock}" / "bin" / "checkov",
        actionlint=cache / "bin" / f"actionlint-{actionlint_version}",
        provider_from_registry=state.get("PROVIDERS") == "registry",
    )
