"""Where secrets live: a small :class:`SecretStore` protocol and its Parameter Store backend.

Reads are batched so that listing or exporting N secrets costs about N/10
calls, never one call per key: metadata comes from ``DescribeParameters``
pages (no values on the wire at all), values from ``GetParametersByPath``
pages of 10 or ``GetParameters`` with up to 10 names.  Every value read or
written is registered with the :class:`~smartstack.core.redact.Redactor` here, the
one place values enter the process, so nothing printed later can show them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from smartstack.aws.errors import error_code
from smartstack.aws.target import AwsTarget
from smartstack.core.naming import environment_key_alias, parameter_prefix
from smartstack.core.redact import Redactor
from smartstack.secrets.errors import KmsKeyMissingError, SecretNotFoundError
from smartstack.secrets.keys import check_value, key_from_parameter, parameter_name

if TYPE_CHECKING:
    from mypy_boto3_ssm.type_defs import ParameterMetadataTypeDef, ParameterStringFilterTypeDef

BATCH = 10  # the most names GetParameters and GetParametersByPath take per call
TAG_BY = "smartstack:modified-by"
TAG_AT = "smartstack:modified-at"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class SecretMetadata:
    """What may be shown about a secret: never its value."""

    key: str
    version: int
    last_modified: str  # ISO 8601, UTC
    modified_by: str
    description: str = ""


@dataclass(frozen=True)
class SecretValue:
    """A key and its value; ``repr`` hides the value so a stray log line cannot leak it."""

    key: str
    version: int
    value: str = field(repr=False)


@dataclass(frozen=True)
class SecretShape:
    """What a parameter is, besides its value: what a restore must give it back."""

    type: str = "SecureString"  # String, StringList or SecureString
    tier: str = "Standard"
    key_id: str | None = None  # SecureString only
    description: str = ""


class SecretStore(Protocol):
    """The operations the secrets use-cases need, for one environment."""

    env: str

    def list_metadata(self) -> list[SecretMetadata]: ...
    def describe(self, key: str) -> SecretMetadata: ...
    def history(self, key: str) -> list[SecretMetadata]: ...
    def read_all(self) -> dict[str, SecretValue]: ...
    def read(self, keys: Iterable[str]) -> dict[str, SecretValue]: ...
    def caller(self) -> str: ...
    def check_key_exists(self) -> None: ...
    def write(self, key: str, value: str, who: str, description: str | None = None) -> int: ...
    def shapes(self, keys: Iterable[str]) -> dict[str, SecretShape]: ...
    def restore(self, key: str, value: str, shape: SecretShape, who: str) -> int: ...
    def delete(self, key: str) -> None: ...


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    return str(value or UNKNOWN)


def _known(user: Any) -> str:
    """Parameter Store's own record of who changed a version (the local AWS says N/A)."""
    return str(user) if user and user != "N/A" else UNKNOWN


