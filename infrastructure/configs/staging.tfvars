# Per-environment settings for staging: the single source of truth, read by OpenTofu
# and by the smartstack CLI alike.
environment        = "staging"
log_retention_days = 14

# Deploy policy (read by the pipeline): deployed by hand after dev.
promotes_from        = "dev"
require_approval     = false
approver_must_differ = false
protect_from_destroy = false

# Functions
api_memory_mb                = 512
api_timeout_seconds          = 10
ai_processor_memory_mb       = 1024
ai_processor_timeout_seconds = 120
migrator_timeout_seconds     = 300
ai_max_receive_count         = 3
bedrock_model_ids            = ["anthropic.claude-3-haiku-20240307-v1:0"]

# Network: one shared NAT gateway (a production-like path at half the cost).
vpc_cidr                = "10.20.0.0/16"
enable_nat_gateway      = true
single_nat_gateway      = true
vpc_interface_endpoints = []

# Database
db_instance_class        = "db.t4g.small"
db_allocated_storage     = 20
db_max_allocated_storage = 50
db_multi_az              = false
db_deletion_protection   = false
db_backup_retention_days = 7
db_performance_insights  = false

# Migrations (the migrator function): a statement waiting longer than this for a lock
# fails, rather than queue the application's queries behind a blocked ALTER.
migration_lock_timeout_ms      = 5000
migration_statement_timeout_ms = 120000

# Storage
data_noncurrent_version_expiration_days = 14
data_bucket_force_destroy               = false

# Alarms
error_rate_threshold_percent = 5
duration_threshold_fraction  = 0.8
api_5xx_threshold            = 10
alarm_period_seconds         = 300
alarm_evaluation_periods     = 1
