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

output "function_name" {
  description = "Name of the AI processor."
  value       = module.function.function_name
}

output "alias_arn" {
  description = "ARN of the processor's live alias (the event source mapping's target)."
  value       = module.function.alias_arn
}

output "role_arn" {
  description = "ARN of the processor's execution role."
  value       = module.function.role_arn
}

output "role_policy_json" {
  description = "The processor's execution role policy."
  value       = module.function.role_policy_json
}
