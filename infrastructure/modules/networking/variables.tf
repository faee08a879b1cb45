variable "name_prefix" {
  description = "Prefix of every resource name, smartstack-<env>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name_prefix))
    error_message = "name_prefix must be lowercase letters, digits and '-', e.g. smartstack-dev."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC; split into two public and two private subnets (/20s of a /16)."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR of /20 or larger, e.g. 10.10.0.0/16."
  }
}

variable "availability_zone_suffixes" {
  description = "Zones the subnets span, as suffixes of the region name (a, b -> us-east-1a, us-east-1b): a fixed set, never whatever zones AWS adds."
  type        = list(string)
  default     = ["a", "b"]

  validation {
    condition     = length(var.availability_zone_suffixes) >= 2 && length(var.availability_zone_suffixes) <= 3 && alltrue([for s in var.availability_zone_suffixes : can(regex("^[a-z]$", s))])
    error_message = "availability_zone_suffixes must list 2 or 3 single letters (RDS subnet groups need two zones)."
  }
}

variable "enable_nat_gateway" {
  description = "Give the private subnets outbound internet through NAT gateways (cost: one per AZ, or one when single_nat_gateway)."
  type        = bool
  default     = false
}

variable "single_nat_gateway" {
  description = "With enable_nat_gateway: one NAT gateway shared by every AZ (cheaper, one AZ of failure) instead of one per AZ."
  type        = bool
  default     = true
}

variable "interface_endpoints" {
  description = "AWS services reached from the private subnets through interface VPC endpoints (e.g. ssm, bedrock-runtime); how the functions reach AWS APIs without NAT."
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.interface_endpoints : can(regex("^[a-z0-9.-]+$", s))])
    error_message = "interface_endpoints holds service short names such as ssm, sqs, kms, bedrock-runtime."
  }
}

variable "tags" {
  description = "Tags added to every resource (the provider's default_tags come on top)."
  type        = map(string)
  default     = {}
}
