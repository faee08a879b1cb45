"""Core: what every layer shares and that touches no AWS.

Names (``naming``), settings (``config``), the error tree (``errors``),
redaction (``redact``), tfvars reading (``tfvars``) and per-environment
settings from them (``environments``), ``KEY=value`` files (``envfile``) and
the application's service table (``services``).  Nothing here imports
boto3 or another layer of the package.
"""
