"""The mapping: each operation the local AWS enforces -> the checks AWS makes for it.

A check is (action, resource ARN, request context).  Most operations make one; some
make several, all of which must be allowed: ``CreateFunction`` also passes a role
(``iam:PassRole``), an SSE-KMS ``PutObject`` also uses the key
(``kms:GenerateDataKey`` with ``kms:ViaService``), ``CreateSubnet`` is authorized on
the new subnet and on its VPC.

An operation that is not in :data:`RULES` (and no family of :data:`FAMILIES` takes) is
refused: there is no silent allow.  docs/local-iam.md lists the table
(:func:`smartstack.local.iam.docs.render`, checked by a test).

:mod:`.core` has the vocabulary and the registry; one module per group of services
registers its operations; :mod:`.resources` finds a resource's policy and tags.
"""

from __future__ import annotations

from smartstack.local.iam.rules import (  # noqa: F401 - each registers its operations
    apigateway,
    dynamodb,
    lambda_,
    messaging,
    network,
    s3,
    ssm_kms,
    sts_iam,
)
from smartstack.local.iam.rules.core import (
    FAMILIES,
    PREFIXES,
    RULES,
    Call,
    Check,
    Rule,
    Unresolved,
    query_tags,
    rule_for,
)
from smartstack.local.iam.rules.resources import resource_policy, resource_tags

__all__ = [
    "FAMILIES", "PREFIXES", "RULES", "Call", "Check", "Rule", "Unresolved", "query_tags",
    "resource_policy", "resource_tags", "rule_for",
]  # fmt: skip
