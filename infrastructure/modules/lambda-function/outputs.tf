output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "Unqualified ARN of the function."
  value       = aws_lambda_function.this.arn
}

output "alias_name" {
  description = "Name of the alias that serves traffic."
  value       = aws_lambda_alias.live.name
}

output "alias_arn" {
  description = "ARN of the live alias (what callers and triggers target)."
  value       = aws_lambda_alias.live.arn
}

output "alias_invoke_arn" {
  description = "Invoke ARN of the live alias, for API Gateway integrations."
  value       = aws_lambda_alias.live.invoke_arn
}

output "role_arn" {
  description = "ARN of the execution role."
  value       = aws_iam_role.exec.arn
}

output "role_name" {
  description = "Name of the execution role."
  value       = aws_iam_role.exec.name
}

output "role_policy_json" {
  description = "The execution role's inline policy."
  value       = data.aws_iam_policy_document.exec.json
}
