data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  in_vpc     = length(var.subnet_ids) > 0
  role_name  = "${var.function_name}-exec"
  account_id = data.aws_caller_identity.current.account_id
  ssm_arn    = "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.region}:${local.account_id}:parameter${var.parameter_path}"
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumesRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "exec" {
  source_policy_documents = var.extra_policy_json == "" ? [] : [var.extra_policy_json]

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arn}:*"]
  }

  statement {
    sid       = "OwnParameters"
    actions   = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]
    resources = [local.ssm_arn, "${local.ssm_arn}/*"]
  }

  statement {
    sid       = "EnvironmentKey"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }

  dynamic "statement" {
    for_each = local.in_vpc ? [1] : []
    content {
      sid       = "DescribeNetworkInterfaces"
      actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = local.in_vpc ? [1] : []
    content {
      sid = "NetworkInterfacesInOwnVpc"
      actions = [
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"]

      condition {
        test     = "ArnEquals"
        variable = "ec2:Vpc"
        values   = [var.vpc_arn]
      }
    }
  }
}

resource "aws_iam_role" "exec" {
  name                 = local.role_name
  description          = "Execution role of ${var.function_name}: its log group, its environment's parameters and key."
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary_arn == "" ? null : var.permissions_boundary_arn

  tags = var.tags
}

resource "aws_iam_role_policy" "exec" {
  name   = local.role_name
  role   = aws_iam_role.exec.id
  policy = data.aws_iam_policy_document.exec.json
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_50:ADR-007 monitors through CloudWatch logs and alarms; X-Ray is not part of it
  # checkov:skip=CKV_AWS_272:code signing is not part of ADR-007's pipeline; the pipeline deploys built zips
  # checkov:skip=CKV_AWS_116:the API is invoked synchronously and the AI processor's queue has its own DLQ
  # checkov:skip=CKV_AWS_115:concurrency is set per environment through reserved_concurrency (-1 = unreserved in the MVP)
  function_name                  = var.function_name
  description                    = var.description
  role                           = aws_iam_role.exec.arn
  runtime                        = var.runtime
  handler                        = var.handler
  memory_size                    = var.memory_mb
  timeout                        = var.timeout_seconds
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn
  publish                        = true

  # Only the first package: the pipeline deploys code with update-function-code.
  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)

  environment {
    variables = var.environment_variables
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tags = var.tags

  lifecycle {
    ignore_changes = [filename, source_code_hash]
  }

  depends_on = [aws_iam_role_policy.exec]
}

# The pipeline publishes a version and moves `live`; OpenTofu creates the alias
# once and never moves it back.
resource "aws_lambda_alias" "live" {
  name             = "live"
  description      = "The version serving traffic; moved by the deploy pipeline."
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version

  lifecycle {
    ignore_changes = [function_version, routing_config]
  }
}
