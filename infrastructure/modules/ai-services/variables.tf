variable "name_prefix" {
  description = "Prefix of every resource name, smartstack-<env>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name_prefix))
    error_message = "name_prefix must be lowercase letters, digits and '-', e.g. smartstack-dev."
  }
}

variable "processor_alias_arn" {
  description = "ARN of the AI processor's live alias (made by ../lambda-function), the event source mapping's target."
  type        = string
}

variable "processor_timeout_seconds" {
  description = "Timeout of the AI processor in seconds; the jobs queue's visibility timeout is six times it."
  type        = number

  validation {
    condition     = var.processor_timeout_seconds >= 1 && var.processor_timeout_seconds <= 900
    error_message = "processor_timeout_seconds must be between 1 and 900."
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
  description = "Additional IAM policy (JSON) merged into processor_policy_json, e.g. the data bucket."
  type        = string
  default     = ""
}

variable "kms_key_arn" {
  description = "The environment's KMS key (both queues' encryption)."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
