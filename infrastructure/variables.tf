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
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
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
