# The account stack's settings (infrastructure/account): one state for the whole
# AWS account. Kept here, not in ../configs, because every file there is an
# environment. state_bucket and lock_table are passed by the runner (-var);
# left empty they follow the naming of `smartstack bootstrap`.
project           = "smartstack"
aws_region        = "us-east-1"
environments      = ["dev", "staging", "prod"]
github_repository = "smartstack/smartstack"

# Empty: the account root (arn:aws:iam::<account>:root) administers.
admin_principal_arns = []
