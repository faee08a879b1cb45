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
  description = "The environment's Parameter Store path, e.g. /smartstack/dev (PARAMETER_PREFIX of the function)."
  type        = string
}

variable "package_path" {
  description = "Local zip the function is created with (a placeholder; the pipeline deploys the code)."
  type        = string
}

variable "handler" {
  description = "Handler of the API function."
  type        = string
}

variable "runtime" {
  description = "Python runtime of the API function."
  type        = string
  default     = "python3.12"
}

variable "memory_mb" {
  description = "Memory of the API function in MB."
  type        = number
}

variable "timeout_seconds" {
  description = "Timeout of the API function in seconds (API Gateway HTTP APIs stop waiting after 30)."
  type        = number

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 30
    error_message = "timeout_seconds must be 1-30: an HTTP API integration times out after 30 seconds."
  }
}

variable "extra_environment_variables" {
  description = "More environment variables for the API function (no secrets)."
  type        = map(string)
  default     = {}
}

variable "extra_policy_json" {
  description = "Additional IAM policy (JSON) for the API's execution role, e.g. its queue and bucket."
  type        = string
  default     = ""
}

variable "function_log_group_arn" {
  description = "ARN of /aws/lambda/<prefix>-api, owned by the monitoring module."
  type        = string
}

variable "access_log_group_arn" {
  description = "ARN of the HTTP API's access log group, owned by the monitoring module."
  type        = string
}

variable "kms_key_arn" {
  description = "The environment's KMS key."
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

variable "throttling_burst_limit" {
  description = "Burst limit of the API's default route."
  type        = number
  default     = 100

  validation {
    condition     = var.throttling_burst_limit >= 1
    error_message = "throttling_burst_limit must be at least 1."
  }
}

variable "throttling_rate_limit" {
  description = "Steady-state requests per second of the API's default route."
  type        = number
  default     = 50

  validation {
    condition     = var.throttling_rate_limit >= 1
    error_message = "throttling_rate_limit must be at least 1."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
