# smartstack-<env>-role: what the pipeline (GitHub Actions, environment <env>)
# and the administrators act as for one environment. Every statement names that
# environment's resources; nothing reaches another environment.

data "aws_iam_policy_document" "env_trust" {
  for_each = local.environments

  statement {
    sid     = "GitHubActionsEnvironment"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    # The environment, and only the deploy workflow as it is on main: its steps are
    # reviewed code, so the records it writes (the ledger's evidence for the next
    # environment) and the session name it gives (the GitHub login) can be trusted. A
    # branch's copy of the workflow, or another workflow naming the environment, is
    # refused. IAM tests GitHub's `sub` claim, so the repository customizes its subject to
    # name the workflow (docs/pipeline-workflows.md: include_claim_keys repo, context,
    # job_workflow_ref).
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values = [join(":", [
        "repo", var.github_repository, "environment", each.key,
        "job_workflow_ref", "${var.github_repository}/${var.github_deploy_workflow}@${var.github_deploy_ref}",
      ])]
    }
  }

  # An administrator who is an IAM user must name the session after themselves and carry
  # their user name as its source identity (SMARTSTACK_ASSUME_ROLES does:
  # src/smartstack/aws/target.py, operator_session): the ledger records the session, so it
  # names the person who deployed, and the approver rule knows them.
  statement {
    sid     = "AdministratorsAsThemselves"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = local.admins
    }

    condition {
      test     = "StringEquals"
      variable = "sts:SourceIdentity"
      values   = ["$${aws:username}"]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:RoleSessionName"
      values   = ["$${aws:username}"]
    }
  }

  # ... which they may set (sts:SetSourceIdentity is authorized apart, and knows no
  # session name).
  statement {
    sid     = "AdministratorsSetTheirSourceIdentity"
    actions = ["sts:SetSourceIdentity"]

    principals {
      type        = "AWS"
      identifiers = local.admins
    }

    condition {
      test     = "StringEquals"
      variable = "sts:SourceIdentity"
      values   = ["$${aws:username}"]
    }
  }

  # Any other administrator: the account root, or a role's session (single sign-on) that
  # carries no source identity. A session that carries one (an administrator's own, passed
  # on by role chaining) is refused here: renamed, it would no longer name its person.
  statement {
    sid     = "AdministratorsNotIamUsers"
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "AWS"
      identifiers = local.admins
    }

    condition {
      test     = "Null"
      variable = "aws:username"
      values   = ["true"]
    }

    condition {
      test     = "Null"
      variable = "sts:SourceIdentity"
      values   = ["true"]
    }
  }
}

resource "aws_iam_role" "env" {
  for_each = local.environments

  name                 = local.env[each.key].role_name
  description          = "SmartStack ${each.key}: deploys and operates the ${each.key} environment only (ADR-007)."
  assume_role_policy   = data.aws_iam_policy_document.env_trust[each.key].json
  max_session_duration = 3600

  tags = { Environment = each.key }
}

