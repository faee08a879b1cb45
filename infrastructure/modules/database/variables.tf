variable "name_prefix" {
  description = "Prefix of every resource name, smartstack-<env>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name_prefix))
    error_message = "name_prefix must be lowercase letters, digits and '-', e.g. smartstack-dev."
  }
}

variable "parameter_path" {
  description = "The environment's Parameter Store path, e.g. /smartstack/dev (no trailing slash)."
  type        = string

  validation {
    condition     = can(regex("^/[a-z0-9/-]+[a-z0-9]$", var.parameter_path))
    error_message = "parameter_path must look like /smartstack/dev, without a trailing slash."
  }
}

variable "subnet_ids" {
  description = "Private subnets of the DB subnet group (at least two AZs)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids needs subnets in at least two availability zones."
  }
}

variable "security_group_ids" {
  description = "Security groups of the instance (the networking module's database group)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "The environment's KMS key: storage, Performance Insights and the connection parameters."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL major or major.minor version (minor upgrades are automatic)."
  type        = string
  default     = "16"

  validation {
    condition     = can(regex("^1[4-8](\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must be a PostgreSQL version from 14 to 18, e.g. 16 or 16.4."
  }
}

variable "instance_class" {
  description = "RDS instance class, e.g. db.t4g.micro."
  type        = string

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.instance_class))
    error_message = "instance_class must look like db.t4g.micro."
  }
}

variable "allocated_storage_gb" {
  description = "Initial storage in GB (gp3)."
  type        = number

  validation {
    condition     = var.allocated_storage_gb >= 20 && var.allocated_storage_gb <= 65536
    error_message = "allocated_storage_gb must be between 20 and 65536."
  }
}

variable "max_allocated_storage_gb" {
  description = "Storage autoscaling ceiling in GB; 0 turns autoscaling off."
  type        = number
  default     = 0

  validation {
    condition     = var.max_allocated_storage_gb == 0 || var.max_allocated_storage_gb >= 20
    error_message = "max_allocated_storage_gb must be 0 (off) or at least 20."
  }
}

variable "multi_az" {
  description = "Standby in a second AZ (prod)."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Refuse deletion of the instance (prod); also keeps a final snapshot on destroy."
  type        = bool
  default     = false
}

variable "backup_retention_days" {
  description = "Days of automated backups."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35."
  }
}

variable "performance_insights" {
  description = "Turn on Performance Insights (not available on the smallest classes)."
  type        = bool
  default     = false
}

variable "database_name" {
  description = "Name of the application database."
  type        = string
  default     = "smartstack"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.database_name))
    error_message = "database_name must start with a letter: lowercase letters, digits, '_'."
  }
}

variable "master_username" {
  description = "Master user name."
  type        = string
  default     = "smartstack"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,15}$", var.master_username)) && !contains(["admin", "postgres", "rdsadmin"], var.master_username)
    error_message = "master_username must be 1-16 lowercase letters, digits or '_' and not a reserved name (admin, postgres, rdsadmin)."
  }
}

variable "password_version" {
  description = "Bump to send a changed /<project>/<env>/db-password to the instance (the password itself is write-only, never in state)."
  type        = number
  default     = 1

  validation {
    condition     = var.password_version >= 1 && floor(var.password_version) == var.password_version
    error_message = "password_version must be a positive whole number."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
