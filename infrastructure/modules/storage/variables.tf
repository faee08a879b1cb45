variable "name_prefix" {
  description = "Prefix of every resource name, smartstack-<env>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name_prefix))
    error_message = "name_prefix must be lowercase letters, digits and '-', e.g. smartstack-dev."
  }
}

variable "kms_key_arn" {
  description = "The environment's KMS key, the buckets' default encryption."
  type        = string
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object version is kept."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which unfinished multipart uploads are removed."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_days >= 1
    error_message = "abort_incomplete_multipart_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Let a destroy delete a non-empty bucket (dev only: its data is disposable)."
  type        = bool
  default     = false
}

variable "tls_only_policy" {
  description = "Attach the bucket policy that denies requests not made over TLS (off only for a plain-HTTP local AWS)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
