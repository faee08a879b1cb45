"""The Parameter Store backend against the local AWS: batching, tags, isolation, retries."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from smartstack.aws.target import AwsTarget
from smartstack.core.redact import MASK, Redactor
from smartstack.secrets.errors import InvalidKeyError, KmsKeyMissingError, SecretNotFoundError
from smartstack.secrets.store import TAG_AT, TAG_BY, SsmSecretStore
from tests.secrets.secrets_helpers import make_store, seed

WHO = "arn:aws:iam::123456789012:user/alice"


def test_write_stores_a_securestring_with_the_environment_key_and_tags(
    dev_store: SsmSecretStore, kms_aliases: AwsTarget
) -> None:
    assert dev_store.write("db-password", "s3cret-value", WHO, "the database") == 1
    ssm = kms_aliases.client("ssm")
    raw = ssm.get_parameter(Name="/smartstack/dev/db-password", WithDecryption=True)["Parameter"]
    assert raw["Type"] == "SecureString"
    assert raw["Value"] == "s3cret-value"
    described = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": ["/smartstack/dev/db-password"]}]
    )["Parameters"][0]
    assert described["KeyId"] == "alias/smartstack-dev"
    tags = ssm.list_tags_for_resource(
        ResourceType="Parameter", ResourceId="/smartstack/dev/db-password"
    )["TagList"]
    by_key = {t["Key"]: t["Value"] for t in tags}
    assert by_key[TAG_BY] == WHO
    assert by_key[TAG_AT].endswith("+00:00")


def test_overwrite_bumps_the_version_and_keeps_the_description(dev_store: SsmSecretStore) -> None:
    dev_store.write("db-password", "first-value", WHO, "the database")
    assert dev_store.write("db-password", "second-value", "arn:bob") == 2
    meta = dev_store.describe("db-password")
    assert (meta.version, meta.modified_by, meta.description) == (2, "arn:bob", "the database")


def test_writes_register_values_with_the_redactor(
    dev_store: SsmSecretStore, redactor: Redactor
) -> None:
    dev_store.write("api-key", "registered-on-write", WHO)
    assert redactor.redact("x registered-on-write y") == f"x {MASK} y"


def test_reads_register_values_with_the_redactor(kms_aliases: AwsTarget) -> None:
    seed(make_store(kms_aliases, "dev", Redactor()), {"api-key": "registered-on-read"})
    fresh = Redactor()
    store = make_store(kms_aliases, "dev", fresh)
    assert store.read_all()["api-key"].value == "registered-on-read"
    assert fresh.redact("registered-on-read") == MASK


def test_secret_value_repr_hides_the_value(dev_store: SsmSecretStore) -> None:
    dev_store.write("api-key", "never-in-repr", WHO)
    assert "never-in-repr" not in repr(dev_store.read(["api-key"]))


def test_list_is_batched_and_fetches_no_values(
    dev_store: SsmSecretStore, ssm_calls: list[str]
) -> None:
    seed(dev_store, {f"key-{i:03d}": f"value-{i:03d}" for i in range(120)})
    ssm_calls.clear()
    listed = dev_store.list_metadata()
    assert [m.key for m in listed] == [f"key-{i:03d}" for i in range(120)]
    # We ask for pages of 50 (AWS's maximum); the local AWS answers in pages of 10.
    assert set(ssm_calls) == {"DescribeParameters"}
    assert len(ssm_calls) <= 120 // 10 + 1  # at most one trailing empty page
    assert {m.version for m in listed} == {1}


def test_read_all_uses_pages_of_ten(dev_store: SsmSecretStore, ssm_calls: list[str]) -> None:
    seed(dev_store, {f"key-{i:02d}": f"value-{i:02d}" for i in range(35)})
    ssm_calls.clear()
    values = dev_store.read_all()
    assert {k: v.value for k, v in values.items()} == {
        f"key-{i:02d}": f"value-{i:02d}" for i in range(35)
    }
    assert ssm_calls == ["GetParametersByPath"] * 4


def test_read_batches_names_by_ten_and_skips_missing(
    dev_store: SsmSecretStore, ssm_calls: list[str]
) -> None:
    seed(dev_store, {f"key-{i:02d}": f"value-{i:02d}" for i in range(15)})
    ssm_calls.clear()
    found = dev_store.read([f"key-{i:02d}" for i in range(25)])
    assert sorted(found) == [f"key-{i:02d}" for i in range(15)]
    assert ssm_calls == ["GetParameters"] * 3


def test_environments_do_not_see_each_other(kms_aliases: AwsTarget) -> None:
    dev = make_store(kms_aliases, "dev", Redactor())
    prod = make_store(kms_aliases, "prod", Redactor())
    seed(prod, {"jwt-secret": "prod-only-value"})
    seed(dev, {"jwt-secret": "dev-only-value"})
    # A nested parameter under dev is not a key of dev (list is one level only).
    kms_aliases.client("ssm").put_parameter(
        Name="/smartstack/dev/nested/x", Value="nested-value", Type="String"
    )
    assert [m.key for m in dev.list_metadata()] == ["jwt-secret"]
    assert dev.read_all()["jwt-secret"].value == "dev-only-value"
    assert list(dev.read_all()) == ["jwt-secret"]


@pytest.mark.parametrize("key", ["../prod/jwt-secret", "/smartstack/prod/jwt-secret", "a/b"])
def test_keys_outside_the_environment_are_refused_before_any_call(
    dev_store: SsmSecretStore, ssm_calls: list[str], key: str
) -> None:
    for attempt in (
        lambda: dev_store.write(key, "would-be-value", WHO),
        lambda: dev_store.read([key]),
        lambda: dev_store.describe(key),
        lambda: dev_store.delete(key),
        lambda: dev_store.history(key),
    ):
        with pytest.raises(InvalidKeyError):
            attempt()
    assert ssm_calls == []


def test_missing_keys_raise_not_found(dev_store: SsmSecretStore) -> None:
    for attempt in (
        lambda: dev_store.describe("nope"),
        lambda: dev_store.delete("nope"),
        lambda: dev_store.history("nope"),
    ):
        with pytest.raises(SecretNotFoundError, match="no secret 'nope' in environment dev"):
            attempt()


def test_history_lists_versions_without_values(dev_store: SsmSecretStore) -> None:
    for value in ("version-one", "version-two", "version-three"):
        dev_store.write("db-password", value, WHO)
    history = dev_store.history("db-password")
    assert [h.version for h in history] == [1, 2, 3]
    assert history[-1].modified_by == WHO
    assert all("version-" not in repr(h) for h in history)


def test_missing_kms_key_is_a_clear_error(aws: AwsTarget) -> None:
    store = make_store(aws, "dev", Redactor())
    with pytest.raises(KmsKeyMissingError) as info:
        store.check_key_exists()
    assert "alias/smartstack-dev" in info.value.message
    assert "account stack" in info.value.message


def test_the_client_retries_throttling_with_adaptive_backoff(dev_store: SsmSecretStore) -> None:
    """Two throttled answers, then the real local AWS: the call still succeeds."""
    retries = dev_store.ssm.meta.config.retries
    assert retries["mode"] == "adaptive" and retries["total_max_attempts"] >= 5
    dev_store.write("db-password", "after-throttling", WHO)
    throttled: list[int] = []

    def throttle(request: Any, **_: Any) -> AWSResponse | None:
        if len(throttled) < 2:
            throttled.append(1)
            body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
            return AWSResponse(
                request.url, 400, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(body)
            )
        return None

    events = dev_store.ssm.meta.events
    events.register_first("before-send.ssm.GetParameters", throttle)
    try:
        assert dev_store.read(["db-password"])["db-password"].value == "after-throttling"
    finally:
        events.unregister("before-send.ssm.GetParameters", throttle)
    assert len(throttled) == 2


class _Raw:
    """The minimal raw body botocore reads from a response."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body
