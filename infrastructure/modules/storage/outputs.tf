output "data_bucket_name" {
  description = "Name of the environment's data bucket."
  value       = aws_s3_bucket.data.id
}

output "data_bucket_arn" {
  description = "ARN of the environment's data bucket."
  value       = aws_s3_bucket.data.arn
}
