variable "function_name" {
  description = "Full function name, smartstack-<env>-<service>; the execution role is <function_name>-exec."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,58}$", var.function_name))
    error_message = "function_name must be 3-59 lowercase letters, digits or '-' (room for the '-exec' role suffix)."
  }
}

variable "description" {
  description = "What the function does."
  type        = string
}

variable "package_path" {
  description = "Local zip used only when the function is created; the pipeline deploys code afterwards."
  type        = string

  validation {
    condition     = endswith(var.package_path, ".zip")
    error_message = "package_path must be a .zip file."
  }
}

variable "handler" {
  description = "Python handler, module.function."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_.]*\\.[A-Za-z_][A-Za-z0-9_]*$", var.handler))
    error_message = "handler must look like package.module.function, e.g. smartstack_api.handler.handle."
  }
}

variable "runtime" {
  description = "Lambda Python runtime."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be python3.12 or python3.13."
  }
}

variable "memory_mb" {
  description = "Memory of the function in MB."
  type        = number

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb must be between 128 and 10240."
  }
}

variable "timeout_seconds" {
  description = "Function timeout in seconds."
  type        = number

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 1 and 900."
  }
}

variable "environment_variables" {
  description = "Environment variables of the function (no secrets: those stay in Parameter Store)."
  type        = map(string)
  default     = {}
}

variable "log_group_arn" {
  description = "ARN of the function's log group, created beforehand by the monitoring module (its one owner)."
  type        = string
}

variable "kms_key_arn" {
  description = "The environment's KMS key: encrypts the environment variables; the role may decrypt with it."
  type        = string
}

variable "parameter_path" {
  description = "Parameter Store path the function may read, e.g. /smartstack/dev (no trailing slash)."
  type        = string

  validation {
    condition     = can(regex("^/[a-z0-9/-]+[a-z0-9]$", var.parameter_path))
    error_message = "parameter_path must look like /smartstack/dev, without a trailing slash."
  }
}

variable "subnet_ids" {
  description = "Private subnets to run in; empty runs the function outside the VPC."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function when it runs in the VPC."
  type        = list(string)
  default     = []
}

variable "vpc_arn" {
  description = "ARN of the VPC (scopes the ENI permissions); required when subnet_ids is set."
  type        = string
  default     = ""
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary of the execution role (the account stack's smartstack-<env>-boundary); empty for none."
  type        = string
  default     = ""
}

variable "extra_policy_json" {
  description = "Additional IAM policy document (JSON) for the execution role, e.g. queue and model access."
  type        = string
  default     = ""
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; -1 leaves the function unreserved."
  type        = number
  default     = -1
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
