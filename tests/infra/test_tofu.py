from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from smartstack.aws.target import AwsTarget
from smartstack.core.config import Settings
from smartstack.core.errors import CommandFailedError
from smartstack.infra.tofu import BackendConfig, LockNotReleasedError, Tofu, first_error
from smartstack.infra.toolchain import toolchain

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


LOCK_NOT_RELEASED = """
Apply complete! Resources: 3 added, 0 changed, 0 destroyed.

Error: Error releasing the state lock

Error message: operation error DynamoDB: DeleteItem, https response error StatusCode:
400, RequestID: 1, ConditionalCheckFailedException: The conditional request failed
"""


class _Finished(Tofu):
    """A runner whose ``tofu`` has already run and printed ``output``."""

    output = ""

    def _exec(self, args: Sequence[str], on_line: Any = None) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(list(args), 1, self.output, "")


def _finished(
    settings: Settings, aws: AwsTarget, tmp_path: Path, output: str, *, locked: bool
) -> _Finished:
    table = f"locks-{uuid.uuid4().hex[:8]}"
    ddb = aws.client("dynamodb")
    ddb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
    )  # fmt: skip
    if locked:
        ddb.put_item(TableName=table, Item={"LockID": {"S": "state/env/dev/terraform.tfstate"}})
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    backend = {"config": {"bucket": "state", "key": "env/dev/terraform.tfstate",
                          "dynamodb_table": table}}  # fmt: skip
    (data_dir / "terraform.tfstate").write_text(json.dumps({"backend": backend}))
    runner = _Finished(toolchain(settings), aws, tmp_path, data_dir, "stack dev")
    runner.output = output
    return runner


def test_an_apply_whose_lock_is_gone_after_a_failed_release_succeeds(
    running_platform: Settings, aws: AwsTarget, tmp_path: Path
) -> None:
    # A retried release (its first request deleted the lock) fails on a lock that is gone.
    _finished(running_platform, aws, tmp_path, LOCK_NOT_RELEASED, locked=False).apply(
        tmp_path / "plan"
    )


def test_an_apply_that_left_the_lock_held_fails(
    running_platform: Settings, aws: AwsTarget, tmp_path: Path
) -> None:
    runner = _finished(running_platform, aws, tmp_path, LOCK_NOT_RELEASED, locked=True)
    with pytest.raises(LockNotReleasedError, match="force-unlock"):
        runner.apply(tmp_path / "plan")


def test_any_other_failed_apply_fails(
    running_platform: Settings, aws: AwsTarget, tmp_path: Path
) -> None:
    output = "Error: creating S3 Bucket: AccessDenied\n"
    runner = _finished(running_platform, aws, tmp_path, output, locked=False)
    with pytest.raises(CommandFailedError, match="AccessDenied") as info:
        runner.apply(tmp_path / "plan")
    assert not isinstance(info.value, LockNotReleasedError)
