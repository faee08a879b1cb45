variable "name_prefix" {
  description = "Prefix of every resource name, smartstack-<env>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name_prefix))
    error_message = "name_prefix must be lowercase letters, digits and '-', e.g. smartstack-dev."
  }
}

variable "functions" {
  description = "Functions to watch, by short name: full function name and timeout (seconds). Their log groups are created here."
  type = map(object({
    function_name   = string
    timeout_seconds = number
  }))

  validation {
    condition     = alltrue([for k, f in var.functions : can(regex("^[a-z][a-z0-9-]+$", f.function_name)) && f.timeout_seconds > 0])
    error_message = "every function needs a lowercase function_name and a positive timeout_seconds."
  }
}

variable "api_id" {
  description = "ID of the HTTP API whose 5xx responses are alarmed on."
  type        = string
}

variable "api_name" {
  description = "Name of the HTTP API (names its access log group and its 5xx alarm)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of every log group of the environment (ADR-007: 7 dev, 14 staging, 30 prod)."
  type        = number

  validation {
    # The values CloudWatch Logs accepts, kept once in infrastructure/log-retention-days.json
    # (smartstack.core.environments reads the same file).
    condition     = contains(jsondecode(file("${path.module}/../../log-retention-days.json")), var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts, e.g. 7, 14 or 30."
  }
}

variable "kms_key_arn" {
  description = "The environment's KMS key: encrypts the log groups and the alerts topic."
  type        = string
}

variable "error_rate_threshold_percent" {
  description = "Alarm when errors / invocations * 100 exceeds this, per period."
  type        = number

  validation {
    condition     = var.error_rate_threshold_percent > 0 && var.error_rate_threshold_percent <= 100
    error_message = "error_rate_threshold_percent must be in (0, 100]."
  }
}

variable "duration_threshold_fraction" {
  description = "Alarm when p99 duration exceeds this fraction of the function's timeout."
  type        = number

  validation {
    condition     = var.duration_threshold_fraction > 0 && var.duration_threshold_fraction <= 1
    error_message = "duration_threshold_fraction must be in (0, 1], e.g. 0.8."
  }
}

variable "api_5xx_threshold" {
  description = "Alarm when the API returns more than this many 5xx responses in one period."
  type        = number

  validation {
    condition     = var.api_5xx_threshold >= 0
    error_message = "api_5xx_threshold must not be negative."
  }
}

variable "alarm_period_seconds" {
  description = "Length of one alarm evaluation period."
  type        = number
  default     = 300

  validation {
    condition     = contains([60, 300, 900, 3600], var.alarm_period_seconds)
    error_message = "alarm_period_seconds must be 60, 300, 900 or 3600."
  }
}

variable "alarm_evaluation_periods" {
  description = "Consecutive breaching periods before an alarm fires."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_evaluation_periods >= 1 && var.alarm_evaluation_periods <= 24
    error_message = "alarm_evaluation_periods must be between 1 and 24."
  }
}

variable "alert_emails" {
  description = "E-mail addresses subscribed to the alerts topic (each must confirm)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must be e-mail addresses."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
