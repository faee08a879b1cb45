output "vpc_id" {
  description = "ID of the environment's VPC."
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "Public subnets, one per AZ (NAT gateways live here)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets, one per AZ (functions and the database)."
  value       = aws_subnet.private[*].id
}

output "lambda_security_group_id" {
  description = "Security group of the functions in the VPC."
  value       = aws_security_group.lambda.id
}

output "database_security_group_id" {
  description = "Security group of the database: 5432 from the functions only."
  value       = aws_security_group.database.id
}

output "nat_gateway_ids" {
  description = "NAT gateways (empty when enable_nat_gateway is false)."
  value       = aws_nat_gateway.this[*].id
}

output "interface_endpoint_ids" {
  description = "Interface VPC endpoints by service."
  value       = { for k, v in aws_vpc_endpoint.interface : k => v.id }
}
