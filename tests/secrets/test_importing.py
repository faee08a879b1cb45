"""Import is all or nothing: plan first, validate first, roll back on a failure midway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smartstack.aws.environment import open_environment
from smartstack.aws.target import AwsTarget
from smartstack.core.config import Settings
from smartstack.core.redact import Redactor
from smartstack.secrets.errors import CancelledError, ImportFailedError, InvalidSecretsFileError
from smartstack.secrets.importing import (
    Action,
    ImportOptions,
    ImportPlan,
    apply_plan,
    import_file,
    plan_import,
    take_snapshot,
)
from tests.secrets.secrets_helpers import make_store, seed


def snapshot(aws: AwsTarget, env: str = "dev") -> dict[str, str]:
    return {k: v.value for k, v in make_store(aws, env, Redactor()).read_all().items()}


def yes(plan: ImportPlan) -> bool:
    return True


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_import_plans_then_applies(platform: Settings, aws: AwsTarget, tmp_path: Path) -> None:
    seed(make_store(aws, "dev", Redactor()), {"same-key": "same-value", "old-key": "old-value"})
    text = "SAME_KEY=same-value\nOLD_KEY=new-value\nNEW_KEY=added-value\n"
    path = write(tmp_path, "dev.env", text)
    seen: list[ImportPlan] = []
    result = import_file(
        open_environment(platform, "dev", Redactor()),
        path,
        ImportOptions(),
        lambda p: seen.append(p) is None,
    )
    assert result.applied
    assert [(c.key, c.action) for c in seen[0].changes] == [
        ("new-key", Action.ADD),
        ("old-key", Action.CHANGE),
        ("same-key", Action.UNCHANGED),
    ]
    assert "value" not in repr(seen[0])
    assert snapshot(aws) == {
        "same-key": "same-value",
        "old-key": "new-value",
        "new-key": "added-value",
    }


def test_import_with_nothing_to_change_asks_nothing(
    platform: Settings, aws: AwsTarget, tmp_path: Path
) -> None:
    seed(make_store(aws, "dev", Redactor()), {"same-key": "same-value"})
    path = write(tmp_path, "dev.json", '{"same-key": "same-value"}')
    result = import_file(
        open_environment(platform, "dev", Redactor()),
        path,
        ImportOptions(),
        lambda p: pytest.fail("asked"),
    )
    assert not result.applied


def test_declined_import_changes_nothing(
    platform: Settings, aws: AwsTarget, tmp_path: Path
) -> None:
    path = write(tmp_path, "dev.json", '{"new-key": "never-written"}')
    with pytest.raises(CancelledError):
        import_file(
            open_environment(platform, "dev", Redactor()), path, ImportOptions(), lambda p: False
        )
    assert snapshot(aws) == {}


@pytest.mark.parametrize(
    "text",
    [
        "GOOD_KEY=fine-value\nBAD-NAME=other-value\n",
        "GOOD_KEY=fine-value\nSHORT=abc\n",
        "GOOD_KEY=fine-value\nno equals sign here\n",
    ],
)
def test_a_bad_file_is_refused_before_anything_is_read_or_written(
    platform: Settings, aws: AwsTarget, tmp_path: Path, ssm_calls: list[str], text: str
) -> None:
    seed(make_store(aws, "dev", Redactor()), {"good-key": "original-value"})
    ssm_calls.clear()
    with pytest.raises(InvalidSecretsFileError, match="Nothing was changed"):
        import_file(
            open_environment(platform, "dev", Redactor()),
            write(tmp_path, "bad.env", text),
            ImportOptions(),
            yes,
        )
    assert ssm_calls == []
    assert snapshot(aws) == {"good-key": "original-value"}


def test_a_missing_file_is_a_usage_error(platform: Settings, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="cannot read"):
        import_file(
            open_environment(platform, "dev", Redactor()),
            tmp_path / "missing.env",
            ImportOptions(),
            yes,
        )


def _pin_at_version_limit(aws: AwsTarget, key: str) -> None:
    """A parameter Parameter Store refuses to overwrite: 100 versions, the oldest labelled."""
    ssm = aws.client("ssm")
    name = f"/smartstack/dev/{key}"
    for i in range(100):
        ssm.put_parameter(
            Name=name, Value=f"pinned-value-{i:03d}", Type="SecureString", Overwrite=True
        )
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["pinned"])


def test_a_failure_midway_rolls_back_to_the_previous_state(
    platform: Settings, aws: AwsTarget, tmp_path: Path
) -> None:
    seed(make_store(aws, "dev", Redactor()), {"a-key": "a-original", "z-key": "z-original"})
    _pin_at_version_limit(aws, "b-key")
    before = snapshot(aws)
    path = write(
        tmp_path,
        "dev.json",
        """{"a-key": "a-imported", "a-new": "a-new-imported",
        "b-key": "b-imported", "c-new": "c-new-imported", "z-key": "z-original"}""",
    )
    with pytest.raises(ImportFailedError) as info:
        import_file(open_environment(platform, "dev", Redactor()), path, ImportOptions(), yes)
    message = info.value.message
    assert "failed at 'b-key' (ParameterMaxVersionLimitExceeded)" in message
    assert "dev is as it was" in message
    assert "imported" not in message and "original" not in message
    assert snapshot(aws) == before


def test_prune_deletes_keys_missing_from_the_file(
    platform: Settings, aws: AwsTarget, tmp_path: Path
) -> None:
    seed(make_store(aws, "dev", Redactor()), {"kept-key": "kept-value", "gone-key": "gone-value"})
    path = write(tmp_path, "dev.json", '{"kept-key": "kept-value", "new-key": "new-value"}')
    seen: list[ImportPlan] = []
    import_file(
        open_environment(platform, "dev", Redactor()),
        path,
        ImportOptions(prune=True),
        lambda p: seen.append(p) is None,
    )
    assert [(c.key, c.action) for c in seen[0].changes] == [
        ("gone-key", Action.DELETE),
        ("kept-key", Action.UNCHANGED),
        ("new-key", Action.ADD),
    ]
    assert snapshot(aws) == {"kept-key": "kept-value", "new-key": "new-value"}


def test_a_failed_pruning_import_recreates_what_it_deleted(
    platform: Settings, aws: AwsTarget, tmp_path: Path
) -> None:
    store = make_store(aws, "dev", Redactor())
    store.write("a-gone", "a-gone-original", "arn:seed", "keep this description")
    _pin_at_version_limit(aws, "b-key")
    before = snapshot(aws)
    path = write(tmp_path, "dev.json", '{"b-key": "b-imported", "c-new": "c-new-imported"}')
    with pytest.raises(ImportFailedError, match="rolled back the 2 key"):
        import_file(
            open_environment(platform, "dev", Redactor()), path, ImportOptions(prune=True), yes
        )
    assert snapshot(aws) == before
    assert store.describe("a-gone").description == "keep this description"


class _InterruptedAfter:
    """The real store, with Ctrl-C arriving right after its ``n``-th write went through."""

    def __init__(self, store: Any, n: int) -> None:
        self.store, self.n, self.writes = store, n, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def write(self, *args: Any, **kwargs: Any) -> Any:
        done = self.store.write(*args, **kwargs)
        self.writes += 1
        if self.writes == self.n:
            raise KeyboardInterrupt
        return done


def test_ctrl_c_midway_rolls_back_to_the_previous_state(platform: Settings, aws: AwsTarget) -> None:
    store = make_store(aws, "dev", Redactor())
    seed(store, {"a-key": "a-original", "z-key": "z-original"})
    before = snapshot(aws)
    wanted = {"a-key": "a-imported", "b-new": "b-new-imported", "z-key": "z-imported"}
    taken = take_snapshot(store, sorted(wanted), prune=False)
    plan = plan_import("dev", "dev.json", wanted, taken, prune=False)

    with pytest.raises(ImportFailedError) as info:
        apply_plan(_InterruptedAfter(store, 2), plan, wanted, taken, "arn:aws:iam::1:user/op")

    assert "failed at 'b-new' (interrupted)" in info.value.message
    assert "dev is as it was" in info.value.message
    assert snapshot(aws) == before


def test_a_rolled_back_key_keeps_its_type_tier_and_description(
    platform: Settings, aws: AwsTarget
) -> None:
    """A key that is not a standard SecureString (a String, advanced tier, described) comes
    back as it was, not as a SecureString of the standard tier."""
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/smartstack/dev/a-plain", Value="plain-original", Type="String",
                      Tier="Advanced", Description="set by hand")  # fmt: skip
    store = make_store(aws, "dev", Redactor())
    wanted = {"a-plain": "plain-imported", "b-new": "b-new-imported"}
    taken = take_snapshot(store, sorted(wanted), prune=False)
    plan = plan_import("dev", "dev.json", wanted, taken, prune=False)

    with pytest.raises(ImportFailedError, match="dev is as it was"):
        apply_plan(_InterruptedAfter(store, 2), plan, wanted, taken, "arn:aws:iam::1:user/op")

    restored = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": ["/smartstack/dev/a-plain"]}]
    )["Parameters"][0]
    assert (restored["Type"], restored["Tier"], restored["Description"]) == (
        "String", "Advanced", "set by hand"
    )  # fmt: skip
    assert ssm.get_parameter(Name="/smartstack/dev/a-plain")["Parameter"]["Value"] == (
        "plain-original"
    )
