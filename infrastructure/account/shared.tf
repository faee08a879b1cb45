# Shared by the pipeline across environments: build artifacts and the record of
# deployments (which version reached which environment, who approved it).

module "artifacts" {
  source = "../modules/storage"

  bucket_name                        = local.artifacts_bucket
  kms_key_arn                        = aws_kms_key.pipeline.arn
  noncurrent_version_expiration_days = var.artifacts_noncurrent_version_expiration_days
  tls_only_policy                    = var.tls_only_bucket_policies
  # ledger-anchors/: each ledger record's hash (src/smartstack/pipeline/ledger_anchors.py),
  # kept where the writers of the deployments table cannot change it.
  write_once_prefixes = ["artifacts/", "releases/", "ledger-anchors/"]

  tags = { Name = local.artifacts_bucket }
}

# The artifacts bucket was declared here resource by resource before it was
# built through ../modules/storage; these keep existing state in place.
moved {
  from = aws_s3_bucket.artifacts
  to   = module.artifacts.aws_s3_bucket.data
}

moved {
  from = aws_s3_bucket_ownership_controls.artifacts
  to   = module.artifacts.aws_s3_bucket_ownership_controls.data
}

moved {
  from = aws_s3_bucket_public_access_block.artifacts
  to   = module.artifacts.aws_s3_bucket_public_access_block.data
}

moved {
  from = aws_s3_bucket_versioning.artifacts
  to   = module.artifacts.aws_s3_bucket_versioning.data
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.artifacts
  to   = module.artifacts.aws_s3_bucket_server_side_encryption_configuration.data
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.artifacts
  to   = module.artifacts.aws_s3_bucket_lifecycle_configuration.data
}

moved {
  from = aws_s3_bucket_policy.artifacts
  to   = module.artifacts.aws_s3_bucket_policy.tls_only
}

# Key scheme (src/smartstack/pipeline/ledger.py): every item of an environment has
# pk = "env#<env>"; sk = "deploy#<started, UTC ISO-8601>#<attempt id>" for a deploy
# or rollback attempt, "lease" for the environment's one deploy lease, and
# "approval#<release>" for an approval. Each environment role writes only items
# whose pk is its own env#<env> (dynamodb:LeadingKeys) and may read every
# environment's records (promotion checks read the previous environment's history).
resource "aws_dynamodb_table" "deployments" {
  name                        = local.deployments_table
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deployments_table_deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.pipeline.arn
  }

  tags = { Name = local.deployments_table }
}

# Reading the deployment records and releases through the pipeline key: what every
# environment role and the approvers share.
data "aws_iam_policy_document" "read_pipeline_records" {
  statement {
    sid       = "ReadDeploymentRecords"
    actions   = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"] # Scan: every approver's approvals
    resources = [aws_dynamodb_table.deployments.arn]
  }

  # unexercised: DescribeKey (DynamoDB's documented set for the users of a table encrypted
  # with a customer managed key; the local AWS checks item access as Decrypt)
  statement {
    sid       = "PipelineKeyThroughS3AndDynamoDB"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.pipeline.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com", "dynamodb.${local.region}.amazonaws.com"]
    }
  }
}
