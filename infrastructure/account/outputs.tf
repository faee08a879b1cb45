output "role_arns" {
  description = "ARN of each environment's role, by environment."
  value       = { for e, r in aws_iam_role.env : e => r.arn }
}

output "role_policies" {
  description = "Rendered identity policies (JSON) of each environment's role, by environment: the inline one, then the attached network and pipeline ones."
  value = { for e, p in data.aws_iam_policy_document.env_role : e => [
    p.json, data.aws_iam_policy_document.env_network[e].json, data.aws_iam_policy_document.env_pipeline[e].json,
  ] }
}

output "role_trust_policies" {
  description = "Rendered trust policy (JSON) of each environment's role, by environment."
  value       = { for e, p in data.aws_iam_policy_document.env_trust : e => p.json }
}

output "boundary_policy_arns" {
  description = "Permissions boundary each environment's execution roles must carry, by environment."
  value       = { for e, p in aws_iam_policy.boundary : e => p.arn }
}

output "kms_key_arns" {
  description = "ARN of each environment's KMS key, by environment."
  value       = { for e, k in aws_kms_key.env : e => k.arn }
}

output "kms_key_aliases" {
  description = "Alias of each environment's KMS key, by environment."
  value       = { for e, a in aws_kms_alias.env : e => a.name }
}

output "kms_key_policies" {
  description = "Rendered key policy of each environment's KMS key, by environment."
  value       = { for e, p in data.aws_iam_policy_document.env_key : e => p.json }
}

output "github_oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider."
  value       = aws_iam_openid_connect_provider.github.arn
}

output "artifacts_bucket" {
  description = "Bucket of the pipeline's build artifacts."
  value       = module.artifacts.bucket_name
}

output "deployments_table" {
  description = "DynamoDB table of the deploy attempts, leases and approvals (pk env#<env>; sk deploy#<started>#<attempt id>, lease or approval#<release>)."
  value       = aws_dynamodb_table.deployments.name
}

output "pipeline_kms_key_arn" {
  description = "KMS key of the artifacts bucket and the deployments table."
  value       = aws_kms_key.pipeline.arn
}

output "state_bucket" {
  description = "The state bucket the roles' policies name."
  value       = local.state_bucket
}

output "lock_table" {
  description = "The lock table the roles' policies name."
  value       = local.lock_table
}

output "state_kms_key_arn" {
  description = "The state key the roles may use through S3 and DynamoDB."
  value       = local.state_key_arn
}

output "approvers_group" {
  description = "IAM group whose members may record approvals (smartstack approve) for the approval environments."
  value       = aws_iam_group.approvers.name
}
