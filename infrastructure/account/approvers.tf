# <project>-approvers: the people who approve releases (`smartstack approve <env>
# <release>`). Administrators add each approver's own IAM user to the group; the
# approval then names that person, not a role session anyone could name. Each approver
# writes only their own partition, `approvals#<env>#<their user name>` (the policy
# variable ${aws:username}): the key says who approved, so nobody approves in another's
# name, and an environment's role (which writes `env#<env>` alone) cannot approve at all.

data "aws_iam_policy_document" "approvers" {
  # checkov:skip=CKV_AWS_356:"*" only for sts:GetCallerIdentity, which has no resource-level permissions
  source_policy_documents = [data.aws_iam_policy_document.read_pipeline_records.json]

  statement {
    sid       = "WhoAmI"
    actions   = ["sts:GetCallerIdentity"]
    resources = ["*"]
  }

  # The manifest, and the release's artifacts: what is approved can be read, and
  # `approve` obeys the deploy policy in the release's own infrastructure code.
  statement {
    sid       = "ReadReleases"
    actions   = ["s3:GetObject"]
    resources = ["${module.artifacts.bucket_arn}/releases/*", "${module.artifacts.bucket_arn}/artifacts/*"]
  }

  statement {
    sid       = "RecordApprovals"
    actions   = ["dynamodb:PutItem"]
    resources = [aws_dynamodb_table.deployments.arn]

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = [for e in var.approval_environments : "approvals#${e}#$${aws:username}"]
    }

    condition {
      test     = "Null"
      variable = "dynamodb:LeadingKeys"
      values   = ["false"]
    }
  }

  # Each approval's anchor (src/smartstack/pipeline/ledger_anchors.py), created once under
  # the approver's own partition's prefix (the bucket refuses a PutObject there without
  # If-None-Match). Approvers may delete nothing in the bucket.
  statement {
    sid       = "AnchorApprovals"
    actions   = ["s3:PutObject"]
    resources = [for e in var.approval_environments : "${module.artifacts.bucket_arn}/ledger-anchors/approvals#${e}#$${aws:username}/approval#*"]
  }

  # The anchors, which `verify-ledger` and `status` hold the records against: a listing
  # (each anchor's key holds its hash; no object is read).
  # unexercised: an approver's `status` or `verify-ledger` (`approve` reads no anchor)
  statement {
    sid       = "ListLedgerAnchors"
    actions   = ["s3:ListBucket"]
    resources = [module.artifacts.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["ledger-anchors/*"]
    }
  }
}

resource "aws_iam_group" "approvers" {
  name = "${var.project}-approvers"
}

resource "aws_iam_group_policy" "approvers" {
  name   = "${var.project}-approvers"
  group  = aws_iam_group.approvers.name
  policy = data.aws_iam_policy_document.approvers.json
}
