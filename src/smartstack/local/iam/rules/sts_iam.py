"""The mapping of STS and IAM: see :mod:`smartstack.local.iam.rules`."""

from __future__ import annotations

from urllib.parse import urlsplit

from smartstack.local.iam.evaluator import ContextValue
from smartstack.local.iam.rules.core import (
    Call,
    Check,
    Unresolved,
    on,
    query_tags,
    tag_context,
)

# ================================ STS ========================================================


@on("sts", "GetCallerIdentity", free=True)
def _sts_caller(call: Call) -> list[Check]:
    return [Check("sts:GetCallerIdentity", "*")]


@on("sts", "GetSessionToken", "GetAccessKeyInfo", "DecodeAuthorizationMessage")
def _sts_star(call: Call) -> list[Check]:
    return [Check(call.action, "*")]


def _trust_policy(call: Call, role_arn: str) -> str | None:
    role = call.world.iam_role(role_arn.split("/")[-1])
    if role is None:  # AWS refuses it; moto would hand out a session with no policies
        raise Unresolved(f"{call.action} of {role_arn}: no such role")
    from smartstack.local.iam.principals import _document

    document = str(role.assume_role_policy_document)
    return _document(document) if document else None


@on("sts", "AssumeRole", actions=("sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"))
def _sts_assume(call: Call) -> list[Check]:
    role_arn = str(call.need("RoleArn"))
    trust = _trust_policy(call, role_arn)
    tags = query_tags(call.params, "Tags")
    transitive = call.flat_list("TransitiveTagKeys")
    source_identity = call.get("SourceIdentity")
    inherited = call.principal.context.get("aws:SourceIdentity")
    if inherited:  # set once, a session's for good: role chaining passes it on, unchanged
        if source_identity and str(source_identity) != str(inherited):
            raise Unresolved(
                f"{call.action} of {role_arn}: the caller's source identity is {inherited}; "
                f"it cannot be changed to {source_identity}"
            )
        source_identity = inherited
    context: dict[str, ContextValue] = {"sts:RoleSessionName": str(call.get("RoleSessionName", ""))}
    if call.get("ExternalId"):
        context["sts:ExternalId"] = str(call.get("ExternalId"))
    if source_identity:
        context["sts:SourceIdentity"] = str(source_identity)
    role_tags = call.world.role_tags(role_arn.split("/")[-1])
    checks = [
        Check("sts:AssumeRole", role_arn, context, trust, lookup_policy=False, tags=role_tags)
    ]
    if tags or transitive:
        tag_ctx = {**context, **tag_context(tags)}
        if transitive:
            tag_ctx["sts:TransitiveTagKeys"] = [str(k) for k in transitive]
        checks.append(
            Check("sts:TagSession", role_arn, tag_ctx, trust, lookup_policy=False, tags=role_tags)
        )
    if source_identity:
        checks.append(
            Check(
                "sts:SetSourceIdentity",
                role_arn,
                context,
                trust,
                lookup_policy=False,
                tags=role_tags,
            )
        )
    return checks


@on("sts", "AssumeRoleWithWebIdentity")
def _sts_web_identity(call: Call) -> list[Check]:
    """The caller is the OIDC provider (see :mod:`smartstack.local.iam.web_identity`); the
    role's trust policy alone decides, with the token's claims in the context."""
    role_arn = str(call.need("RoleArn"))
    trust = _trust_policy(call, role_arn)
    context: dict[str, ContextValue] = {"sts:RoleSessionName": str(call.get("RoleSessionName", ""))}
    tags = call.world.role_tags(role_arn.split("/")[-1])
    return [Check(call.action, role_arn, context, trust, lookup_policy=False, tags=tags)]


# ================================ IAM ========================================================


def _iam_path_arn(call: Call, kind: str, name: str, path: str | None = None) -> str:
    if name.startswith("arn:"):
        return name
    if path is None and kind == "role":
        role = call.world.iam_role(name)
        path = getattr(role, "path", None)
    path = path or "/"
    return f"arn:aws:iam::{call.account}:{kind}{path}{name}"


def _role_context(call: Call, name: str) -> dict[str, ContextValue]:
    role = call.world.iam_role(name)
    boundary = getattr(role, "permissions_boundary_arn", None)
    return {"iam:PermissionsBoundary": str(boundary)} if boundary else {}


_IAM_ROLE_OPS = (
    "GetRole", "DeleteRole", "UpdateRole", "UpdateRoleDescription", "UpdateAssumeRolePolicy",
    "ListRoleTags", "GetRolePolicy", "DeleteRolePolicy", "PutRolePolicy", "ListRolePolicies",
    "ListAttachedRolePolicies", "ListInstanceProfilesForRole", "DeleteRolePermissionsBoundary",
    "DeleteServiceLinkedRole", "GetServiceLinkedRoleDeletionStatus",
)  # fmt: skip


