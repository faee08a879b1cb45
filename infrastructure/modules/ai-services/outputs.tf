output "queue_url" {
  description = "URL of the AI jobs queue."
  value       = aws_sqs_queue.jobs.id
}

output "queue_arn" {
  description = "ARN of the AI jobs queue."
  value       = aws_sqs_queue.jobs.arn
}

output "queue_name" {
  description = "Name of the AI jobs queue."
  value       = aws_sqs_queue.jobs.name
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "processor_policy_json" {
  description = "IAM policy (JSON) the AI processor's execution role needs here: consume the jobs queue, invoke the configured models (plus extra_policy_json)."
  value       = data.aws_iam_policy_document.processor.json
}
