locals {
  function_name = "${var.name_prefix}-api"
}

module "function" {
  source = "../lambda-function"

  function_name   = local.function_name
  description     = "SmartStack ${var.environment} HTTP API."
  package_path    = var.package_path
  handler         = var.handler
  runtime         = var.runtime
  memory_mb       = var.memory_mb
  timeout_seconds = var.timeout_seconds
  environment_variables = merge(var.extra_environment_variables, {
    ENVIRONMENT             = var.environment
    PARAMETER_PREFIX        = "${var.parameter_path}/"
    POWERTOOLS_SERVICE_NAME = local.function_name
    POWERTOOLS_LOG_LEVEL    = var.environment == "prod" ? "INFO" : "DEBUG"
  })
  log_group_arn            = var.function_log_group_arn
  kms_key_arn              = var.kms_key_arn
  parameter_path           = var.parameter_path
  subnet_ids               = var.subnet_ids
  security_group_ids       = var.security_group_ids
  vpc_arn                  = var.vpc_arn
  permissions_boundary_arn = var.permissions_boundary_arn
  extra_policy_json        = var.extra_policy_json
  tags                     = var.tags
}

resource "aws_apigatewayv2_api" "this" {
  name          = local.function_name
  description   = "SmartStack ${var.environment} HTTP API; every route goes to ${local.function_name}:live."
  protocol_type = "HTTP"

  tags = var.tags
}

resource "aws_apigatewayv2_integration" "live" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = module.function.alias_arn
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
  function_name = module.function.function_name
  qualifier     = module.function.alias_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*"
}
