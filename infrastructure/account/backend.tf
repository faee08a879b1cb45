# Partial configuration, like the environment stack: `smartstack` passes bucket,
# region, lock table and KMS key at `tofu init`, with the key account/terraform.tfstate.
terraform {
  backend "s3" {
    encrypt = true
  }
}
