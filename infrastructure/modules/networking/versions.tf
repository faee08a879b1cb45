terraform {
  required_version = ">= 1.12.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0.0"

      # aws.untagged: the same account and region without default tags, for what the
      # environment roles may change but not tag (the VPC's default security group).
      configuration_aliases = [aws.untagged]
    }
  }
}
