"""One environment, resolved once per command.

Every command that works inside an environment (deploy, approve, rollback,
the secrets commands) needs the same things: the settings, the environment's
validated tfvars, where AWS calls go and as whom, and the redactor every value
passes through.  :func:`open_environment` refuses a bad environment name before
anything else; the tfvars are parsed and the target (which may assume the
environment's role) is made only when first used, so a command pays only for
what it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from smartstack.aws.target import AwsTarget, environment_target
from smartstack.core.config import Settings
from smartstack.core.environments import EnvironmentConfig, environment_tfvars, load_environment
from smartstack.core.naming import artifacts_bucket_name, parameter_prefix, resource_name
from smartstack.core.redact import Redactor


@dataclass(frozen=True)
class EnvironmentContext:
    """Who acts in which environment, with what settings; see :func:`open_environment`."""

    settings: Settings
    name: str
    redactor: Redactor = field(default_factory=Redactor, repr=False)

    @cached_property
    def config(self) -> EnvironmentConfig:
        """The environment's validated tfvars, read when first asked for (secrets never ask)."""
        return load_environment(self.settings.configs_dir, self.name)

    @property
    def project(self) -> str:
        return self.settings.project

    @cached_property
    def target(self) -> AwsTarget:
        """The environment's AWS (through its role when ``assume_roles`` is set)."""
        return environment_target(self.settings, self.name)

    @property
    def caller(self) -> str:
        """The STS identity acting here, as recorded in the ledger and on secrets."""
        return self.target.caller_arn()

    def resource_name(self, service: str) -> str:
        return resource_name(self.name, service, self.project)

    @property
    def parameter_prefix(self) -> str:
        return parameter_prefix(self.name, self.project)

    @property
    def artifacts_bucket(self) -> str:
        return artifacts_bucket_name(self.target.account_id(), self.target.region, self.project)


def open_environment(
    settings: Settings, env: str, redactor: Redactor | None = None
) -> EnvironmentContext:
    """The environment's context; an unknown or invalid name is refused here, offline."""
    environment_tfvars(settings.configs_dir, env)
    return EnvironmentContext(settings, env, redactor or Redactor())
