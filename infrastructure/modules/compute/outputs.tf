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