data "aws_iam_policy_document" "env_role" {
  # checkov:skip=CKV_AWS_356:"*" only for event source mappings, scoped by lambda:FunctionArn
  for_each = local.environments

  # Least privilege, measured (scripts/least-privilege.sh, `smartstack iam report`): each
  # grant that session does not exercise carries its reason below ("unexercised: …");
  # those without one went.

  # --- Parameter Store: /<project>/<env>/* -----------------------------------
  # unexercised: GetParameterHistory (`secrets history`), RemoveTagsFromResource (tag changes)
  statement {
    sid = "OwnParameters"
    actions = [
      "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:GetParameterHistory",
      "ssm:PutParameter", "ssm:DeleteParameter",
      "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource", "ssm:ListTagsForResource",
    ]
    resources = [local.env[each.key].parameter_arn, "${local.env[each.key].parameter_arn}/*"]
  }

  # --- OpenTofu state: its own key, its own lock items ------------------------
  statement {
    sid       = "OwnStateObject"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["arn:${local.partition}:s3:::${local.state_bucket}/${local.env[each.key].state_key}"]
  }

  statement {
    sid       = "ListOwnStatePrefix"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${local.state_bucket}"]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["env/${each.key}/*"]
    }
  }

  statement {
    sid       = "OwnStateLockItems"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    resources = ["arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${local.lock_table}"]

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values = [
        "${local.state_bucket}/${local.env[each.key].state_key}",
        "${local.state_bucket}/${local.env[each.key].state_key}-md5",
      ]
    }

    condition {
      test     = "Null"
      variable = "dynamodb:LeadingKeys"
      values   = ["false"]
    }
  }

  # unexercised: Encrypt, DescribeKey (DynamoDB's documented set for the users of a table
  # encrypted with a customer managed key; the local AWS checks item access as Decrypt)
  statement {
    sid       = "StateKeyThroughS3AndDynamoDB"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [local.state_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com", "dynamodb.${local.region}.amazonaws.com"]
    }
  }

  # --- The environment's KMS key ----------------------------------------------
  # unexercised: GenerateDataKey (SecureStrings of the advanced tier; objects written to
  # the environment's SSE-KMS buckets)
  statement {
    sid       = "OwnKey"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.env[each.key].arn]
  }

  # unexercised: all three; RDS (storage encryption with the environment's key) creates
  # and revokes its grants through the caller on AWS, which the local AWS does not model
  statement {
    sid       = "OwnKeyGrantsForAwsServices"
    actions   = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
    resources = [aws_kms_key.env[each.key].arn]

    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }

  # --- Logs: /aws/lambda/<project>-<env>-* and /aws/apigateway/<project>-<env>-*
  # unexercised: Delete* and UntagResource (destroy, retention and tag changes),
  # Associate/DisassociateKmsKey (a change of the groups' key), DescribeLogStreams,
  # GetLogEvents, FilterLogEvents, StartQuery (operating the environment: reading its logs)
  statement {
    sid = "OwnLogGroups"
    actions = [
      "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
      "logs:AssociateKmsKey", "logs:DisassociateKmsKey",
      "logs:TagResource", "logs:UntagResource", "logs:ListTagsForResource",
      "logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartQuery",
    ]
    resources = local.env[each.key].log_group_arns
  }

  # --- Resources named <project>-<env>-* ---------------------------------------
  # unexercised: Delete*, RemovePermission, UntagResource (destroy and changes),
  # UpdateFunctionConfiguration (a configuration change), ListAliases, ListTags (imports,
  # refreshes of older state), *FunctionConcurrency (reserved_concurrency), InvokeFunction
  # (the smoke step on AWS invokes the processor; locally the RIE runs it, issue 12)
  statement {
    sid = "OwnFunctions"
    actions = [
      "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration",
      "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:PublishVersion",
      "lambda:ListVersionsByFunction", "lambda:CreateAlias", "lambda:UpdateAlias", "lambda:DeleteAlias",
      "lambda:GetAlias", "lambda:ListAliases", "lambda:AddPermission", "lambda:RemovePermission",
      "lambda:GetPolicy", "lambda:TagResource", "lambda:UntagResource", "lambda:ListTags",
      "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency", "lambda:GetFunctionConcurrency",
      "lambda:GetFunctionCodeSigningConfig", "lambda:InvokeFunction",
    ]
    resources = ["arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.env[each.key].prefix}-*"]
  }

  # Event source mappings have UUID ARNs: created only for the environment's
  # functions and tagged for it, then changed only while tagged for it.
  statement {
    sid       = "CreateEventSourceMappingsForOwnFunctions"
    actions   = ["lambda:CreateEventSourceMapping"]
    resources = ["*"]

    condition {
      test     = "ArnLike"
      variable = "lambda:FunctionArn"
      values   = ["arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.env[each.key].prefix}-*"]
    }
  }

  # unexercised: Update*, Delete*, TagResource, UntagResource (changes of the mapping)
  statement {
    sid = "ChangeOwnEventSourceMappings"
    actions = [
      "lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping",
      "lambda:TagResource", "lambda:UntagResource", "lambda:ListTags",
    ]
    resources = ["arn:${local.partition}:lambda:${local.region}:${local.account_id}:event-source-mapping:*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [each.key]
    }
  }

  # unexercised: DeleteQueue, TagQueue, UntagQueue (destroy, tag changes)
  statement {
    sid = "OwnQueues"
    actions = [
      "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
      "sqs:TagQueue", "sqs:UntagQueue", "sqs:ListQueueTags",
    ]
    resources = ["arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.env[each.key].prefix}-*"]
  }

  # unexercised: DeleteTopic, TagResource, UntagResource (destroy, tag changes); the
  # subscription calls (alert_email set in the environment's tfvars)
  statement {
    sid = "OwnTopics"
    actions = [
      "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
      "sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:ListSubscriptionsByTopic",
      "sns:TagResource", "sns:UntagResource", "sns:ListTagsForResource",
    ]
    resources = ["arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.env[each.key].prefix}-*"]
  }

  # unexercised: DeleteBucket, DeleteBucketPolicy, ListBucketVersions, UntagResource
  # (destroy: force_destroy empties the bucket), and the Get/PutBucket* of settings the
  # stack does not set today (the provider reads and writes them by the wildcard's names)
  statement {
    sid = "OwnBuckets"
    actions = [
      "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:ListBucketVersions",
      "s3:GetBucket*", "s3:PutBucket*", "s3:DeleteBucketPolicy",
      "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
      "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration",
      "s3:GetAccelerateConfiguration", "s3:GetReplicationConfiguration",
      # CreateBucket with tags, and the provider reading them through S3 Control
      "s3:TagResource", "s3:UntagResource", "s3:ListTagsForResource",
    ]
    resources = ["arn:${local.partition}:s3:::${local.env[each.key].prefix}-*"]
  }

  # unexercised: both (destroying a bucket with force_destroy deletes its objects)
  statement {
    sid       = "OwnBucketObjects"
    actions   = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    resources = ["arn:${local.partition}:s3:::${local.env[each.key].prefix}-*/*"]
  }

  # unexercised: Delete*, Modify*, AddTagsToResource, RemoveTagsFromResource (destroy and
  # changes), CreateDBSnapshot (the final snapshot of a deletion)
  statement {
    sid = "OwnDatabase"
    actions = [
      "rds:CreateDBInstance", "rds:DeleteDBInstance", "rds:ModifyDBInstance",
      "rds:DescribeDBInstances", "rds:CreateDBSubnetGroup", "rds:DeleteDBSubnetGroup",
      "rds:ModifyDBSubnetGroup", "rds:DescribeDBSubnetGroups", "rds:CreateDBSnapshot",
      "rds:AddTagsToResource", "rds:RemoveTagsFromResource", "rds:ListTagsForResource",
    ]
    resources = [
      "arn:${local.partition}:rds:${local.region}:${local.account_id}:db:${local.env[each.key].prefix}-*",
      "arn:${local.partition}:rds:${local.region}:${local.account_id}:subgrp:${local.env[each.key].prefix}-*",
      "arn:${local.partition}:rds:${local.region}:${local.account_id}:snapshot:${local.env[each.key].prefix}-*",
      "arn:${local.partition}:rds:${local.region}:${local.account_id}:pg:default.*",
      "arn:${local.partition}:rds:${local.region}:${local.account_id}:og:default:*",
    ]
  }

  # unexercised: DeleteAlarms, UntagResource (destroy, tag changes)
  statement {
    sid = "OwnAlarms"
    actions = [
      "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
      "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource",
    ]
    resources = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.env[each.key].prefix}-*"]
  }
}

