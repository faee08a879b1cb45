output "function_name" {
  description = "Name of the API function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "Unqualified ARN of the API function."
  value       = module.function.function_arn
}

output "alias_arn" {
  description = "ARN of the live alias behind the API."
  value       = module.function.alias_arn
}

output "role_arn" {
  description = "ARN of the API function's execution role."
  value       = module.function.role_arn
}

output "role_policy_json" {
  description = "The execution role's policy."
  value       = module.function.role_policy_json
}

output "api_id" {
  description = "ID of the HTTP API (the ApiId alarm dimension)."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Invoke URL of the HTTP API's $default stage."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "stage_name" {
  description = "Name of the stage."
  value       = aws_apigatewayv2_stage.default.name
}
