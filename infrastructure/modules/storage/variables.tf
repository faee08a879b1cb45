variable "bucket_name" {
  description = "Name of the bucket, e.g. smartstack-dev-data-<account id> or smartstack-artifacts-<account id>-<region>."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3-63 lowercase letters, digits or '-', starting and ending with a letter or digit."
  }
}

variable "kms_key_arn" {
  description = "KMS key of the bucket's default encryption (SSE-KMS, bucket key on)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
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

variable "write_once_prefixes" {
  description = "Key prefixes whose objects may be created but never replaced: the bucket policy refuses a PutObject there without If-None-Match (releases and their artifacts)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.write_once_prefixes : can(regex("^[A-Za-z0-9!_.*'()-]+/$", p))])
    error_message = "write_once_prefixes must be key prefixes ending in '/', e.g. releases/."
  }
}

variable "tags" {
  description = "Tags of the bucket, besides the provider's default_tags."
  type        = map(string)
  default     = {}
}
