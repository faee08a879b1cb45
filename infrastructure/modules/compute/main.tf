# The HTTP API in front of the API function's live alias (the function itself is
# made by ../lambda-function in the environment root).
resource "aws_apigatewayv2_api" "this" {
  name          = "${var.name_prefix}-api"
  description   = "SmartStack ${var.environment} HTTP API; every route goes to ${var.function_name}:${var.alias_name}."
  protocol_type = "HTTP"

  tags = var.tags
}

resource "aws_apigatewayv2_integration" "live" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = var.alias_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = min(30000, var.timeout_seconds * 1000 + 1000)
}

resource "aws_apigatewayv2_route" "default" {
  # checkov:skip=CKV_AWS_309:the application authenticates requests itself (JWT in Parameter Store); no API Gateway authorizer in ADR-007
  api_id    = aws_apigatewayv2_api.this.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.live.id}"
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  access_log_settings {
    destination_arn = var.access_log_group_arn
    format = jsonencode({
      requestId        = "$context.requestId"
      requestTime      = "$context.requestTime"
      ip               = "$context.identity.sourceIp"
      httpMethod       = "$context.httpMethod"
      routeKey         = "$context.routeKey"
      path             = "$context.path"
      status           = "$context.status"
      protocol         = "$context.protocol"
      responseLength   = "$context.responseLength"
      latency          = "$context.responseLatency"
      integrationError = "$context.integrationErrorMessage"
    })
  }

  default_route_settings {
    throttling_burst_limit = var.throttling_burst_limit
    throttling_rate_limit  = var.throttling_rate_limit
  }

  tags = var.tags
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  qualifier     = var.alias_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*"
}
