"""The mapping of SSM Parameter Store and KMS: see :mod:`smartstack.local.iam.rules`."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from smartstack.local.iam.evaluator import ContextValue
from smartstack.local.iam.rules.core import (
    Call,
    Check,
    Unresolved,
    kms_check,
    on,
    tag_context,
    tags_of,
    via,
)

# ================================ SSM ========================================================


def _ssm_name(name: str) -> str:
    """A parameter's name without a version/label selector or an ARN around it."""
    if name.startswith("arn:"):
        name = "/" + name.split(":parameter/", 1)[-1]
        name = name.split(":", 1)[0] if ":" in name else name
        return name
    return name.split(":", 1)[0]


def ssm_parameter_arn(call: Call, name: str) -> str:
    if name.startswith("arn:"):
        return name.rsplit(":", 1)[0] if name.count(":") > 5 else name
    return call.arn("ssm", "parameter/" + _ssm_name(name).lstrip("/"))


def _ssm_decrypt(call: Call, parameters: Iterable[Any], action: str = "kms:Decrypt") -> list[Check]:
    checks: dict[str, Check] = {}
    for parameter in parameters:
        if parameter is None or getattr(parameter, "parameter_type", "") != "SecureString":
            continue
        arn = ssm_parameter_arn(call, str(parameter.name))
        context = {**via(call, "ssm"), "kms:EncryptionContext:PARAMETER_ARN": arn,
                   "kms:EncryptionContextKeys": ["PARAMETER_ARN"]}  # fmt: skip
        check = kms_check(call, action, str(parameter.keyid or "alias/aws/ssm"), context)
        checks.setdefault(check.resource, check)
    return list(checks.values())


def _decrypting(call: Call) -> bool:
    value = call.get("WithDecryption", False)
    return value is True or str(value).lower() == "true"


@on("ssm", "GetParameter", "GetParameterHistory", actions=("ssm:{op}", "kms:Decrypt"))
def _ssm_get(call: Call) -> list[Check]:
    name = str(call.need("Name"))
    checks = [Check(call.action, ssm_parameter_arn(call, name))]
    if _decrypting(call):
        checks += _ssm_decrypt(call, [call.world.ssm_parameter(_ssm_name(name))])
    return checks


@on("ssm", "GetParameters", actions=("ssm:GetParameters", "kms:Decrypt"))
def _ssm_get_many(call: Call) -> list[Check]:
    names = [str(n) for n in call.need("Names")]
    checks = [Check(call.action, ssm_parameter_arn(call, n)) for n in names]
    if _decrypting(call):
        checks += _ssm_decrypt(call, [call.world.ssm_parameter(_ssm_name(n)) for n in names])
    return checks


@on("ssm", "GetParametersByPath", actions=("ssm:GetParametersByPath", "kms:Decrypt"))
def _ssm_by_path(call: Call) -> list[Check]:
    path = str(call.need("Path"))
    trimmed = path.rstrip("/") or "/"
    arn = call.arn("ssm", "parameter" + (trimmed if trimmed.startswith("/") else "/" + trimmed))
    checks = [Check(call.action, arn)]
    if _decrypting(call):
        recursive = call.get("Recursive") in (True, "true", "True")
        checks += _ssm_decrypt(call, call.world.ssm_parameters_under(trimmed, recursive))
    return checks


@on("ssm", "PutParameter", actions=("ssm:PutParameter", "ssm:AddTagsToResource", "kms:Encrypt"))
def _ssm_put(call: Call) -> list[Check]:
    name = str(call.need("Name"))
    arn = ssm_parameter_arn(call, name)
    tags = tags_of(call.get("Tags"))
    checks = [Check("ssm:PutParameter", arn, tag_context(tags) if tags else {})]
    if tags:
        checks.append(Check("ssm:AddTagsToResource", arn, tag_context(tags)))
    existing = call.world.ssm_parameter(_ssm_name(name))
    kind = call.get("Type") or getattr(existing, "parameter_type", None)
    if kind == "SecureString":
        key = call.get("KeyId") or getattr(existing, "keyid", None) or "alias/aws/ssm"
        context = {**via(call, "ssm"), "kms:EncryptionContext:PARAMETER_ARN": arn,
                   "kms:EncryptionContextKeys": ["PARAMETER_ARN"]}  # fmt: skip
        checks.append(kms_check(call, "kms:Encrypt", str(key), context))
    return checks


@on("ssm", "DeleteParameter", "LabelParameterVersion", "UnlabelParameterVersion")
def _ssm_one(call: Call) -> list[Check]:
    return [Check(call.action, ssm_parameter_arn(call, str(call.need("Name"))))]


@on("ssm", "DeleteParameters")
def _ssm_delete_many(call: Call) -> list[Check]:
    return [Check(call.action, ssm_parameter_arn(call, str(n))) for n in call.need("Names")]


def _ssm_resource(call: Call) -> str:
    kind, rid = str(call.need("ResourceType")), str(call.need("ResourceId"))
    if kind == "Parameter":
        return ssm_parameter_arn(call, rid)
    if kind == "Document":
        return call.arn("ssm", f"document/{rid}")
    if kind == "MaintenanceWindow":
        return call.arn("ssm", f"maintenancewindow/{rid}")
    if kind == "PatchBaseline":
        return call.arn("ssm", f"patchbaseline/{rid}")
    if kind == "OpsItem":
        return call.arn("ssm", f"opsitem/{rid}")
    raise Unresolved(f"ssm:{call.operation} on a {kind}")


