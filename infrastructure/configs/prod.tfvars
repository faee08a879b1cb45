# Per-environment settings for prod: the single source of truth, read by OpenTofu
# and by the smartstack CLI alike.
environment        = "prod"
log_retention_days = 30
promotes_from      = "staging"
