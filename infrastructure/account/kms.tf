# One customer-managed key per environment: alias/<project>-<env>, rotation on.
# The key policy delegates to IAM (account root), names the administrators and
# the environment role, and lets CloudWatch Logs (the environment's log groups
# only) and CloudWatch alarms (publishing to the encrypted alerts topic) use it.
data "aws_iam_policy_document" "env_key" {
  # checkov:skip=CKV_AWS_109:a key policy's Resource "*" is the key itself; administration is limited to the admin principals
  # checkov:skip=CKV_AWS_111:a key policy's Resource "*" is the key itself; write use is limited by principal and condition
  # checkov:skip=CKV_AWS_356:a key policy's Resource "*" is the key itself, the only resource a key policy can name
  for_each = local.environments

  statement {
    sid       = "DelegateToIamPolicies"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "KeyAdministrators"
    actions = [
      "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
      "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
      "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = local.admins
    }
  }

  statement {
    sid = "EnvironmentRoleUse"
    actions = [
      "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
      "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.env[each.key].arn]
    }
  }

  statement {
    sid       = "EnvironmentRoleGrantsForAwsServices"
    actions   = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.env[each.key].arn]
    }

    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }

  statement {
    sid       = "CloudWatchLogsOfThisEnvironment"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = local.env[each.key].log_group_arns
    }
  }

  statement {
    sid       = "CloudWatchAlarmsToEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "env" {
  for_each = local.environments

  description             = "SmartStack ${each.key}: data, parameters, logs, queues and topics of the environment."
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.env_key[each.key].json

  tags = { Environment = each.key, Name = "${local.env[each.key].prefix}-key" }
}

resource "aws_kms_alias" "env" {
  for_each = local.environments

  name          = "alias/${local.env[each.key].prefix}"
  target_key_id = aws_kms_key.env[each.key].key_id
}

# The pipeline's shared key: the artifacts bucket and the deployments table.
data "aws_iam_policy_document" "pipeline_key" {
  # checkov:skip=CKV_AWS_109:a key policy's Resource "*" is the key itself; administration is limited to the admin principals
  # checkov:skip=CKV_AWS_111:a key policy's Resource "*" is the key itself; write use is limited by principal and condition
  # checkov:skip=CKV_AWS_356:a key policy's Resource "*" is the key itself, the only resource a key policy can name
  statement {
    sid       = "DelegateToIamPolicies"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "KeyAdministrators"
    actions = [
      "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
      "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
      "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = local.admins
    }
  }
}

resource "aws_kms_key" "pipeline" {
  description             = "SmartStack pipeline: build artifacts and the deployments table."
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.pipeline_key.json

  tags = { Name = "${var.project}-pipeline-key" }
}

resource "aws_kms_alias" "pipeline" {
  name          = "alias/${var.project}-pipeline"
  target_key_id = aws_kms_key.pipeline.key_id
}
