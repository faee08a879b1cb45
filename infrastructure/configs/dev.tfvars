# Per-environment settings for dev: the single source of truth, read by OpenTofu
# and by the smartstack CLI alike.
environment        = "dev"
log_retention_days = 7
promotes_from      = ""
