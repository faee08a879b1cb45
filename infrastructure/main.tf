provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "opentofu"
    }
  }
}

locals {
  name_prefix      = "${var.project}-${var.environment}"
  parameter_prefix = "/${var.project}/${var.environment}"
}

# Describes the environment to the applications and the pipeline that read
# Parameter Store; proves the provider, the backend and the endpoints work together.
resource "aws_ssm_parameter" "environment" {
  name        = "${local.parameter_prefix}/environment"
  description = "SmartStack ${var.environment}: settings the applications read at start."
  type        = "String"
  value = jsonencode({
    environment        = var.environment
    log_retention_days = var.log_retention_days
    name_prefix        = local.name_prefix
  })
}

resource "aws_cloudwatch_log_group" "api" {
  name              = "/aws/lambda/${local.name_prefix}-api"
  retention_in_days = var.log_retention_days
}
