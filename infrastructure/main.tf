provider "aws" {
  region            = var.aws_region
  s3_use_path_style = var.s3_use_path_style

  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "opentofu"
    }
  }
}

# The same account and region without default tags: the network module adopts the VPC's
# default security group through it, untagged (modules/networking/main.tf).
provider "aws" {
  alias             = "untagged"
  region            = var.aws_region
  s3_use_path_style = var.s3_use_path_style
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# Made by the account stack (infrastructure/account), which must be applied first.
data "aws_kms_key" "environment" {
  key_id = "alias/${local.name_prefix}"
}

locals {
  name_prefix      = "${var.project}-${var.environment}"
  parameter_prefix = "/${var.project}/${var.environment}"
  account_id       = data.aws_caller_identity.current.account_id
  kms_key_arn      = data.aws_kms_key.environment.arn
  boundary_arn     = var.use_permissions_boundary ? "arn:${data.aws_partition.current.partition}:iam::${local.account_id}:policy/${local.name_prefix}-boundary" : ""

  # The names carry the environment, so that the three environments can share one
  # PostgreSQL server (the local platform's; on AWS each has its own instance).
  # RDS takes at most 16 characters for a master user name, and "smartstack_staging"
  # has 18, so the master user is <environment>_admin.
  db_name            = replace(local.name_prefix, "-", "_")
  db_master_username = "${var.environment}_admin"

  # Names are fixed here, not read back from the functions, so monitoring can
  # create the log groups before the functions exist.
  functions = {
    api = {
      function_name   = "${local.name_prefix}-api"
      timeout_seconds = var.api_timeout_seconds
    }
    ai-processor = {
      function_name   = "${local.name_prefix}-ai-processor"
      timeout_seconds = var.ai_processor_timeout_seconds
    }
    # Runs the release's migrations from inside the VPC: the database is private, so
    # the deploying runner cannot reach it (the migrate step invokes this).
    migrator = {
      function_name   = "${local.name_prefix}-migrator"
      timeout_seconds = var.migrator_timeout_seconds
    }
  }
}

# Describes the environment to the applications and the pipeline that read
# Parameter Store (the API's endpoint too); proves the provider, the backend and the
# endpoints work together.
resource "aws_ssm_parameter" "environment" {
  # checkov:skip=CKV2_AWS_34:non-secret settings (names, retention) that the pipeline and tests read without the environment key
  name        = "${local.parameter_prefix}/environment"
  description = "SmartStack ${var.environment}: settings the applications read at start."
  type        = "String"
  value = jsonencode({
    environment        = var.environment
    log_retention_days = var.log_retention_days
    name_prefix        = local.name_prefix
    # The smoke step reaches the API here: the environment's role reads its own
    # parameters but may not list every API of the account (GET /apis).
    api_endpoint = module.compute.api_endpoint
  })
}

module "networking" {
  source = "./modules/networking"
  providers = {
    aws          = aws
    aws.untagged = aws.untagged
  }

  name_prefix         = local.name_prefix
  vpc_cidr            = var.vpc_cidr
  enable_nat_gateway  = var.enable_nat_gateway
  single_nat_gateway  = var.single_nat_gateway
  interface_endpoints = var.vpc_interface_endpoints
}

module "monitoring" {
  source = "./modules/monitoring"

  name_prefix                  = local.name_prefix
  functions                    = local.functions
  api_id                       = module.compute.api_id
  api_name                     = "${local.name_prefix}-api"
  log_retention_days           = var.log_retention_days
  kms_key_arn                  = local.kms_key_arn
  error_rate_threshold_percent = var.error_rate_threshold_percent
  duration_threshold_fraction  = var.duration_threshold_fraction
  api_5xx_threshold            = var.api_5xx_threshold
  alarm_period_seconds         = var.alarm_period_seconds
  alarm_evaluation_periods     = var.alarm_evaluation_periods
  alert_emails                 = var.alert_emails
}

module "database" {
  source = "./modules/database"

  name_prefix              = local.name_prefix
  parameter_path           = local.parameter_prefix
  subnet_ids               = module.networking.private_subnet_ids
  security_group_ids       = [module.networking.database_security_group_id]
  kms_key_arn              = local.kms_key_arn
  engine_version           = var.db_engine_version
  instance_class           = var.db_instance_class
  allocated_storage_gb     = var.db_allocated_storage
  max_allocated_storage_gb = var.db_max_allocated_storage
  multi_az                 = var.db_multi_az
  deletion_protection      = var.db_deletion_protection
  backup_retention_days    = var.db_backup_retention_days
  performance_insights     = var.db_performance_insights
  password_version         = var.db_password_version
  database_name            = local.db_name
  master_username          = local.db_master_username
}

module "storage" {
  source = "./modules/storage"

  bucket_name                        = "${local.name_prefix}-data-${local.account_id}"
  kms_key_arn                        = local.kms_key_arn
  noncurrent_version_expiration_days = var.data_noncurrent_version_expiration_days
  force_destroy                      = var.data_bucket_force_destroy
  tls_only_policy                    = var.tls_only_bucket_policies
}

# Both functions are instances of ./modules/lambda-function, keyed like
# local.functions: what differs between them is here, the rest is common.
locals {
  function_settings = {
    api = {
      description = "SmartStack ${var.environment} HTTP API."
      handler     = var.api_handler
      memory_mb   = var.api_memory_mb
      policy_json = data.aws_iam_policy_document.api.json
      environment_variables = {
        DATA_BUCKET  = module.storage.bucket_name
        AI_JOBS_URL  = module.ai_services.queue_url
        DB_PARAMETER = "${local.parameter_prefix}/db-host"
      }
    }
    ai-processor = {
      description = "SmartStack ${var.environment} AI processor: consumes ${module.ai_services.queue_name}."
      handler     = var.ai_processor_handler
      memory_mb   = var.ai_processor_memory_mb
      policy_json = module.ai_services.processor_policy_json
      environment_variables = {
        BEDROCK_MODEL_IDS = join(",", var.bedrock_model_ids)
      }
    }
    migrator = {
      description = "SmartStack ${var.environment} migrator: applies a release's database migrations."
      handler     = var.migrator_handler
      memory_mb   = var.migrator_memory_mb
      policy_json = ""
      environment_variables = {
        MIGRATION_LOCK_TIMEOUT_MS      = tostring(var.migration_lock_timeout_ms)
        MIGRATION_STATEMENT_TIMEOUT_MS = tostring(var.migration_statement_timeout_ms)
      }
    }
  }
}

module "function" {
  source   = "./modules/lambda-function"
  for_each = local.function_settings

  function_name   = local.functions[each.key].function_name
  description     = each.value.description
  package_path    = var.lambda_package_path
  handler         = each.value.handler
  runtime         = var.lambda_runtime
  memory_mb       = each.value.memory_mb
  timeout_seconds = local.functions[each.key].timeout_seconds
  environment_variables = merge(each.value.environment_variables, {
    ENVIRONMENT             = var.environment
    PARAMETER_PREFIX        = "${local.parameter_prefix}/"
    POWERTOOLS_SERVICE_NAME = local.functions[each.key].function_name
    POWERTOOLS_LOG_LEVEL    = var.environment == "prod" ? "INFO" : "DEBUG"
  })
  log_group_arn            = module.monitoring.function_log_group_arns[each.key]
  kms_key_arn              = local.kms_key_arn
  parameter_path           = local.parameter_prefix
  subnet_ids               = module.networking.private_subnet_ids
  security_group_ids       = [module.networking.lambda_security_group_id]
  vpc_arn                  = "arn:${data.aws_partition.current.partition}:ec2:${var.aws_region}:${local.account_id}:vpc/${module.networking.vpc_id}"
  permissions_boundary_arn = local.boundary_arn
  extra_policy_json        = each.value.policy_json
}

# The functions were made inside compute and ai-services before; these keep
# their state (function, execution role and policy, live alias) in place.
moved {
  from = module.compute.module.function
  to   = module.function["api"]
}

moved {
  from = module.ai_services.module.function
  to   = module.function["ai-processor"]
}

module "compute" {
  source = "./modules/compute"

  name_prefix          = local.name_prefix
  environment          = var.environment
  function_name        = module.function["api"].function_name
  alias_name           = module.function["api"].alias_name
  alias_arn            = module.function["api"].alias_arn
  timeout_seconds      = var.api_timeout_seconds
  access_log_group_arn = module.monitoring.api_access_log_group_arn
}

module "ai_services" {
  source = "./modules/ai-services"

  name_prefix               = local.name_prefix
  processor_alias_arn       = module.function["ai-processor"].alias_arn
  processor_timeout_seconds = var.ai_processor_timeout_seconds
  max_receive_count         = var.ai_max_receive_count
  batch_size                = var.ai_batch_size
  bedrock_model_ids         = var.bedrock_model_ids
  extra_policy_json         = data.aws_iam_policy_document.data_bucket.json
  kms_key_arn               = local.kms_key_arn
}

# What the functions may do beyond their own logs, parameters and key.
data "aws_iam_policy_document" "data_bucket" {
  statement {
    sid       = "DataBucketObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${module.storage.bucket_arn}/*"]
  }

  statement {
    sid       = "DataBucketList"
    actions   = ["s3:ListBucket"]
    resources = [module.storage.bucket_arn]
  }

  statement {
    sid       = "EnvironmentKeyEncrypt"
    actions   = ["kms:GenerateDataKey"]
    resources = [local.kms_key_arn]
  }
}

data "aws_iam_policy_document" "api" {
  source_policy_documents = [data.aws_iam_policy_document.data_bucket.json]

  statement {
    sid       = "SubmitAiJobs"
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes"]
    resources = [module.ai_services.queue_arn]
  }
}
