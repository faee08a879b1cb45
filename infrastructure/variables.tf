variable "project" {
  description = "Prefix of every resource name: <project>-<environment>-<service>."
  type        = string
  default     = "smartstack"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.project))
    error_message = "project must be 2-21 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "environment" {
  description = "The environment this state belongs to (one tfvars file each)."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "aws_region" {
  description = "Region every resource of the environment lives in."
  type        = string
  default     = "us-east-1"
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for the environment's log groups (ADR-007: 7 dev, 14 staging, 30 prod)."
  type        = number

  validation {
    # The values CloudWatch Logs accepts, kept once in log-retention-days.json
    # (smartstack.core.environments reads the same file).
    condition     = contains(jsondecode(file("${path.module}/log-retention-days.json")), var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts, e.g. 7, 14 or 30."
  }
}

variable "promotes_from" {
  description = "Deploy policy: the environment a release must have passed before this one (empty for the first)."
  type        = string
  default     = ""

  validation {
    condition     = contains(["", "dev", "staging"], var.promotes_from)
    error_message = "promotes_from must be empty, dev or staging."
  }
}

variable "require_approval" {
  description = "Deploy policy: a person must approve a deploy to this environment (prod: true). Read by the pipeline."
  type        = bool
  default     = false
}

variable "approver_must_differ" {
  description = "Deploy policy: the approver must not be the person who started the deploy (prod: true). Read by the pipeline."
  type        = bool
  default     = false
}

variable "protect_from_destroy" {
  description = "Deploy policy: a deploy whose plan destroys or replaces anything stops unless run with --allow-destroy (prod: true). Read by the pipeline."
  type        = bool
  default     = false
}

# --- code -------------------------------------------------------------------

variable "lambda_package_path" {
  description = "Local zip every function is created with: a placeholder handler the runner generates. Only used at creation; the pipeline deploys code."
  type        = string

  validation {
    condition     = endswith(var.lambda_package_path, ".zip") && fileexists(var.lambda_package_path)
    error_message = "lambda_package_path must be an existing .zip file (the runner generates a placeholder package)."
  }
}

variable "lambda_runtime" {
  description = "Python runtime of every function; the runner offers the service table's (smartstack.core.services.RUNTIME), which the build targets. The default is the same value (tests/infra/test_stack_inputs.py checks it)."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.lambda_runtime)
    error_message = "lambda_runtime must be python3.12 or python3.13."
  }
}

variable "api_handler" {
  description = "Handler of the API function; the runner offers it from the build's service table, so the stack and the released zip agree."
  type        = string
  default     = "smartstack_api.handler.handler"
}

variable "ai_processor_handler" {
  description = "Handler of the AI processor; offered by the runner like api_handler."
  type        = string
  default     = "smartstack_ai.handler.handler"
}

variable "migrator_handler" {
  description = "Handler of the migrator; offered by the runner like api_handler."
  type        = string
  default     = "smartstack_migrator.handler.handler"
}

variable "migrator_memory_mb" {
  description = "Memory of the migrator function in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.migrator_memory_mb >= 128 && var.migrator_memory_mb <= 10240
    error_message = "migrator_memory_mb must be between 128 and 10240."
  }
}

variable "migrator_timeout_seconds" {
  description = "Timeout of the migrator: the longest a deploy's migrations, waiting for another migrator included, may take."
  type        = number
  default     = 300

  validation {
    condition     = var.migrator_timeout_seconds >= 30 && var.migrator_timeout_seconds <= 900
    error_message = "migrator_timeout_seconds must be between 30 and 900."
  }
}

variable "migration_lock_timeout_ms" {
  description = "lock_timeout of every migration: a statement that waits longer for a table lock fails, instead of queueing the application's queries behind it."
  type        = number
  default     = 5000

  validation {
    condition     = var.migration_lock_timeout_ms >= 100 && var.migration_lock_timeout_ms <= 60000 && floor(var.migration_lock_timeout_ms) == var.migration_lock_timeout_ms
    error_message = "migration_lock_timeout_ms must be a whole number between 100 and 60000."
  }
}

variable "migration_statement_timeout_ms" {
  description = "statement_timeout of every migration statement; with a minute to spare, it must fit in the migrator's timeout, so PostgreSQL (which names the revision) stops a statement before Lambda stops the function."
  type        = number
  default     = 60000

  validation {
    condition     = var.migration_statement_timeout_ms >= 1000 && floor(var.migration_statement_timeout_ms) == var.migration_statement_timeout_ms
    error_message = "migration_statement_timeout_ms must be a whole number of at least 1000."
  }

  validation {
    condition     = var.migration_statement_timeout_ms + 60000 <= var.migrator_timeout_seconds * 1000
    error_message = "migration_statement_timeout_ms plus a minute must fit in migrator_timeout_seconds: raise migrator_timeout_seconds (at most 900) or lower the statement timeout."
  }
}

variable "api_memory_mb" {
  description = "Memory of the API function in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.api_memory_mb >= 128 && var.api_memory_mb <= 10240
    error_message = "api_memory_mb must be between 128 and 10240."
  }
}

variable "api_timeout_seconds" {
  description = "Timeout of the API function (at most 30: the HTTP API stops waiting then)."
  type        = number
  default     = 10

  validation {
    condition     = var.api_timeout_seconds >= 1 && var.api_timeout_seconds <= 30
    error_message = "api_timeout_seconds must be between 1 and 30."
  }
}

variable "ai_processor_memory_mb" {
  description = "Memory of the AI processor in MB."
  type        = number
  default     = 512

  validation {
    condition     = var.ai_processor_memory_mb >= 128 && var.ai_processor_memory_mb <= 10240
    error_message = "ai_processor_memory_mb must be between 128 and 10240."
  }
}

