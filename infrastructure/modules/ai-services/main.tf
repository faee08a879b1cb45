data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  function_name = "${var.name_prefix}-ai-processor"
  queue_name    = "${var.name_prefix}-ai-jobs"
  model_arns = [
    for id in var.bedrock_model_ids :
    "arn:${data.aws_partition.current.partition}:bedrock:${data.aws_region.current.region}::foundation-model/${id}"
  ]
  # AWS asks for a visibility timeout of at least six times the function timeout.
  visibility_timeout = max(30, var.timeout_seconds * 6)
}

resource "aws_sqs_queue" "dlq" {
  name                              = "${local.queue_name}-dlq"
  message_retention_seconds         = var.message_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300

  tags = var.tags
}

resource "aws_sqs_queue" "jobs" {
  name                              = local.queue_name
  visibility_timeout_seconds        = local.visibility_timeout
  message_retention_seconds         = 345600
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300

  tags = var.tags

  lifecycle {
    # Owned by aws_sqs_queue_redrive_policy.jobs below.
    ignore_changes = [redrive_policy]
  }
}

# A separate resource compares the policy as JSON; the queue's own
# redrive_policy argument compares strings (a perpetual diff against moto,
# which returns the JSON with spaces).
resource "aws_sqs_queue_redrive_policy" "jobs" {
  queue_url = aws_sqs_queue.jobs.id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

data "aws_iam_policy_document" "processor" {
  source_policy_documents = var.extra_policy_json == "" ? [] : [var.extra_policy_json]

  statement {
    sid = "ConsumeOwnQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
    ]
    resources = [aws_sqs_queue.jobs.arn]
  }

  dynamic "statement" {
    for_each = length(local.model_arns) > 0 ? [1] : []
    content {
      sid       = "InvokeConfiguredModels"
      actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      resources = local.model_arns
    }
  }
}

module "function" {
  source = "../lambda-function"

  function_name   = local.function_name
  description     = "SmartStack ${var.environment} AI processor: consumes ${local.queue_name}."
  package_path    = var.package_path
  handler         = var.handler
  runtime         = var.runtime
  memory_mb       = var.memory_mb
  timeout_seconds = var.timeout_seconds
  environment_variables = {
    ENVIRONMENT             = var.environment
    PARAMETER_PREFIX        = "${var.parameter_path}/"
    POWERTOOLS_SERVICE_NAME = local.function_name
    POWERTOOLS_LOG_LEVEL    = var.environment == "prod" ? "INFO" : "DEBUG"
    BEDROCK_MODEL_IDS       = join(",", var.bedrock_model_ids)
  }
  log_group_arn            = var.function_log_group_arn
  kms_key_arn              = var.kms_key_arn
  parameter_path           = var.parameter_path
  subnet_ids               = var.subnet_ids
  security_group_ids       = var.security_group_ids
  vpc_arn                  = var.vpc_arn
  permissions_boundary_arn = var.permissions_boundary_arn
  extra_policy_json        = data.aws_iam_policy_document.processor.json
  tags                     = var.tags
}

# Targets the live alias, like the API: the pipeline moves the alias, the queue follows.
resource "aws_lambda_event_source_mapping" "jobs" {
  event_source_arn        = aws_sqs_queue.jobs.arn
  function_name           = module.function.alias_arn
  batch_size              = var.batch_size
  function_response_types = ["ReportBatchItemFailures"]
  enabled                 = true

  tags = var.tags

  lifecycle {
    # moto reports the version the alias points to (function:...:1) instead of
    # the alias ARN it was given; the target is always this alias anyway.
    ignore_changes = [function_name]
  }
}
