from __future__ import annotations

from smartstack.infra.tofu import BackendConfig, first_error

VALIDATION_FAILURE = """
Error: Invalid value for variable

  on configs/dev.tfvars line 2:
   2: log_retention_days = 8
    ├────────────────
    │ var.log_retention_days is 8

log_retention_days must be a value CloudWatch Logs accepts, e.g. 7, 14 or 30.

This was checked by the validation rule at variables.tf:38,3-13.
"""


def test_first_error_keeps_summary_and_detail_but_not_the_snippet() -> None:
    assert first_error(VALIDATION_FAILURE) == (
        "Invalid value for variable: "
        "log_retention_days must be a value CloudWatch Logs accepts, e.g. 7, 14 or 30."
    )


def test_first_error_without_a_diagnostic_gives_the_last_line() -> None:
    assert first_error("starting\nkilled\n") == "killed"
    assert first_error("") == "no output"


def test_backend_arguments_use_path_style_only_for_custom_endpoints() -> None:
    config = BackendConfig("b", "env/dev/terraform.tfstate", "us-east-1", "lock", "arn:k", False)
    args = config.as_args()
    assert "-backend-config=key=env/dev/terraform.tfstate" in args
    assert "-backend-config=dynamodb_table=lock" in args
    assert "-backend-config=encrypt=true" in args
    assert not [a for a in args if "use_path_style" in a]
    assert (
        "-backend-config=use_path_style=true"
        in BackendConfig("b", "k", "us-east-1", "lock", "arn:k", True).as_args()
    )
