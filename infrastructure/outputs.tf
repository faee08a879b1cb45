output "environment_parameter" {
  description = "Name of the parameter that describes the environment."
  value       = aws_ssm_parameter.environment.name
}

output "api_log_group" {
  description = "Log group of the API function, with the environment's retention."
  value       = aws_cloudwatch_log_group.api.name
}