@on("iam", *_IAM_ROLE_OPS)
def _iam_role(call: Call) -> list[Check]:
    name = str(call.need("RoleName"))
    return [Check(call.action, _iam_path_arn(call, "role", name), _role_context(call, name))]


@on("iam", "CreateRole")
def _iam_create_role(call: Call) -> list[Check]:
    name = str(call.need("RoleName"))
    context: dict[str, ContextValue] = tag_context(query_tags(call.params, "Tags"))
    if call.get("PermissionsBoundary"):
        context["iam:PermissionsBoundary"] = str(call.get("PermissionsBoundary"))
    return [Check("iam:CreateRole", _iam_path_arn(call, "role", name, call.get("Path")), context)]


@on("iam", "PutRolePermissionsBoundary")
def _iam_put_boundary(call: Call) -> list[Check]:
    name = str(call.need("RoleName"))
    context = {"iam:PermissionsBoundary": str(call.need("PermissionsBoundary"))}
    return [Check(call.action, _iam_path_arn(call, "role", name), context)]


@on("iam", "TagRole", "UntagRole")
def _iam_tag_role(call: Call) -> list[Check]:
    name = str(call.need("RoleName"))
    tags = query_tags(call.params, "Tags")
    keys = list(tags) if tags else [str(k) for k in call.flat_list("TagKeys")]
    context = {**_role_context(call, name), **tag_context(tags, keys)}
    return [Check(call.action, _iam_path_arn(call, "role", name), context)]


@on("iam", "AttachRolePolicy", "DetachRolePolicy")
def _iam_attach_role(call: Call) -> list[Check]:
    name = str(call.need("RoleName"))
    context = {**_role_context(call, name), "iam:PolicyARN": str(call.need("PolicyArn"))}
    return [Check(call.action, _iam_path_arn(call, "role", name), context)]


_IAM_POLICY_OPS = (
    "GetPolicy", "DeletePolicy", "GetPolicyVersion", "ListPolicyVersions", "CreatePolicyVersion",
    "DeletePolicyVersion", "SetDefaultPolicyVersion", "ListPolicyTags", "ListEntitiesForPolicy",
)  # fmt: skip


@on("iam", *_IAM_POLICY_OPS)
def _iam_policy(call: Call) -> list[Check]:
    return [Check(call.action, str(call.need("PolicyArn")))]


@on("iam", "TagPolicy", "UntagPolicy")
def _iam_tag_policy(call: Call) -> list[Check]:
    tags = query_tags(call.params, "Tags")
    keys = list(tags) if tags else [str(k) for k in call.flat_list("TagKeys")]
    return [Check(call.action, str(call.need("PolicyArn")), tag_context(tags, keys))]


@on("iam", "CreatePolicy")
def _iam_create_policy(call: Call) -> list[Check]:
    name = str(call.need("PolicyName"))
    arn = _iam_path_arn(call, "policy", name, call.get("Path") or "/")
    return [Check("iam:CreatePolicy", arn, tag_context(query_tags(call.params, "Tags")))]


_IAM_USER_OPS = (
    "GetUser", "DeleteUser", "UpdateUser", "ListUserTags", "GetUserPolicy", "PutUserPolicy",
    "DeleteUserPolicy", "ListUserPolicies", "ListAttachedUserPolicies", "ListGroupsForUser",
    "CreateAccessKey", "DeleteAccessKey", "UpdateAccessKey", "ListAccessKeys",
    "CreateLoginProfile", "DeleteLoginProfile", "GetLoginProfile", "UpdateLoginProfile",
    "ListMFADevices", "ListSSHPublicKeys", "ListServiceSpecificCredentials",
    "ListSigningCertificates", "DeleteUserPermissionsBoundary",
)  # fmt: skip


@on("iam", *_IAM_USER_OPS)
def _iam_user(call: Call) -> list[Check]:
    name = call.get("UserName")
    if not name:  # the caller's own user
        if call.principal.kind != "user" and call.operation in ("GetUser", "ListAccessKeys"):
            return [Check(call.action, call.principal.principal_arn)]
        name = call.principal.arn.split("/")[-1]
    return [Check(call.action, _iam_path_arn(call, "user", str(name)))]


@on("iam", "CreateUser", "TagUser", "UntagUser", "PutUserPermissionsBoundary")
def _iam_user_write(call: Call) -> list[Check]:
    name = str(call.need("UserName"))
    tags = query_tags(call.params, "Tags")
    keys = list(tags) if tags else [str(k) for k in call.flat_list("TagKeys")]
    context = tag_context(tags, keys)
    if call.get("PermissionsBoundary"):
        context["iam:PermissionsBoundary"] = str(call.get("PermissionsBoundary"))
    return [Check(call.action, _iam_path_arn(call, "user", name, call.get("Path")), context)]


