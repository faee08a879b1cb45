"""What the rules read from moto, in-process: resource policies, tags, keys, key schemas.

Every lookup reads moto's backends as they are at the moment of the request, never
creating anything (moto's defaultdicts and lazy defaults are read with ``.get``).
A resource that does not exist has no policy and no tags; moto answers the request
with its own "not found" once it is authorized.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# AWS managed keys: the key policy AWS gives them (any principal of the account,
# only through the service that owns the key).
_MANAGED_KEY_SERVICES = {
    "alias/aws/ssm": "ssm",
    "alias/aws/s3": "s3",
    "alias/aws/dynamodb": "dynamodb",
    "alias/aws/lambda": "lambda",
    "alias/aws/sqs": "sqs",
    "alias/aws/sns": "sns",
    "alias/aws/logs": "logs",
    "alias/aws/rds": "rds",
    "alias/aws/ebs": "ec2",
}


@dataclass(frozen=True)
class Key:
    arn: str
    policy: str | None
    tags: Mapping[str, str]
    alias: str | None = None  # the alias it was named by, if any


def _backend(name: str, account: str, region: str) -> Any:
    from moto.backends import get_backend

    backends = get_backend(name)  # type: ignore[call-overload]
    return backends[account][region]


def tag_dict(tags: Any) -> dict[str, str]:
    if not tags:
        return {}
    if isinstance(tags, dict):
        out: dict[str, str] = {}
        for k, v in tags.items():
            if isinstance(v, dict):
                out[str(v.get("Key", k))] = str(v.get("Value", ""))
            else:
                out[str(k)] = str(v)
        return out
    out = {}
    for t in tags:
        key = t.get("Key", t.get("key", t.get("TagKey")))
        if key is not None:
            out[str(key)] = str(t.get("Value", t.get("value", t.get("TagValue", ""))))
    return out


class World:
    """Reads of one account's backends (one per request)."""

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region

    # --- S3 ----------------------------------------------------------------------------

    def _bucket(self, name: str) -> Any:
        return _backend("s3", self.account, "aws").buckets.get(name)

    def bucket_policy(self, name: str) -> str | None:
        bucket = self._bucket(name)
        if bucket is None or not bucket.policy:
            return None
        policy = bucket.policy
        return policy.decode() if isinstance(policy, bytes) else str(policy)

    def bucket_tags(self, name: str) -> dict[str, str]:
        bucket = self._bucket(name)
        if bucket is None:
            return {}
        backend = _backend("s3", self.account, "aws")
        return tag_dict(backend.tagger.list_tags_for_resource(bucket.arn).get("Tags", []))

    def bucket_kms_key(self, name: str) -> str | None:
        """The KMS key of the bucket's default encryption (SSE-KMS), if any."""
        bucket = self._bucket(name)
        config = getattr(bucket, "encryption", None) if bucket is not None else None
        if not config:
            return None
        rules = config.get("Rule")
        for rule in rules if isinstance(rules, list) else [rules]:
            default = (rule or {}).get("ApplyServerSideEncryptionByDefault") or {}
            if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                return str(default.get("KMSMasterKeyID") or "alias/aws/s3")
        return None

    def object_kms_key(self, bucket_name: str, key_name: str) -> str | None:
        bucket = self._bucket(bucket_name)
        if bucket is None:
            return None
        try:
            obj = bucket.keys.get(key_name)
        except Exception:
            return None
        if obj is None or getattr(obj, "encryption", None) not in ("aws:kms", "aws:kms:dsse"):
            return None
        return str(obj.kms_key_id or "alias/aws/s3")

    # --- KMS ---------------------------------------------------------------------------

    def kms_key(self, ref: str) -> Key | None:
        """A key by id, key ARN, alias name or alias ARN (aliases resolved to their key)."""
        region, account = self.region, self.account
        match = re.match(r"^arn:aws[\w-]*:kms:([^:]*):(\d*):(key|alias)/(.+)$", ref)
        alias: str | None = None
        if match:
            region, account = match.group(1) or region, match.group(2) or account
            ref = match.group(4) if match.group(3) == "key" else f"alias/{match.group(4)}"
        backend = _backend("kms", account, region)
        if ref.startswith("alias/"):
            alias = ref
            key_id = None
            for key in list(backend.keys.values()):
                if ref in key.aliases:
                    key_id = key.id
                    break
            if key_id is None:
                return self._managed_key(ref, account, region)
        else:
            key_id = ref
        key = backend.keys.get(key_id)
        if key is None:
            from moto.kms.utils import RESERVED_ALIASE_TARGET_KEY_IDS

            for managed_alias, managed_id in RESERVED_ALIASE_TARGET_KEY_IDS.items():
                if managed_id == key_id:
                    return self._managed_key(managed_alias, account, region)
            return None
        managed = next((a for a in key.aliases if a in _MANAGED_KEY_SERVICES), None)
        if managed:
            return self._managed_key(managed, account, region)
        tags = tag_dict(backend.tagger.list_tags_for_resource(key.id).get("Tags", []))
        return Key(key.arn, str(key.policy) if key.policy else None, tags, alias)

    def _managed_key(self, alias: str, account: str, region: str) -> Key | None:
        service = _MANAGED_KEY_SERVICES.get(alias)
        if service is None:
            return None
        from moto.kms.utils import RESERVED_ALIASE_TARGET_KEY_IDS

        key_id = RESERVED_ALIASE_TARGET_KEY_IDS.get(alias, alias.replace("/", "-"))
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowThroughTheServiceForAllPrincipalsInTheAccount",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*",
                        "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:CallerAccount": account,
                            "kms:ViaService": f"{service}.{region}.amazonaws.com",
                        }
                    },
                },
                {
                    "Sid": "AllowDirectAccessToKeyMetadataToTheAccount",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                    "Resource": "*",
                },
            ],
        }  # fmt: skip
        arn = f"arn:aws:kms:{region}:{account}:key/{key_id}"
        return Key(arn, json.dumps(policy), {}, alias)

    def ciphertext_key(self, blob: bytes) -> str | None:
        from moto.kms.utils import HEADER_LEN, _deserialize_ciphertext_blob

        if len(blob) < HEADER_LEN:
            return None
        try:
            return str(_deserialize_ciphertext_blob(blob).key_id)
        except Exception:
            return None

    # --- SSM ---------------------------------------------------------------------------

    def ssm_parameter(self, name: str) -> Any:
        backend = _backend("ssm", self.account, self.region)
        versions = backend._parameters.get(name) or backend._parameters.get("/" + name.lstrip("/"))
        return versions[-1] if versions else None

    def ssm_parameters_under(self, path: str, recursive: bool) -> list[Any]:
        backend = _backend("ssm", self.account, self.region)
        prefix = path.rstrip("/") + "/"
        found = []
        for name, versions in list(backend._parameters.items()):
            if not versions or not name.startswith(prefix):
                continue
            if not recursive and "/" in name[len(prefix) :]:
                continue
            found.append(versions[-1])
        return found

    def ssm_tags(self, name: str) -> dict[str, str]:
        backend = _backend("ssm", self.account, self.region)
        by_type = backend._resource_tags.get("Parameter") or {}
        return dict(by_type.get(name) or by_type.get("/" + name.lstrip("/")) or {})

    # --- DynamoDB ----------------------------------------------------------------------

    def dynamodb_table(self, name: str) -> Any:
        backend = _backend("dynamodb", self.account, self.region)
        return backend.tables.get(name)

    # --- Lambda ------------------------------------------------------------------------

    def lambda_function(self, name: str) -> Any:
        backend = _backend("lambda", self.account, self.region)
        entry = backend._lambdas._functions.get(name)
        return entry["latest"] if entry else None

    def lambda_function_versions(self, name: str) -> list[Any]:
        """The function's ``$LATEST`` and each published version, as moto keeps them (moto
        puts a permission added for an alias on the version the alias pointed to then)."""
        backend = _backend("lambda", self.account, self.region)
        entry = backend._lambdas._functions.get(name)
        return [entry["latest"], *entry.get("versions", [])] if entry else []

    def lambda_event_source_mapping(self, uuid: str) -> Any:
        backend = _backend("lambda", self.account, self.region)
        return backend._event_source_mappings.get(uuid)

    # --- CloudWatch ---------------------------------------------------------------------

    def cloudwatch_alarm(self, name: str) -> Any:
        return _backend("cloudwatch", self.account, self.region).alarms.get(name)

    # --- SQS / SNS ----------------------------------------------------------------------

    def sqs_queue(self, name: str) -> Any:
        return _backend("sqs", self.account, self.region).queues.get(name)

    def sns_topic(self, arn: str) -> Any:
        return _backend("sns", self.account, self.region).topics.get(arn)

    # --- logs / API Gateway / EC2 / IAM -------------------------------------------------

    def log_group_tags(self, name: str) -> dict[str, str]:
        backend = _backend("logs", self.account, self.region)
        group = backend.groups.get(name)
        if group is None:
            return {}
        return dict(backend.tagger.get_tag_dict_for_resource(group.arn))

    def http_api_tags(self, api_id: str) -> dict[str, str]:
        backend = _backend("apigatewayv2", self.account, self.region)
        api = backend.apis.get(api_id)
        if api is None:
            return {}
        return {**tag_dict(getattr(api, "tags", None)), **backend.get_tags(api.arn)}

    def http_api_stage_tags(self, api_id: str, stage: str) -> dict[str, str]:
        backend = _backend("apigatewayv2", self.account, self.region)
        api = backend.apis.get(api_id)
        found = getattr(api, "stages", {}).get(stage) if api is not None else None
        return tag_dict(getattr(found, "tags", None))

    def ec2_tags(self, resource_id: str) -> dict[str, str]:
        backend = _backend("ec2", self.account, self.region)
        return dict(backend.tags.get(resource_id) or {})

    def ec2_vpc_of(self, resource_id: str) -> str | None:
        """The VPC a subnet, security group, route table or endpoint belongs to."""
        backend = _backend("ec2", self.account, self.region)
        try:
            if resource_id.startswith("vpc-"):
                return resource_id
            if resource_id.startswith("subnet-"):
                return str(backend.get_subnet(resource_id).vpc_id)
            if resource_id.startswith("sg-"):
                group = backend.get_security_group_from_id(resource_id)
                return str(group.vpc_id) if group is not None else None
            if resource_id.startswith("rtb-"):
                return str(backend.get_route_table(resource_id).vpc_id)
            if resource_id.startswith("vpce-"):
                return str(backend.vpc_end_points[resource_id].vpc_id)
        except Exception:
            return None
        return None

    def ec2_route_table_of_association(self, association_id: str) -> str | None:
        backend = _backend("ec2", self.account, self.region)
        for table in list(backend.route_tables.values()):
            associations = getattr(table, "_associations", None)  # moto 5.2: id -> subnet
            if associations is None:  # older moto: a dict named associations
                associations = getattr(table, "associations", {})
            if association_id in associations:
                return str(table.id)
        return None

    def ec2_address(self, allocation_or_association: str) -> str | None:
        backend = _backend("ec2", self.account, self.region)
        for address in list(backend.addresses):
            if allocation_or_association in (address.allocation_id, address.association_id):
                return str(address.allocation_id)
        return None

    def iam_role(self, name: str) -> Any:
        backend = _backend("iam", self.account, "aws")
        return next((r for r in list(backend.roles.values()) if r.name == name), None)

    def oidc_provider(self, url: str) -> Any:
        """The IAM OIDC provider of ``url`` (``host/path``, as IAM names it), or None."""
        backend = _backend("iam", self.account, "aws")
        arn = f"arn:aws:iam::{self.account}:oidc-provider/{url}"
        return backend.open_id_providers.get(arn)

    def role_tags(self, name: str) -> dict[str, str]:
        role = self.iam_role(name)
        return tag_dict(role.tags) if role is not None else {}

    def rds_tags(self, arn: str) -> dict[str, str]:
        backend = _backend("rds", self.account, self.region)
        try:
            return tag_dict(backend.list_tags_for_resource(arn))
        except Exception:
            return {}
