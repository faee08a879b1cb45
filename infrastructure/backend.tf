# Partial configuration: `smartstack` passes bucket, key, region, lock table and
# KMS key at `tofu init`, one state key per environment (env/<env>/terraform.tfstate).
terraform {
  backend "s3" {
    encrypt = true
  }
}
