# Per-environment settings for dev: the single source of truth, read by OpenTofu
# and by the smartstack CLI alike.
environment        = "dev"
log_retention_days = 7

# Deploy policy (read by the pipeline): dev is deployed automatically on merge.
promotes_from        = ""
require_approval     = false
approver_must_differ = false
protect_from_destroy = false

# Functions
api_memory_mb                = 256
api_timeout_seconds          = 10
ai_processor_memory_mb       = 512
ai_processor_timeout_seconds = 120
migrator_timeout_seconds     = 300
ai_max_receive_count         = 3
bedrock_model_ids            = ["anthropic.claude-3-haiku-20240307-v1:0"]

# Network: no NAT in dev; the functions reach SSM and Bedrock through endpoints.
vpc_cidr                = "10.10.0.0/16"
enable_nat_gateway      = false
single_nat_gateway      = true
vpc_interface_endpoints = ["ssm", "bedrock-runtime"]

# Database
db_instance_class        = "db.t4g.micro"
db_allocated_storage     = 20
db_max_allocated_storage = 0
db_multi_az              = false
db_deletion_protection   = false
db_backup_retention_days = 1
db_performance_insights  = false

# Migrations (the migrator function): a statement waiting longer than this for a lock
# fails, rather than queue the application's queries behind a blocked ALTER.
migration_lock_timeout_ms      = 5000
migration_statement_timeout_ms = 60000

# Storage
data_noncurrent_version_expiration_days = 7
data_bucket_force_destroy               = true

# Alarms
error_rate_threshold_percent = 10
duration_threshold_fraction  = 0.9
api_5xx_threshold            = 20
alarm_period_seconds         = 300
alarm_evaluation_periods     = 1
