variable "name_prefix" {
  description = "Prefix of every resource name, smartstack-<env>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name_prefix))
    error_message = "name_prefix must be lowercase letters, digits and '-', e.g. smartstack-dev."
  }
}

variable "environment" {
  description = "Environment name, for the API's description."
  type        = string
}

variable "function_name" {
  description = "Name of the API function (made by ../lambda-function), which the API may invoke."
  type        = string
}

variable "alias_name" {
  description = "The function's alias that serves traffic (live); the invoke permission is on it."
  type        = string
}

variable "alias_arn" {
  description = "ARN of the function's live alias, the target of the API's integration."
  type        = string
}

variable "timeout_seconds" {
  description = "Timeout of the API function in seconds (API Gateway HTTP APIs stop waiting after 30)."
  type        = number

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 30
    error_message = "timeout_seconds must be 1-30: an HTTP API integration times out after 30 seconds."
  }
}

variable "access_log_group_arn" {
  description = "ARN of the HTTP API's access log group, owned by the monitoring module."
  type        = string
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
