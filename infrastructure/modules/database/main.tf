data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  identifier   = "${var.name_prefix}-db"
  password_arn = "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:parameter${var.parameter_path}/db-password"
}

# Written by the pipeline before the first apply (SecureString, environment key).
# Ephemeral: OpenTofu reads it at plan and apply but never stores it in the plan
# or the state; it reaches RDS through the write-only password_wo.
ephemeral "aws_ssm_parameter" "password" {
  arn             = local.password_arn
  with_decryption = true
}

resource "aws_db_subnet_group" "this" {
  name        = local.identifier
  description = "Private subnets of ${local.identifier}."
  subnet_ids  = var.subnet_ids

  tags = var.tags
}

resource "aws_db_instance" "this" {
  # checkov:skip=CKV_AWS_118:enhanced monitoring needs a monitoring role; ADR-007 monitors through CloudWatch metrics and alarms
  # checkov:skip=CKV_AWS_157:multi-AZ is a per-environment choice (db_multi_az: prod only), ADR-007's cost split
  # checkov:skip=CKV_AWS_293:deletion protection is per environment (prod only), so dev can be destroyed and re-created
  # checkov:skip=CKV_AWS_353:Performance Insights is per environment (db_performance_insights); unsupported on the smallest classes
  # checkov:skip=CKV2_AWS_30:query logging (log_statement) is a parameter-group choice left to the application team
  identifier     = local.identifier
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  db_name             = var.database_name
  username            = var.master_username
  password_wo         = ephemeral.aws_ssm_parameter.password.value
  password_wo_version = var.password_version

  allocated_storage     = var.allocated_storage_gb
  max_allocated_storage = var.max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = var.security_group_ids
  publicly_accessible    = false
  multi_az               = var.multi_az

  iam_database_authentication_enabled = true
  auto_minor_version_upgrade          = true
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  performance_insights_enabled        = var.performance_insights
  performance_insights_kms_key_id     = var.performance_insights ? var.kms_key_arn : null

  backup_retention_period   = var.backup_retention_days
  copy_tags_to_snapshot     = true
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = !var.deletion_protection
  final_snapshot_identifier = var.deletion_protection ? "${local.identifier}-final" : null

  tags = var.tags
}

# Connection settings for the applications, without the password (which stays
# the pipeline's own parameter).  RDS PostgreSQL 15+ refuses connections without
# TLS (rds.force_ssl), hence db-sslmode = require: encrypted, certificate not verified.
resource "aws_ssm_parameter" "connection" {
  for_each = {
    db-host     = aws_db_instance.this.address
    db-port     = tostring(aws_db_instance.this.port)
    db-name     = var.database_name
    db-username = var.master_username
    db-sslmode  = "require"
  }

  name        = "${var.parameter_path}/${each.key}"
  description = "${local.identifier}: ${each.key} (password in ${var.parameter_path}/db-password)."
  type        = "SecureString"
  key_id      = var.kms_key_arn
  value       = each.value

  tags = var.tags
}
