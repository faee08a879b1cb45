output "function_log_group_names" {
  description = "Log group of each function, by short name."
  value       = { for k, g in aws_cloudwatch_log_group.function : k => g.name }
}

output "function_log_group_arns" {
  description = "Log group ARN of each function, by short name (without the ':*' suffix)."
  value       = { for k, g in aws_cloudwatch_log_group.function : k => g.arn }
}

output "api_access_log_group_name" {
  description = "Access log group of the HTTP API."
  value       = aws_cloudwatch_log_group.api_access.name
}

output "api_access_log_group_arn" {
  description = "ARN of the HTTP API's access log group."
  value       = aws_cloudwatch_log_group.api_access.arn
}

output "alerts_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alerts.arn
}

output "alarm_names" {
  description = "Alarms by function short name (error-rate, duration) plus the API's 5xx alarm under 'api-5xx'."
  value = merge(
    { for k, f in var.functions : k => {
      error_rate = aws_cloudwatch_metric_alarm.error_rate[k].alarm_name
      duration   = aws_cloudwatch_metric_alarm.duration[k].alarm_name
    } },
    { api-5xx = { api_5xx = aws_cloudwatch_metric_alarm.api_5xx.alarm_name } },
  )
}