# The role's policies are split so that each fits IAM's quotas (an inline policy of a role
# at most 10,240 characters in all, a managed one 6,144; the local AWS enforces them too):
# inline, the resources named for the environment (above); managed and attached, the
# network and HTTP API, and the execution roles with the shared pipeline resources.
data "aws_iam_policy_document" "env_network" {
  # checkov:skip=CKV_AWS_356:"*" only for creates scoped by aws:RequestTag Environment
  # checkov:skip=CKV_AWS_111:"*" only for creates scoped by aws:RequestTag Environment
  for_each = local.environments

  # --- Tag-scoped: network and HTTP API (their ARNs carry no names) ------------
  # What stands alone is created tagged for the environment.
  # unexercised by dev: AllocateAddress (prod's NAT gateways' addresses; dev has none)
  statement {
    sid       = "CreateNetworkTaggedForOwnEnvironment"
    actions   = ["ec2:CreateVpc", "ec2:CreateInternetGateway", "ec2:AllocateAddress"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Environment"
      values   = [each.key]
    }
  }

  # What is created inside a VPC is authorized on the new resource and on the existing
  # ones it goes into (the VPC; a NAT gateway's subnet and address; an endpoint's route
  # tables, subnets and security groups). The new one must be tagged for the environment
  # (one statement per action: a request tag must not let a create into another
  # environment's subnet, which has the same resource type), the existing ones must be
  # the environment's already.
  dynamic "statement" {
    for_each = {
      CreateSubnet        = "subnet"
      CreateSecurityGroup = "security-group"
      CreateRouteTable    = "route-table"
      CreateNatGateway    = "natgateway"
      CreateVpcEndpoint   = "vpc-endpoint"
    }
    content {
      sid       = "${statement.key}TaggedForOwnEnvironment"
      actions   = ["ec2:${statement.key}"]
      resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:${statement.value}/*"]

      condition {
        test     = "StringEquals"
        variable = "aws:RequestTag/Environment"
        values   = [each.key]
      }
    }
  }

  statement {
    sid = "CreateNetworkInOwnNetwork"
    actions = [
      "ec2:CreateSubnet", "ec2:CreateSecurityGroup", "ec2:CreateRouteTable", "ec2:CreateNatGateway",
      "ec2:CreateVpcEndpoint",
    ]
    resources = [
      for type in ["vpc", "subnet", "security-group", "route-table", "elastic-ip"] :
      "arn:${local.partition}:ec2:${local.region}:${local.account_id}:${type}/*"
    ]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [each.key]
    }
  }

  statement {
    sid       = "TagNetworkOnCreate"
    actions   = ["ec2:CreateTags"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values = [
        "CreateVpc", "CreateSubnet", "CreateInternetGateway", "CreateRouteTable",
        "CreateNatGateway", "AllocateAddress", "CreateSecurityGroup", "CreateVpcEndpoint",
      ]
    }
  }

  # A VPC's default security group is made by EC2, untagged, and IAM cannot tell which
  # VPC it is in (ec2:Vpc is the VPC's ARN, and its ID is not known here). So no role may
  # tag an untagged group: the claim would make another VPC's default group its own. The
  # network module adopts its default group untagged (through a provider without default
  # tags) and only strips its rules, which this allows on any group without an Environment
  # tag: closing, never opening (nothing allows adding a rule to it). The only such groups
  # are VPCs' default groups, which the stacks never use.
  statement {
    sid       = "CloseUntaggedSecurityGroups"
    actions   = ["ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/*"]

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/Environment"
      values   = ["true"]
    }
  }

  # A default group adopted under the module's former tags (<prefix>-default-unused) keeps
  # no rules: they can be revoked, never added, and the group cannot be deleted.
  statement {
    sid    = "DefaultSecurityGroupsStayClosed"
    effect = "Deny"
    actions = [
      "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:ModifySecurityGroupRules",
      "ec2:UpdateSecurityGroupRuleDescriptionsIngress", "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
      "ec2:DeleteSecurityGroup",
    ]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/*"]

    condition {
      test     = "StringLike"
      variable = "aws:ResourceTag/Name"
      values   = ["*-default-unused"]
    }
  }

  # ... and keeps its Name, which is what keeps it closed.
  statement {
    sid       = "DefaultSecurityGroupsKeepTheirName"
    effect    = "Deny"
    actions   = ["ec2:CreateTags", "ec2:DeleteTags"]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/*"]

    condition {
      test     = "StringLike"
      variable = "aws:ResourceTag/Name"
      values   = ["*-default-unused"]
    }

    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "aws:TagKeys"
      values   = ["Name"]
    }
  }

  # unexercised: Delete*, Detach*, Disassociate*, Release*, Replace*, Revoke*Ingress,
  # ModifySubnetAttribute, ModifyVpcEndpoint, ModifySecurityGroupRules,
  # UpdateSecurityGroupRuleDescriptions*, AssociateAddress (destroy and changes of the network)
  statement {
    sid = "ChangeOwnNetwork"
    actions = [
      "ec2:DeleteVpc", "ec2:ModifyVpcAttribute", "ec2:DeleteSubnet", "ec2:ModifySubnetAttribute",
      "ec2:AttachInternetGateway", "ec2:DetachInternetGateway", "ec2:DeleteInternetGateway",
      "ec2:DeleteRouteTable", "ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute",
      "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", "ec2:DeleteNatGateway",
      "ec2:ReleaseAddress", "ec2:AssociateAddress", "ec2:DisassociateAddress",
      "ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
      "ec2:UpdateSecurityGroupRuleDescriptionsIngress", "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
      "ec2:ModifySecurityGroupRules", "ec2:DeleteVpcEndpoints", "ec2:ModifyVpcEndpoint",
      "ec2:CreateTags", "ec2:DeleteTags",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [each.key]
    }
  }

  # Only the create: tagging (POST /tags/<arn>) is ChangeOwnHttpApi's, on what is tagged
  # for the environment already. A request tag alone would let a role tag another
  # environment's API (or stage) Environment=<own> and so make it its own.
  # unexercised: PUT (importing an API definition)
  statement {
    sid       = "CreateHttpApiTaggedForOwnEnvironment"
    actions   = ["apigateway:POST", "apigateway:PUT"]
    resources = ["arn:${local.partition}:apigateway:${local.region}::/apis"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Environment"
      values   = [each.key]
    }
  }

  # unexercised: PUT, PATCH, DELETE (changes and destroy of the API, its routes and stage)
  statement {
    sid       = "ChangeOwnHttpApi"
    actions   = ["apigateway:GET", "apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"]
    resources = ["arn:${local.partition}:apigateway:${local.region}::/apis/*", "arn:${local.partition}:apigateway:${local.region}::/tags/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [each.key]
    }
  }
}

data "aws_iam_policy_document" "env_roles" {
  for_each = local.environments

  # Execution roles: only <project>-<env>-*, only with the environment's boundary,
  # only passed to Lambda. The role itself and the boundary are denied below.
  # unexercised: PutRolePermissionsBoundary (a change of the boundary)
  statement {
    sid       = "CreateOwnRolesWithBoundary"
    actions   = ["iam:CreateRole", "iam:PutRolePermissionsBoundary"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${local.env[each.key].prefix}-*"]

    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [aws_iam_policy.boundary[each.key].arn]
    }
  }

  # unexercised: Delete*, Update*, TagRole, UntagRole, ListRoleTags,
  # ListInstanceProfilesForRole (destroy and changes of the execution roles)
  statement {
    sid = "ManageOwnRoles"
    actions = [
      "iam:GetRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription",
      "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags",
      "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
    ]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${local.env[each.key].prefix}-*"]
  }

  statement {
    sid       = "PassOwnRolesToLambda"
    actions   = ["iam:PassRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${local.env[each.key].prefix}-*"]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com"]
    }
  }

  statement {
    sid    = "NoSelfEscalation"
    effect = "Deny"
    actions = [
      "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy",
      "iam:DeleteRolePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
      "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary", "iam:TagRole", "iam:UntagRole",
      "iam:PassRole", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
      "iam:SetDefaultPolicyVersion",
    ]
    resources = [aws_iam_role.env[each.key].arn, aws_iam_policy.boundary[each.key].arn]
  }
}

data "aws_iam_policy_document" "env_pipeline" {
  # checkov:skip=CKV_AWS_356:"*" only for actions without resource-level permissions (describe/list, log deliveries)
  # checkov:skip=CKV_AWS_111:"*" only for log deliveries, which have no resource-level permissions
  for_each = local.environments
  source_policy_documents = [
    data.aws_iam_policy_document.env_roles[each.key].json,
    data.aws_iam_policy_document.read_pipeline_records.json,
  ]

  # --- Shared pipeline resources ----------------------------------------------
  statement {
    sid       = "ReadArtifacts"
    actions   = ["s3:GetObject"]
    resources = ["${module.artifacts.bucket_arn}/*"]
  }

  statement {
    sid       = "ListArtifacts"
    actions   = ["s3:ListBucket"]
    resources = [module.artifacts.bucket_arn]
  }

  # Releases are built once, by the environment main deploys to, and promoted as they are.
  dynamic "statement" {
    for_each = each.key == var.release_publisher ? [1] : []
    content {
      sid       = "PublishReleases"
      actions   = ["s3:PutObject"]
      resources = ["${module.artifacts.bucket_arn}/artifacts/*", "${module.artifacts.bucket_arn}/releases/*"]
    }
  }

  statement {
    sid       = "WriteOwnDeploymentRecords"
    actions   = ["dynamodb:PutItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.deployments.arn]

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = ["env#${each.key}"]
    }

    condition {
      test     = "Null"
      variable = "dynamodb:LeadingKeys"
      values   = ["false"]
    }
  }

  # Each record's anchor (src/smartstack/pipeline/ledger_anchors.py): its hash, created once
  # under its own partition's prefix (the bucket refuses a PutObject there without
  # If-None-Match). Nothing lets the role delete there: its s3:DeleteObject
  # (OwnBucketObjects) is on <project>-<env>-* buckets, and "artifacts" is no environment's
  # name. It reads them with ReadArtifacts and ListArtifacts.
  statement {
    sid       = "AnchorOwnDeploymentRecords"
    actions   = ["s3:PutObject"]
    resources = ["${module.artifacts.bucket_arn}/ledger-anchors/env#${each.key}/deploy#*"]
  }

  # --- Read-only calls without resource-level permissions -----------------------
  # unexercised: most of ec2:Describe* (read-only; the provider's reads differ per resource
  # and operation, deletes wait on a Describe of what they delete)
  statement {
    sid = "DescribeWithoutResourceScope"
    actions = [
      "sts:GetCallerIdentity", "ec2:Describe*", "ssm:DescribeParameters", "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  # HTTP API access logging goes through CloudWatch Logs vended-log deliveries,
  # which have no resource-level permissions.
  # unexercised: all (API Gateway asks them of the caller when a stage's access logging is
  # set, on AWS; the local AWS's API Gateway does not)
  statement {
    sid = "ApiAccessLogDelivery"
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "env" {
  for_each = local.environments

  name   = "${local.env[each.key].prefix}-deploy"
  role   = aws_iam_role.env[each.key].id
  policy = data.aws_iam_policy_document.env_role[each.key].json
}

locals {
  # The role's managed policies: <env>/<part> -> what it holds.
  env_managed_policies = merge([for e in local.environments : {
    "${e}/network" = {
      env         = e
      name        = "${local.env[e].prefix}-deploy-network"
      description = "SmartStack ${e}: the network and HTTP API of its role's deploys (ADR-007)."
      policy      = data.aws_iam_policy_document.env_network[e].json
    }
    "${e}/pipeline" = {
      env         = e
      name        = "${local.env[e].prefix}-deploy-pipeline"
      description = "SmartStack ${e}: execution roles and the shared pipeline resources of its role (ADR-007)."
      policy      = data.aws_iam_policy_document.env_pipeline[e].json
    }
  }]...)
}

resource "aws_iam_policy" "env" {
  for_each = local.env_managed_policies

  name        = each.value.name
  description = each.value.description
  policy      = each.value.policy

  tags = { Environment = each.value.env }
}

resource "aws_iam_role_policy_attachment" "env" {
  for_each = local.env_managed_policies

  role       = aws_iam_role.env[each.value.env].name
  policy_arn = aws_iam_policy.env[each.key].arn
}

# The ceiling of every execution role the environment role creates: its own
# logs, parameters, key, queues, buckets, models and network interfaces.
data "aws_iam_policy_document" "boundary" {
  # checkov:skip=CKV_AWS_356:a boundary grants nothing by itself; "*" only for the describe calls of Lambda's VPC networking
  for_each = local.environments

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = local.env[each.key].log_group_arns
  }

  statement {
    sid       = "OwnParameters"
    actions   = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]
    resources = [local.env[each.key].parameter_arn, "${local.env[each.key].parameter_arn}/*"]
  }

  statement {
    sid       = "OwnKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.env[each.key].arn]
  }

  statement {
    sid       = "OwnQueues"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = ["arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.env[each.key].prefix}-*"]
  }

  statement {
    sid       = "OwnBucketObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${local.env[each.key].prefix}-*", "arn:${local.partition}:s3:::${local.env[each.key].prefix}-*/*"]
  }

  statement {
    sid       = "FoundationModels"
    actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    resources = ["arn:${local.partition}:bedrock:${local.region}::foundation-model/*"]
  }

  # Lambda makes a function's network interfaces as its execution role: only in the
  # environment's own subnets and security groups (a function attached to another
  # environment's gets none).
  statement {
    sid     = "VpcNetworkInterfacesInOwnNetwork"
    actions = ["ec2:CreateNetworkInterface"]
    resources = [
      "arn:${local.partition}:ec2:${local.region}:${local.account_id}:subnet/*",
      "arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/*",
    ]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [each.key]
    }
  }

  statement {
    sid = "VpcNetworkInterfaces"
    actions = [
      "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"]
  }

  statement {
    sid       = "DescribeNetwork"
    actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "boundary" {
  for_each = local.environments

  name        = local.env[each.key].boundary_name
  description = "Permissions boundary of every role the ${each.key} environment creates."
  policy      = data.aws_iam_policy_document.boundary[each.key].json

  tags = { Environment = each.key }
}