@on("ssm", "AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource")
def _ssm_tags(call: Call) -> list[Check]:
    tags = tags_of(call.get("Tags"))
    keys = list(tags) if tags else [str(k) for k in call.get("TagKeys") or ()]
    return [Check(call.action, _ssm_resource(call), tag_context(tags, keys) if keys else {})]


@on("ssm", "DescribeParameters")
def _ssm_star(call: Call) -> list[Check]:
    return [Check(call.action, "*")]


# ================================ KMS ========================================================

_KMS_KEY_OPS = (
    "DescribeKey", "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies", "GetKeyRotationStatus",
    "EnableKeyRotation", "DisableKeyRotation", "ListKeyRotations", "RotateKeyOnDemand",
    "ScheduleKeyDeletion", "CancelKeyDeletion", "EnableKey", "DisableKey", "UpdateKeyDescription",
    "ListResourceTags", "ListGrants", "RevokeGrant", "GetPublicKey", "Sign", "Verify",
    "GenerateMac", "VerifyMac", "GetParametersForImport", "ImportKeyMaterial",
    "DeleteImportedKeyMaterial", "ReplicateKey", "UpdatePrimaryRegion", "DeriveSharedSecret",
)  # fmt: skip
_KMS_CRYPTO_OPS = (
    "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
)  # fmt: skip


def _kms_context(call: Call) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {}
    encryption = call.get("EncryptionContext") or {}
    for k, v in encryption.items():
        context[f"kms:EncryptionContext:{k}"] = str(v)
    if encryption:
        context["kms:EncryptionContextKeys"] = [str(k) for k in encryption]
    if call.get("EncryptionAlgorithm"):
        context["kms:EncryptionAlgorithm"] = str(call.get("EncryptionAlgorithm"))
    return context


@on("kms", *_KMS_KEY_OPS, *_KMS_CRYPTO_OPS)
def _kms_key(call: Call) -> list[Check]:
    return [kms_check(call, call.action, str(call.need("KeyId")), _kms_context(call))]


@on("kms", "Decrypt")
def _kms_decrypt(call: Call) -> list[Check]:
    key = call.get("KeyId")
    if not key:
        blob = base64.b64decode(str(call.need("CiphertextBlob")))
        key = call.world.ciphertext_key(blob)
        if not key:
            raise Unresolved("kms:Decrypt of a ciphertext that names no key")
    return [kms_check(call, "kms:Decrypt", str(key), _kms_context(call))]


@on("kms", "ReEncrypt", actions=("kms:ReEncryptFrom", "kms:ReEncryptTo"))
def _kms_reencrypt(call: Call) -> list[Check]:
    source = call.get("SourceKeyId")
    if not source:
        source = call.world.ciphertext_key(base64.b64decode(str(call.need("CiphertextBlob"))))
    checks = [kms_check(call, "kms:ReEncryptFrom", str(source), {})] if source else []
    checks.append(kms_check(call, "kms:ReEncryptTo", str(call.need("DestinationKeyId")), {}))
    return checks


@on("kms", "CreateGrant")
def _kms_grant(call: Call) -> list[Check]:
    context: dict[str, ContextValue] = {
        "kms:GrantIsForAWSResource": "false",
        "kms:GranteePrincipal": str(call.get("GranteePrincipal", "")),
        "kms:GrantOperations": [str(o) for o in call.get("Operations") or ()],
    }
    if call.get("RetiringPrincipal"):
        context["kms:RetiringPrincipal"] = str(call.get("RetiringPrincipal"))
    return [kms_check(call, "kms:CreateGrant", str(call.need("KeyId")), context)]


@on("kms", "RetireGrant")
def _kms_retire(call: Call) -> list[Check]:
    key = call.get("KeyId")
    return (
        [kms_check(call, "kms:RetireGrant", str(key), {})]
        if key
        else [Check("kms:RetireGrant", "*")]
    )


@on("kms", "TagResource", "UntagResource")
def _kms_tag(call: Call) -> list[Check]:
    tags = tags_of(call.get("Tags"))
    keys = list(tags) if tags else [str(k) for k in call.get("TagKeys") or ()]
    return [kms_check(call, call.action, str(call.need("KeyId")), tag_context(tags, keys))]


@on("kms", "CreateKey")
def _kms_create(call: Call) -> list[Check]:
    context = tag_context(tags_of(call.get("Tags")))
    if call.get("KeySpec"):
        context["kms:KeySpec"] = str(call.get("KeySpec"))
    if call.get("KeyUsage"):
        context["kms:KeyUsage"] = str(call.get("KeyUsage"))
    return [Check("kms:CreateKey", "*", context)]


@on(
    "kms",
    "ListKeys",
    "ListAliases",
    "GenerateRandom",
    "ListRetirableGrants",
    "DescribeCustomKeyStores",
)
def _kms_star(call: Call) -> list[Check]:
    if call.operation == "ListAliases" and call.get("KeyId"):
        return [kms_check(call, "kms:ListAliases", str(call.get("KeyId")), {})]
    return [Check(call.action, "*")]


def _alias_arn(call: Call, name: str) -> str:
    return name if name.startswith("arn:") else call.arn("kms", name)


@on("kms", "CreateAlias", "DeleteAlias", "UpdateAlias")
def _kms_alias(call: Call) -> list[Check]:
    alias = str(call.need("AliasName"))
    checks = [Check(call.action, _alias_arn(call, alias), lookup_policy=False)]
    current = call.world.kms_key(alias) if call.operation != "CreateAlias" else None
    if current is not None:
        checks.append(kms_check(call, call.action, current.arn, {}))
    target = call.get("TargetKeyId")
    if target:
        checks.append(kms_check(call, call.action, str(target), {}))
    return checks
