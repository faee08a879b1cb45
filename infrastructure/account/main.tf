provider "aws" {
  region            = var.aws_region
  s3_use_path_style = var.s3_use_path_style

  default_tags {
    tags = {
      Project     = var.project
      Environment = "account"
      ManagedBy   = "opentofu"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# Made by `smartstack bootstrap` together with the state bucket and lock table.
data "aws_kms_alias" "state" {
  name = local.state_kms_alias
}

locals {
  account_id      = data.aws_caller_identity.current.account_id
  partition       = data.aws_partition.current.partition
  region          = var.aws_region
  environments    = toset(var.environments)
  admins          = length(var.admin_principal_arns) > 0 ? var.admin_principal_arns : ["arn:${local.partition}:iam::${local.account_id}:root"]
  state_bucket    = var.state_bucket != "" ? var.state_bucket : "${var.project}-tfstate-${local.account_id}-${local.region}"
  lock_table      = var.lock_table != "" ? var.lock_table : "${var.project}-tfstate-lock"
  state_kms_alias = var.state_kms_alias != "" ? var.state_kms_alias : "alias/${var.project}-tfstate"
  state_key_arn   = data.aws_kms_alias.state.target_key_arn

  artifacts_bucket  = "${var.project}-artifacts-${local.account_id}-${local.region}"
  deployments_table = "${var.project}-deployments"

  # Per-environment names and ARNs, the vocabulary of iam.tf.
  env = { for e in local.environments : e => {
    prefix        = "${var.project}-${e}"
    role_name     = "${var.project}-${e}-role"
    boundary_name = "${var.project}-${e}-boundary"
    state_key     = "env/${e}/terraform.tfstate"
    parameter_arn = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter/${var.project}/${e}"
    log_group_arns = [
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${var.project}-${e}-*",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/apigateway/${var.project}-${e}-*",
    ]
  } }
}

resource "aws_iam_openid_connect_provider" "github" {
  url             = "https://token.actions.githubusercontent.com"
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = var.github_oidc_thumbprints
}
