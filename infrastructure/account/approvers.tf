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

  statement {
    sid       = "ReadReleases"
    actions   = ["s3:GetObject"]
    resources = ["${module.artifacts.bucket_arn}/releases/*"]
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
}

resource "aws_iam_group" "approvers" {
  name = "${var.project}-approvers"
}

resource "aws_iam_group_policy" "approvers" {
  name   = "${var.project}-approvers"
  group  = aws_iam_group.approvers.name
  policy = data.aws_iam_policy_document.approvers.json
}