variable "ai_processor_timeout_seconds" {
  description = "Timeout of the AI processor in seconds."
  type        = number
  default     = 120

  validation {
    condition     = var.ai_processor_timeout_seconds >= 1 && var.ai_processor_timeout_seconds <= 900
    error_message = "ai_processor_timeout_seconds must be between 1 and 900."
  }
}

variable "ai_max_receive_count" {
  description = "Receives of an AI job before it goes to the dead-letter queue."
  type        = number
  default     = 3

  validation {
    condition     = var.ai_max_receive_count >= 1 && var.ai_max_receive_count <= 1000
    error_message = "ai_max_receive_count must be between 1 and 1000."
  }
}

variable "ai_batch_size" {
  description = "AI jobs per processor invocation."
  type        = number
  default     = 1

  validation {
    condition     = var.ai_batch_size >= 1 && var.ai_batch_size <= 10
    error_message = "ai_batch_size must be between 1 and 10."
  }
}

variable "bedrock_model_ids" {
  description = "Bedrock foundation models the AI processor may invoke."
  type        = list(string)
  default     = []
}

# --- network ----------------------------------------------------------------

variable "vpc_cidr" {
  description = "CIDR of the environment's VPC."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be an IPv4 CIDR such as 10.10.0.0/16."
  }
}

variable "enable_nat_gateway" {
  description = "NAT for the private subnets (cost; dev: false, prod: true)."
  type        = bool
  default     = false
}

variable "single_nat_gateway" {
  description = "One NAT gateway for both AZs instead of one per AZ."
  type        = bool
  default     = true
}

variable "vpc_interface_endpoints" {
  description = "Services the functions reach through interface endpoints (needed without NAT), e.g. [\"ssm\", \"bedrock-runtime\"]."
  type        = set(string)
  default     = []
}

# --- database ---------------------------------------------------------------

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.db_instance_class))
    error_message = "db_instance_class must look like db.t4g.micro."
  }
}

variable "db_allocated_storage" {
  description = "Initial database storage in GB."
  type        = number
  default     = 20

  validation {
    condition     = var.db_allocated_storage >= 20 && var.db_allocated_storage <= 65536
    error_message = "db_allocated_storage must be between 20 and 65536 GB."
  }
}

variable "db_max_allocated_storage" {
  description = "Storage autoscaling ceiling in GB (0: off)."
  type        = number
  default     = 0
}

variable "db_engine_version" {
  description = "PostgreSQL version."
  type        = string
  default     = "16"
}

variable "db_multi_az" {
  description = "Multi-AZ standby (prod)."
  type        = bool
  default     = false
}

variable "db_deletion_protection" {
  description = "Deletion protection and a final snapshot (prod)."
  type        = bool
  default     = false
}

variable "db_backup_retention_days" {
  description = "Days of automated database backups."
  type        = number
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 1 and 35."
  }
}

variable "db_performance_insights" {
  description = "Performance Insights on the database."
  type        = bool
  default     = false
}

variable "db_password_version" {
  description = "Bump after writing a new /<project>/<env>/db-password to send it to RDS."
  type        = number
  default     = 1
}

# --- storage ----------------------------------------------------------------

variable "data_noncurrent_version_expiration_days" {
  description = "Days replaced object versions stay in the data bucket."
  type        = number
  default     = 30

  validation {
    condition     = var.data_noncurrent_version_expiration_days >= 1
    error_message = "data_noncurrent_version_expiration_days must be at least 1."
  }
}

variable "data_bucket_force_destroy" {
  description = "Let destroy empty the data bucket (dev only)."
  type        = bool
  default     = false
}

variable "tls_only_bucket_policies" {
  description = "Deny non-TLS requests on the buckets. Keep true; false only against a plain-HTTP local AWS (moto ignores the condition and denies every object request)."
  type        = bool
  default     = true
}

# --- monitoring -------------------------------------------------------------

variable "error_rate_threshold_percent" {
  description = "Function error-rate alarm threshold (errors / invocations * 100)."
  type        = number
  default     = 5

  validation {
    condition     = var.error_rate_threshold_percent > 0 && var.error_rate_threshold_percent <= 100
    error_message = "error_rate_threshold_percent must be in (0, 100]."
  }
}

variable "duration_threshold_fraction" {
  description = "Duration alarm: p99 above this fraction of the function's timeout."
  type        = number
  default     = 0.8

  validation {
    condition     = var.duration_threshold_fraction > 0 && var.duration_threshold_fraction <= 1
    error_message = "duration_threshold_fraction must be in (0, 1]."
  }
}

variable "api_5xx_threshold" {
  description = "API 5xx alarm: more than this many 5xx responses in one period."
  type        = number
  default     = 5

  validation {
    condition     = var.api_5xx_threshold >= 0
    error_message = "api_5xx_threshold must not be negative."
  }
}

variable "alarm_period_seconds" {
  description = "Alarm evaluation period in seconds."
  type        = number
  default     = 300
}

variable "alarm_evaluation_periods" {
  description = "Breaching periods before an alarm fires."
  type        = number
  default     = 1
}

variable "alert_emails" {
  description = "E-mail subscribers of smartstack-<env>-alerts."
  type        = list(string)
  default     = []
}

# --- account stack ------------------------------------------------------------

variable "use_permissions_boundary" {
  description = "Give the execution roles the account stack's smartstack-<env>-boundary (the env role may only create roles that carry it)."
  type        = bool
  default     = true
}

variable "s3_use_path_style" {
  description = "Address S3 buckets by path instead of by host name: true only against a custom endpoint such as the local AWS (the runner sets it when AWS_ENDPOINT_URL is set)."
  type        = bool
  default     = false
}

