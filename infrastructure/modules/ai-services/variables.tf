variable "name_prefix" {
  description = "Prefix of every resource name, smartstack-<env>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name_prefix))
    error_message = "name_prefix must be lowercase letters, digits and '-', e.g. smartstack-dev."
  }
}

variable "environment" {
  description = "Environment name, passed to the function as ENVIRONMENT."
  type        = string
}

variable "parameter_path" {
  description = "The environment's Parameter Store path, e.g. /smartstack/dev."
  type        = string
}

variable "package_path" {
  description = "Local zip the processor is created with (a placeholder; the pipeline deploys the code)."
  type        = string
}

variable "handler" {
  description = "Handler of the AI processor."
  type        = string
}

variable "runtime" {
  description = "Python runtime of the AI processor."
  type        = string
  default     = "python3.12"
}

variable "memory_mb" {
  description = "Memory of the AI processor in MB."
  type        = number
}

variable "timeout_seconds" {
  description = "Timeout of the AI processor in seconds."
  type        = number

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 1 and 900."
  }
}

variable "max_receive_count" {
  description = "Receives of a job before it moves to the dead-letter queue."
  type        = number

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "batch_size" {
  description = "Jobs handed to one invocation."
  type        = number
  default     = 1

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10
    error_message = "batch_size must be between 1 and 10 (no batching window is configured)."
  }
}

variable "message_retention_seconds" {
  description = "How long the DLQ keeps failed jobs (the queue keeps jobs 4 days)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "bedrock_model_ids" {
  description = "Bedrock foundation model IDs the processor may invoke, e.g. anthropic.claude-3-haiku-20240307-v1:0."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.bedrock_model_ids : can(regex("^[a-z0-9-]+\\.[A-Za-z0-9._:-]+$", id))])
    error_message = "bedrock_model_ids must be model IDs like anthropic.claude-3-haiku-20240307-v1:0."
  }
}

variable "extra_policy_json" {
  description = "Additional IAM policy (JSON) for the processor's execution role, e.g. the data bucket."
  type        = string
  default     = ""
}

variable "function_log_group_arn" {
  description = "ARN of /aws/lambda/<prefix>-ai-processor, owned by the monitoring module."
  type        = string
}

variable "kms_key_arn" {
  description = "The environment's KMS key (queues and environment variables)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the function; empty keeps it outside the VPC."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function in the VPC."
  type        = list(string)
  default     = []
}

variable "vpc_arn" {
  description = "ARN of the VPC, scoping the role's ENI permissions."
  type        = string
  default     = ""
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary for the execution role; empty for none."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
