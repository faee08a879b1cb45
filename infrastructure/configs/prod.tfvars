# Per-environment settings for prod: the single source of truth, read by OpenTofu
# and by the smartstack CLI alike.
environment        = "prod"
log_retention_days = 30

# Deploy policy (read by the pipeline): manual approval by someone else.
promotes_from        = "staging"
require_approval     = true
approver_must_differ = true
protect_from_destroy = true

# Functions
api_memory_mb                = 1024
api_timeout_seconds          = 10
ai_processor_memory_mb       = 1024
ai_processor_timeout_seconds = 180
migrator_timeout_seconds     = 300
ai_max_receive_count         = 5
bedrock_model_ids            = ["anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0"]

# Network: a NAT gateway per AZ (no single point of failure).
vpc_cidr                = "10.30.0.0/16"
enable_nat_gateway      = true
single_nat_gateway      = false
vpc_interface_endpoints = []

# Database
db_instance_class        = "db.t4g.medium"
db_allocated_storage     = 50
db_max_allocated_storage = 200
db_multi_az              = true
db_deletion_protection   = true
db_backup_retention_days = 14
# Performance Insights: worth turning on in real AWS; off because the local AWS
# (moto) does not keep the setting and every plan would show a change.
db_performance_insights = false

# Migrations (the migrator function): a statement waiting longer than this for a lock
# fails, rather than queue the application's queries behind a blocked ALTER.
migration_lock_timeout_ms      = 3000
migration_statement_timeout_ms = 180000

# Storage
data_noncurrent_version_expiration_days = 30
data_bucket_force_destroy               = false

# Alarms
error_rate_threshold_percent = 2
duration_threshold_fraction  = 0.8
api_5xx_threshold            = 5
alarm_period_seconds         = 300
alarm_evaluation_periods     = 2
