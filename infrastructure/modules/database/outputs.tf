output "instance_identifier" {
  description = "RDS instance identifier, smartstack-<env>-db."
  value       = aws_db_instance.this.identifier
}

output "instance_arn" {
  description = "ARN of the RDS instance."
  value       = aws_db_instance.this.arn
}

output "address" {
  description = "Host name of the instance."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the instance."
  value       = aws_db_instance.this.port
}

output "subnet_group_name" {
  description = "DB subnet group."
  value       = aws_db_subnet_group.this.name
}

output "parameter_names" {
  description = "Connection parameters written for the applications, by key."
  value       = { for k, p in aws_ssm_parameter.connection : k => p.name }
}

output "password_parameter_name" {
  description = "The parameter the pipeline must write before apply."
  value       = "${var.parameter_path}/db-password"
}
