variable "project" {
  description = "Prefix of every resource name: <project>-<environment>-<service>."
  type        = string
  default     = "smartstack"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.project))
    error_message = "project must be 2-21 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "aws_region" {
  description = "Region of the account's shared resources and of every environment."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region name such as us-east-1."
  }
}

variable "environments" {
  description = "Environments that get a role, a KMS key and a permissions boundary (one tfvars file each in ../configs)."
  type        = list(string)
  default     = ["dev", "staging", "prod"]

  validation {
    condition     = length(var.environments) > 0 && alltrue([for e in var.environments : can(regex("^[a-z][a-z0-9]{1,15}$", e))])
    error_message = "environments must be 2-16 character names of lowercase letters and digits, starting with a letter (e.g. dev, staging, prod)."
  }

  validation {
    condition     = length(distinct(var.environments)) == length(var.environments)
    error_message = "environments must not repeat a name."
  }
}

variable "release_publisher" {
  description = "The environment whose role builds and publishes releases to the artifacts bucket (the one main deploys to); the others only read them."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,15}$", var.release_publisher))
    error_message = "release_publisher must be an environment name such as dev."
  }
}

variable "github_repository" {
  description = "GitHub repository <owner>/<repo> whose deployment environments may assume the roles."
  type        = string
  default     = "smartstack/smartstack"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/repo."
  }
}

variable "github_deploy_workflow" {
  description = "The workflow whose jobs may assume the environment roles, run from github_deploy_ref: its job_workflow_ref must be <repository>/<workflow>@<ref>, so a branch, a pull request or another workflow gets no role."
  type        = string
  default     = ".github/workflows/deploy.yml"

  validation {
    condition     = can(regex("^\\.github/workflows/[A-Za-z0-9_.-]+\\.ya?ml$", var.github_deploy_workflow))
    error_message = "github_deploy_workflow must be a workflow file, e.g. .github/workflows/deploy.yml."
  }
}

variable "github_deploy_ref" {
  description = "The ref the deploy workflow must run from (the branch releases are built from)."
  type        = string
  default     = "refs/heads/main"

  validation {
    condition     = can(regex("^refs/heads/[A-Za-z0-9_./-]+$", var.github_deploy_ref))
    error_message = "github_deploy_ref must be a branch ref, e.g. refs/heads/main."
  }
}

variable "github_oidc_thumbprints" {
  description = "Certificate thumbprints of token.actions.githubusercontent.com (AWS now trusts GitHub's CA itself, but the API still wants a list)."
  type        = list(string)
  default     = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]

  validation {
    condition     = length(var.github_oidc_thumbprints) > 0 && alltrue([for t in var.github_oidc_thumbprints : can(regex("^[0-9a-f]{40}$", t))])
    error_message = "github_oidc_thumbprints must be 40-character lowercase hex SHA-1 thumbprints."
  }
}

variable "admin_principal_arns" {
  description = "IAM principals that may assume every environment role and administer the keys; empty means the account root."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.admin_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+)$", a))])
    error_message = "admin_principal_arns must be IAM ARNs: arn:aws:iam::<account>:root, :role/<name> or :user/<name>."
  }
}

variable "state_bucket" {
  description = "The OpenTofu state bucket (passed by the runner); empty means <project>-tfstate-<account>-<region>."
  type        = string
  default     = ""

  validation {
    condition     = var.state_bucket == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket))
    error_message = "state_bucket must be an S3 bucket name."
  }
}

variable "lock_table" {
  description = "The OpenTofu lock table (passed by the runner); empty means <project>-tfstate-lock."
  type        = string
  default     = ""

  validation {
    condition     = var.lock_table == "" || can(regex("^[A-Za-z0-9_.-]{3,255}$", var.lock_table))
    error_message = "lock_table must be a DynamoDB table name."
  }
}

variable "state_kms_alias" {
  description = "Alias of the KMS key that encrypts the state bucket and lock table (made by `smartstack bootstrap`); empty means alias/<project>-tfstate."
  type        = string
  default     = ""

  validation {
    condition     = var.state_kms_alias == "" || startswith(var.state_kms_alias, "alias/")
    error_message = "state_kms_alias must start with alias/."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a scheduled KMS key deletion."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "artifacts_noncurrent_version_expiration_days" {
  description = "Days replaced artifact versions are kept."
  type        = number
  default     = 90

  validation {
    condition     = var.artifacts_noncurrent_version_expiration_days >= 1
    error_message = "artifacts_noncurrent_version_expiration_days must be at least 1."
  }
}

variable "tls_only_bucket_policies" {
  description = "Deny non-TLS requests on the artifacts bucket. Keep true; false only against a plain-HTTP local AWS (moto ignores the condition and denies every object request)."
  type        = bool
  default     = true
}

variable "deployments_table_deletion_protection" {
  description = "Refuse deletion of the deployments table (its history is the promotion record)."
  type        = bool
  default     = true
}

variable "s3_use_path_style" {
  description = "Address S3 buckets by path instead of by host name: true only against a custom endpoint such as the local AWS (the runner sets it when AWS_ENDPOINT_URL is set)."
  type        = bool
  default     = false
}

variable "approval_environments" {
  description = "The environments whose releases need an approval recorded by a member of the approvers group (`smartstack approve <env> <release>`); each must also set require_approval in its tfvars."
  type        = list(string)
  default     = ["prod"]

  validation {
    condition     = alltrue([for e in var.approval_environments : can(regex("^[a-z][a-z0-9]{1,15}$", e))])
    error_message = "approval_environments must be environment names such as prod."
  }
}
