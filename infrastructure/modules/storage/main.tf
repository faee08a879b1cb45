# One private bucket: the environment's data bucket (environment stack) and the
# pipeline's artifacts bucket (account stack) are both made here.
resource "aws_s3_bucket" "data" {
  # checkov:skip=CKV_AWS_18:access logging needs a separate log bucket; not in ADR-007's MVP (CloudTrail data events instead)
  # checkov:skip=CKV_AWS_144:cross-region replication is out of scope for the single-region MVP (ADR-007)
  # checkov:skip=CKV2_AWS_62:no consumer of bucket events yet
  bucket        = var.bucket_name
  force_destroy = var.force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_ownership_controls" "data" {
  bucket = aws_s3_bucket.data.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "data" {
  bucket                  = aws_s3_bucket.data.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "data" {
  bucket = aws_s3_bucket.data.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  bucket = aws_s3_bucket.data.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "data" {
  bucket = aws_s3_bucket.data.id

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.data]
}

data "aws_iam_policy_document" "bucket" {
  dynamic "statement" {
    for_each = var.tls_only_policy ? [1] : []
    content {
      sid       = "DenyInsecureTransport"
      effect    = "Deny"
      actions   = ["s3:*"]
      resources = [aws_s3_bucket.data.arn, "${aws_s3_bucket.data.arn}/*"]

      principals {
        type        = "*"
        identifiers = ["*"]
      }

      condition {
        test     = "Bool"
        variable = "aws:SecureTransport"
        values   = ["false"]
      }
    }
  }

  # Write-once: under these prefixes an object is only ever created, never replaced. A
  # PutObject must carry `If-None-Match: *` (S3 then refuses it when the key exists), so
  # whoever may write there still cannot overwrite. Multipart uploads and copies carry no
  # such header: they are refused here, and nothing of ours uses them.
  dynamic "statement" {
    for_each = length(var.write_once_prefixes) > 0 ? [1] : []
    content {
      sid       = "DenyOverwrites"
      effect    = "Deny"
      actions   = ["s3:PutObject"]
      resources = [for p in var.write_once_prefixes : "${aws_s3_bucket.data.arn}/${p}*"]

      principals {
        type        = "*"
        identifiers = ["*"]
      }

      condition {
        test     = "Null"
        variable = "s3:if-none-match"
        values   = ["true"]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  count = var.tls_only_policy || length(var.write_once_prefixes) > 0 ? 1 : 0

  bucket = aws_s3_bucket.data.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.data]
}

moved {
  from = aws_s3_bucket_policy.tls_only
  to   = aws_s3_bucket_policy.this
}
