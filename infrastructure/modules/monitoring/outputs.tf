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

output "alarms" {
  description = "Every alarm by name (function error-rate and duration alarms, the API's 5xx alarm): metric, dimensions, threshold."
  value = merge(
    { for k, f in var.functions : "${f.function_name}-error-rate" => {
      kind       = "error-rate"
      function   = f.function_name
      metric     = "AWS/Lambda Errors / Invocations * 100"
      dimensions = { FunctionName = f.function_name }
      threshold  = var.error_rate_threshold_percent
    } },
    { for k, f in var.functions : "${f.function_name}-duration" => {
      kind       = "duration"
      function   = f.function_name
      metric     = "AWS/Lambda Duration p99 (ms)"
      dimensions = { FunctionName = f.function_name }
      threshold  = floor(f.timeout_seconds * 1000 * var.duration_threshold_fraction)
    } },
    { "${var.api_name}-5xx" = {
      kind       = "api-5xx"
      function   = ""
      metric     = "AWS/ApiGateway 5xx"
      dimensions = { ApiId = var.api_id }
      threshold  = var.api_5xx_threshold
    } },
  )
}

output "alarm_arns" {
  description = "ARNs of the alarms, by name."
  value = merge(
    { for k, a in aws_cloudwatch_metric_alarm.error_rate : a.alarm_name => a.arn },
    { for k, a in aws_cloudwatch_metric_alarm.duration : a.alarm_name => a.arn },
    { (aws_cloudwatch_metric_alarm.api_5xx.alarm_name) = aws_cloudwatch_metric_alarm.api_5xx.arn },
  )
}