def _chunks(items: list[str], size: int = BATCH) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SsmSecretStore:
    """Secrets of one environment as SecureString parameters under ``/smartstack/{env}/``.

    The target is the environment's (:func:`smartstack.aws.target.environment_target`),
    whose adaptive retry mode absorbs Parameter Store throttling.  Only the SSM
    client is made up front: reading commands never pay for KMS or STS clients.
    """

    def __init__(self, env: str, target: AwsTarget, redactor: Redactor, project: str) -> None:
        self.env = env
        self.project = project
        self.prefix = parameter_prefix(env, project)
        self.target = target
        self.ssm = target.client("ssm")
        self._redactor = redactor

    def _name(self, key: str) -> str:
        return parameter_name(self.env, key, self.project)

    def _key(self, name: str) -> str:
        return key_from_parameter(self.env, name, self.project)

    def _value(self, parameter: Mapping[str, Any]) -> SecretValue:
        value = str(parameter["Value"])
        self._redactor.register(value)
        return SecretValue(self._key(parameter["Name"]), int(parameter["Version"]), value)

    def _describe(
        self, filters: Sequence[ParameterStringFilterTypeDef]
    ) -> Iterator[ParameterMetadataTypeDef]:
        pages = self.ssm.get_paginator("describe_parameters").paginate(
            ParameterFilters=filters, PaginationConfig={"PageSize": 50}
        )
        for page in pages:
            yield from page["Parameters"]

    def _metadata(self, p: Mapping[str, Any], who: str | None = None) -> SecretMetadata:
        return SecretMetadata(
            key=self._key(p["Name"]),
            version=int(p["Version"]),
            last_modified=_iso(p.get("LastModifiedDate")),
            modified_by=who or _known(p.get("LastModifiedUser")),
            description=str(p.get("Description") or ""),
        )

    def list_metadata(self) -> list[SecretMetadata]:
        """Every key directly under the prefix, from metadata pages: no values fetched."""
        path: list[ParameterStringFilterTypeDef] = [
            {"Key": "Path", "Option": "OneLevel", "Values": [self.prefix.rstrip("/")]}
        ]
        found = [self._metadata(p) for p in self._describe(path)]
        return sorted(found, key=lambda m: m.key)

    def describe(self, key: str) -> SecretMetadata:
        """One key's metadata; who changed it last comes from our tags when present."""
        name = self._name(key)
        found = list(self._describe([{"Key": "Name", "Option": "Equals", "Values": [name]}]))
        if not found:
            raise self._not_found(key)
        tags = self.ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)
        by = {t["Key"]: t["Value"] for t in tags.get("TagList", [])}.get(TAG_BY)
        return self._metadata(found[0], by)

    def history(self, key: str) -> list[SecretMetadata]:
        """Every kept version, oldest first; values are neither decrypted nor kept."""
        name = self._name(key)
        current = self.describe(key)
        pages = self.ssm.get_paginator("get_parameter_history").paginate(
            Name=name, WithDecryption=False, PaginationConfig={"PageSize": 50}
        )
        versions = [self._metadata(p) for page in pages for p in page["Parameters"]]
        return [current if v.version == current.version else v for v in versions]

    def read_all(self) -> dict[str, SecretValue]:
        """All values under the prefix, decrypted, one call per page of 10."""
        pages = self.ssm.get_paginator("get_parameters_by_path").paginate(
            Path=self.prefix,
            Recursive=False,
            WithDecryption=True,
            PaginationConfig={"PageSize": BATCH},
        )
        values = [self._value(p) for page in pages for p in page["Parameters"]]
        return {v.key: v for v in sorted(values, key=lambda v: v.key)}

    def read(self, keys: Iterable[str]) -> dict[str, SecretValue]:
        """The values of the given keys that exist, up to 10 names per call."""
        names = sorted({self._name(k) for k in keys})
        found: dict[str, SecretValue] = {}
        for chunk in _chunks(names):
            response = self.ssm.get_parameters(Names=chunk, WithDecryption=True)
            for parameter in response["Parameters"]:
                value = self._value(parameter)
                found[value.key] = value
        return found

    def caller(self) -> str:
        """The identity recorded as the author of a change (the STS caller ARN)."""
        return self.target.caller_arn()

    def check_key_exists(self) -> None:
        """Fail with the fix before writing when the environment's KMS key is missing."""
        alias = environment_key_alias(self.env, self.project)
        try:
            self.target.client("kms").describe_key(KeyId=alias)
        except ClientError as exc:
            if error_code(exc) != "NotFoundException":
                raise
            raise KmsKeyMissingError(
                f"the KMS key {alias} for environment {self.env} does not exist: "
                "apply the account stack first, it creates the environments' keys."
            ) from None

    def write(self, key: str, value: str, who: str, description: str | None = None) -> int:
        """Put a SecureString under the environment's key and tag who/when; the new version."""
        name = self._name(key)
        self._redactor.register(check_value(key, value))
        args: dict[str, Any] = {
            "Name": name,
            "Value": value,
            "Type": "SecureString",
            "Overwrite": True,
            "KeyId": environment_key_alias(self.env, self.project),
        }
        if description is not None:
            args["Description"] = description
        return self._put(args, who)

    def _put(self, args: dict[str, Any], who: str) -> int:
        """PutParameter, then tag who and when: the new version."""
        version = int(self.ssm.put_parameter(**args)["Version"])
        now = datetime.now(UTC).isoformat(timespec="seconds")
        # Tags cannot go with Overwrite in one PutParameter, hence a second call.
        self.ssm.add_tags_to_resource(
            ResourceType="Parameter",
            ResourceId=args["Name"],
            Tags=[{"Key": TAG_BY, "Value": who[:256]}, {"Key": TAG_AT, "Value": now}],
        )
        return version

    def shapes(self, keys: Iterable[str]) -> dict[str, SecretShape]:
        """Type, tier, KMS key and description of the given keys that exist."""
        names = sorted({self._name(k) for k in keys})
        found: dict[str, SecretShape] = {}
        for start in range(0, len(names), 50):  # a filter takes 50 values
            chunk = names[start : start + 50]
            for p in self._describe([{"Key": "Name", "Option": "Equals", "Values": chunk}]):
                found[self._key(p["Name"])] = SecretShape(
                    type=str(p.get("Type") or "SecureString"),
                    tier=str(p.get("Tier") or "Standard"),
                    key_id=str(p["KeyId"]) if p.get("KeyId") else None,
                    description=str(p.get("Description") or ""),
                )
        return found

    def restore(self, key: str, value: str, shape: SecretShape, who: str) -> int:
        """Put ``value`` back as it was: its type, tier, KMS key and description."""
        name = self._name(key)
        self._redactor.register(value)
        args: dict[str, Any] = {
            "Name": name, "Value": value, "Type": shape.type, "Tier": shape.tier,
            "Overwrite": True, "Description": shape.description,
        }  # fmt: skip
        if shape.type == "SecureString":
            args["KeyId"] = shape.key_id or environment_key_alias(self.env, self.project)
        return self._put(args, who)

    def delete(self, key: str) -> None:
        try:
            self.ssm.delete_parameter(Name=self._name(key))
        except ClientError as exc:
            if error_code(exc) == "ParameterNotFound":
                raise self._not_found(key) from None
            raise

    def _not_found(self, key: str) -> SecretNotFoundError:
        return SecretNotFoundError(
            f"no secret '{key}' in environment {self.env} ({self.prefix}{key}); "
            f"see `smartstack secrets list {self.env}`."
        )
