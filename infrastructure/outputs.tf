output "environment_parameter" {
  description = "Name of the parameter that describes the environment."
  value       = aws_ssm_parameter.environment.name
}

output "api_log_group" {
  description = "Log group of the API function, with the environment's retention."
  value       = module.monitoring.function_log_group_names["api"]
}

output "log_groups" {
  description = "Every log group of the environment: functions by short name, plus api-access."
  value       = merge(module.monitoring.function_log_group_names, { api-access = module.monitoring.api_access_log_group_name })
}

output "kms_key_arn" {
  description = "The environment's KMS key (made by the account stack)."
  value       = local.kms_key_arn
}

output "vpc_id" {
  description = "The environment's VPC."
  value       = module.networking.vpc_id
}

output "private_subnet_ids" {
  description = "Private subnets (functions, database)."
  value       = module.networking.private_subnet_ids
}

output "db_instance_identifier" {
  description = "RDS instance identifier."
  value       = module.database.instance_identifier
}

output "db_parameters" {
  description = "Connection parameters the applications read (the password is /<project>/<env>/db-password)."
  value       = module.database.parameter_names
}

output "data_bucket" {
  description = "The environment's data bucket."
  value       = module.storage.bucket_name
}

output "functions" {
  description = "Function name and live alias ARN by short name."
  value       = { for k, f in module.function : k => { name = f.function_name, alias_arn = f.alias_arn, role_arn = f.role_arn } }
}

output "api_id" {
  description = "ID of the HTTP API."
  value       = module.compute.api_id
}

output "api_endpoint" {
  description = "URL of the HTTP API."
  value       = module.compute.api_endpoint
}

output "ai_jobs_queue_url" {
  description = "URL of the AI jobs queue."
  value       = module.ai_services.queue_url
}

output "alerts_topic_arn" {
  description = "SNS topic of the environment's alarms."
  value       = module.monitoring.alerts_topic_arn
}

output "alarms" {
  description = "Every alarm definition by name: each function's error-rate and duration alarms, the API's 5xx alarm."
  value       = module.monitoring.alarms
}

output "alarm_arns" {
  description = "ARNs of the alarms, by name."
  value       = module.monitoring.alarm_arns
}