@on("iam", "AttachUserPolicy", "DetachUserPolicy")
def _iam_attach_user(call: Call) -> list[Check]:
    name = str(call.need("UserName"))
    return [
        Check(
            call.action,
            _iam_path_arn(call, "user", name),
            {"iam:PolicyARN": str(call.need("PolicyArn"))},
        )
    ]


_IAM_GROUP_OPS = (
    "CreateGroup", "GetGroup", "DeleteGroup", "AddUserToGroup", "RemoveUserFromGroup",
    "PutGroupPolicy", "GetGroupPolicy", "DeleteGroupPolicy", "ListGroupPolicies",
    "ListAttachedGroupPolicies", "AttachGroupPolicy", "DetachGroupPolicy",
)  # fmt: skip


@on("iam", *_IAM_GROUP_OPS)
def _iam_group(call: Call) -> list[Check]:
    name = str(call.need("GroupName"))
    context: dict[str, ContextValue] = {}
    if call.get("PolicyArn"):
        context["iam:PolicyARN"] = str(call.get("PolicyArn"))
    return [Check(call.action, _iam_path_arn(call, "group", name, call.get("Path")), context)]


_IAM_OIDC_OPS = (
    "GetOpenIDConnectProvider", "DeleteOpenIDConnectProvider",
    "UpdateOpenIDConnectProviderThumbprint",
    "AddClientIDToOpenIDConnectProvider", "RemoveClientIDFromOpenIDConnectProvider",
    "ListOpenIDConnectProviderTags", "TagOpenIDConnectProvider", "UntagOpenIDConnectProvider",
)  # fmt: skip


@on("iam", *_IAM_OIDC_OPS)
def _iam_oidc(call: Call) -> list[Check]:
    tags = query_tags(call.params, "Tags")
    keys = list(tags) if tags else [str(k) for k in call.flat_list("TagKeys")]
    return [
        Check(
            call.action,
            str(call.need("OpenIDConnectProviderArn")),
            tag_context(tags, keys) if keys else {},
        )
    ]


@on("iam", "CreateOpenIDConnectProvider")
def _iam_create_oidc(call: Call) -> list[Check]:
    host = urlsplit(str(call.need("Url"))).netloc or str(call.need("Url"))
    arn = f"arn:aws:iam::{call.account}:oidc-provider/{host}"
    return [Check(call.action, arn, tag_context(query_tags(call.params, "Tags")))]


_IAM_PROFILE_OPS = (
    "CreateInstanceProfile", "GetInstanceProfile", "DeleteInstanceProfile",
    "AddRoleToInstanceProfile", "RemoveRoleFromInstanceProfile", "ListInstanceProfileTags",
    "TagInstanceProfile", "UntagInstanceProfile",
)  # fmt: skip


@on("iam", *_IAM_PROFILE_OPS)
def _iam_profile(call: Call) -> list[Check]:
    name = str(call.need("InstanceProfileName"))
    checks = [Check(call.action, _iam_path_arn(call, "instance-profile", name, call.get("Path")))]
    if call.operation == "AddRoleToInstanceProfile":
        role = _iam_path_arn(call, "role", str(call.need("RoleName")))
        checks.append(Check("iam:PassRole", role, {"iam:PassedToService": "ec2.amazonaws.com"}))
    return checks


@on("iam", "CreateServiceLinkedRole")
def _iam_service_linked(call: Call) -> list[Check]:
    service = str(call.need("AWSServiceName"))
    name = service.split(".")[0]
    role = f"role/aws-service-role/{service}/AWSServiceRoleFor{name.title()}"
    arn = f"arn:aws:iam::{call.account}:{role}"
    return [Check(call.action, arn, {"iam:AWSServiceName": service})]


@on("iam", "SimulatePrincipalPolicy")
def _iam_simulate(call: Call) -> list[Check]:
    return [Check(call.action, str(call.need("PolicySourceArn")))]


_IAM_STAR_OPS = (
    "ListRoles", "ListUsers", "ListGroups", "ListPolicies", "ListOpenIDConnectProviders",
    "ListInstanceProfiles", "ListAccountAliases", "GetAccountSummary", "GetAccountPasswordPolicy",
    "GetAccountAuthorizationDetails", "ListSAMLProviders", "ListServerCertificates",
    "SimulateCustomPolicy", "GetCredentialReport", "GenerateCredentialReport",
    "ListVirtualMFADevices", "GetContextKeysForCustomPolicy",
)  # fmt: skip


@on("iam", *_IAM_STAR_OPS)
def _iam_star(call: Call) -> list[Check]:
    return [Check(call.action, "*")]
