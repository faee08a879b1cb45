data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  queue_name = "${var.name_prefix}-ai-jobs"
  model_arns = [
    for id in var.bedrock_model_ids :
    "arn:${data.aws_partition.current.partition}:bedrock:${data.aws_region.current.region}::foundation-model/${id}"
  ]
  # AWS asks for a visibility timeout of at least six times the function timeout.
  visibility_timeout = max(30, var.processor_timeout_seconds * 6)
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

# What the processor may do with this module's resources (plus extra_policy_json);
# the environment root gives it to the processor's execution role.
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

# Targets the live alias, like the API: the pipeline moves the alias, the queue follows.
resource "aws_lambda_event_source_mapping" "jobs" {
  event_source_arn        = aws_sqs_queue.jobs.arn
  function_name           = var.processor_alias_arn
  batch_size              = var.batch_size
  function_response_types = ["ReportBatchItemFailures"]
  enabled                 = true

  tags = var.tags
}
