# Per-environment settings for staging: the single source of truth, read by OpenTofu
# and by the smartstack CLI alike.
environment        = "staging"
log_retention_days = 14
promotes_from      = "dev"
