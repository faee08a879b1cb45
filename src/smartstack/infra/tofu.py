"""Runs the real ``tofu`` binary against a stack, one data directory per state.

Each (stack, environment) pair gets its own ``TF_DATA_DIR`` outside the
checkout, so environments never share a ``.terraform`` directory and may run
side by side.  The process environment comes from :class:`AwsTarget`, the
same variables boto3 uses.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from smartstack.aws.target import AwsTarget
from smartstack.core.errors import CommandFailedError, StateLockedError
from smartstack.infra.graceful import run_gracefully
from smartstack.infra.toolchain import Toolchain

_LOCK_FIELD = re.compile(r"^\s*(ID|Path|Operation|Who|Created):\s*(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class BackendConfig:
    bucket: str
    key: str
    region: str
    lock_table: str
    kms_key_id: str
    path_style: bool  # custom endpoints (the local AWS) serve buckets by path
    workspace_key_prefix: str | None = None  # the backend's default is "env:"

    def as_args(self) -> list[str]:
        pairs = {
            "bucket": self.bucket,
            "key": self.key,
            "region": self.region,
            "dynamodb_table": self.lock_table,
            "kms_key_id": self.kms_key_id,
            "encrypt": "true",
        }
        if self.path_style:
            pairs["use_path_style"] = "true"
        if self.workspace_key_prefix:
            pairs["workspace_key_prefix"] = self.workspace_key_prefix
        return [f"-backend-config={k}={v}" for k, v in pairs.items()]


@dataclass(frozen=True)
class PlanSummary:
    add: int
    change: int
    destroy: int
    plan_file: Path
    # (action, resource address) of every change, e.g. ("update", "module.x.aws_y.z").
    changes: tuple[tuple[str, str], ...] = ()

    @property
    def destroyed(self) -> tuple[str, ...]:
        """Addresses the plan deletes, replacements included."""
        return tuple(a for action, a in self.changes if action in ("delete", "replace"))

    @property
    def has_changes(self) -> bool:
        return bool(self.add or self.change or self.destroy)

    def describe(self) -> str:
        if not self.has_changes:
            return "no changes"
        return f"{self.add} to add, {self.change} to change, {self.destroy} to destroy"


@dataclass(frozen=True)
class Tofu:
    toolchain: Toolchain
    target: AwsTarget
    stack_dir: Path
    data_dir: Path
    label: str  # names the stack and environment in messages
    timeout_seconds: float = 3600.0  # a run past it gets SIGINT, as an interrupt does
    grace_seconds: float = 120.0  # for OpenTofu to write its state after SIGINT
    unlock_hint: str = "tofu force-unlock {lock_id}"  # how a person releases a dead run's lock

    def env(self) -> dict[str, str]:
        env = self.target.process_env()
        env.update(
            TF_CLI_CONFIG_FILE=str(self.toolchain.cli_config),
            TF_DATA_DIR=str(self.data_dir),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
        )
        return env

    def run(self, *args: str, on_line: Callable[[str], None] | None = None) -> str:
        """Run ``tofu <args>``; raise a readable error (lock holder included) on failure.

        ``on_line`` sees each line of output as it comes (stdout and stderr merged).
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        result = self._exec(args, on_line)
        if result.returncode != 0:
            raise self._failure(args, result.stdout + result.stderr)
        return result.stdout

    def _exec(
        self, args: Sequence[str], on_line: Callable[[str], None] | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(self.toolchain.tofu), f"-chdir={self.stack_dir}", *args, "-no-color"]
        return run_gracefully(
            argv, env=self.env(), what=f"tofu {args[0]} ({self.label})", on_line=on_line,
            timeout_seconds=self.timeout_seconds, grace_seconds=self.grace_seconds,
        )  # fmt: skip

    def init(self, backend: BackendConfig) -> None:
        self.run("init", "-input=false", "-reconfigure", *backend.as_args())

    def plan(
        self,
        var_file: Path,
        plan_file: Path,
        variables: Mapping[str, str] | None = None,
        destroy: bool = False,
    ) -> PlanSummary:
        args = [
            "plan",
            "-input=false",
            "-lock-timeout=0s",
            f"-var-file={var_file}",
            f"-out={plan_file}",
            *(f"-var={k}={v}" for k, v in (variables or {}).items()),
        ]
        if destroy:
            args.append("-destroy")
        self.run(*args)
        return self.summarize(plan_file)

    def summarize(self, plan_file: Path) -> PlanSummary:
        plan = json.loads(self.run("show", "-json", str(plan_file)))
        counts = {"create": 0, "update": 0, "delete": 0}
        changes: list[tuple[str, str]] = []
        for change in plan.get("resource_changes", []):
            actions = [a for a in change["change"]["actions"] if a in counts]
            for action in actions:
                counts[action] += 1
            if actions:
                action = "replace" if len(actions) == 2 else actions[0]
                changes.append((action, change["address"]))
        return PlanSummary(
            counts["create"], counts["update"], counts["delete"], plan_file, tuple(changes)
        )

    def apply(self, plan_file: Path, on_line: Callable[[str], None] | None = None) -> None:
        """Apply ``plan_file``.  An apply that completed but whose release of the state lock
        failed succeeds when no lock is held any more: the release was repeated (an SDK
        retry of a delete that had been done) and found the lock already gone."""
        try:
            self.run("apply", "-input=false", "-lock-timeout=0s", str(plan_file), on_line=on_line)
        except LockNotReleasedError:
            if self.lock_held() is not False:
                raise

    def lock_held(self) -> bool | None:
        """Whether the state lock of the initialized backend is held (None: cannot tell)."""
        try:
            backend = json.loads((self.data_dir / "terraform.tfstate").read_text())["backend"]
            config = backend["config"]
            lock_id = f"{config['bucket']}/{config['key']}"
            item = self.target.client("dynamodb").get_item(
                TableName=config["dynamodb_table"],
                Key={"LockID": {"S": lock_id}},
                ConsistentRead=True,
            )
        except (OSError, ValueError, KeyError, TypeError, ClientError):
            return None
        return "Item" in item

    def output(self) -> dict[str, object]:
        raw = json.loads(self.run("output", "-json"))
        return {name: item["value"] for name, item in raw.items()}

    def _failure(self, args: Sequence[str], output: str) -> Exception:
        if "Error acquiring the state lock" in output:
            fields = dict(_LOCK_FIELD.findall(output))
            return StateLockedError(
                f"{self.label}: the state is locked by {fields.get('Who', 'another run')} "
                f"since {fields.get('Created', 'an unknown time')} "
                f"(operation {fields.get('Operation', '?')}, lock id {fields.get('ID', '?')}); "
                "wait for it, or if that run is dead: "
                + self.unlock_hint.format(lock_id=fields.get("ID", "<lock id>"))
            )
        log = self.data_dir / f"tofu-{args[0]}.log"
        log.write_text(output)
        message = f"{self.label}: tofu {args[0]} failed: {first_error(output)} (full output: {log})"
        if "Error releasing the state lock" in output and "Apply complete!" in output:
            return LockNotReleasedError(
                message + "; the changes were applied, but the state stays locked until "
                "tofu force-unlock <lock id> releases it."
            )
        return CommandFailedError(message)


class LockNotReleasedError(CommandFailedError):
    """The apply completed; releasing the state lock afterwards failed."""

    code = "lock_not_released"


def first_error(output: str) -> str:
    """``summary: detail`` of the first diagnostic, without its source snippet."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Error: "):
            summary = line.removeprefix("Error: ").strip()
            for detail in lines[index + 1 :]:
                if detail.startswith("Error: "):
                    break
                if detail.strip() and not detail[0].isspace() and detail[0] not in "│╷╵":
                    return f"{summary}: {detail.strip()}"
            return summary
    tail = [ln for ln in lines if ln.strip()]
    return tail[-1].strip() if tail else "no output"
