"""Key validation, parameter naming and the env-var rule (pure functions, no AWS)."""

from __future__ import annotations

import string

import pytest

from smartstack.core.errors import UsageError
from smartstack.secrets.errors import InvalidKeyError
from smartstack.secrets.keys import (
    ALLOWED_KEY_CHARACTERS,
    MAX_KEY_LENGTH,
    check_key,
    check_value,
    env_var_name,
    key_from_env_var,
    key_from_parameter,
    parameter_name,
)


@pytest.mark.parametrize("key", ["db-password", "a", "jwt-secret", "api2-key", "x9", "a--b"])
def test_valid_keys_pass(key: str) -> None:
    assert check_key(key) == key
    assert parameter_name("dev", key) == f"/smartstack/dev/{key}"


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../prod/x",
        "/smartstack/prod/x",
        "a/b",
        "..",
        "a..b",
        "DB_PASSWORD",
        "Db-password",
        "-lead",
        "trail-",
        "9lives",
        "has space",
        "dot.ted",
        "under_score",
        "ümlaut",
        "a\nb",
        "x" * (MAX_KEY_LENGTH + 1),
    ],
)
def test_invalid_keys_are_refused_with_the_allowed_characters(key: str) -> None:
    with pytest.raises(InvalidKeyError) as info:
        parameter_name("dev", key)
    assert ALLOWED_KEY_CHARACTERS in info.value.message
    assert "\n" not in info.value.message


def test_keys_outside_the_environment_explain_why() -> None:
    with pytest.raises(InvalidKeyError, match=r"no '/' and no '\.\.'"):
        check_key("../prod/jwt-secret")


def test_parameter_names_stay_inside_the_environment_prefix() -> None:
    assert parameter_name("prod", "jwt-secret") == "/smartstack/prod/jwt-secret"
    with pytest.raises(UsageError):
        parameter_name("../prod", "x")
    assert key_from_parameter("dev", "/smartstack/dev/db-password") == "db-password"
    with pytest.raises(InvalidKeyError):
        key_from_parameter("dev", "/smartstack/prod/db-password")


def test_env_var_rule_examples() -> None:
    assert env_var_name("db-password") == "DB_PASSWORD"
    assert key_from_env_var("DB_PASSWORD") == "db-password"
    assert env_var_name("api2-key") == "API2_KEY"


def _all_keys(alphabet: str, length: int) -> list[str]:
    keys = [""]
    for _ in range(length):
        keys = [k + c for k in keys for c in alphabet]
    return keys


def test_env_var_rule_is_a_bijection_on_valid_keys() -> None:
    """Exhaustive over short strings: key -> name -> key round-trips, names are distinct,
    and every valid name maps back to a valid key."""
    key_alphabet = "ab9-"
    name_alphabet = "AB9_"
    keys = [k for n in range(1, 5) for k in _all_keys(key_alphabet, n) if _valid_key(k)]
    names = {env_var_name(k) for k in keys}
    assert len(names) == len(keys)
    for key in keys:
        assert key_from_env_var(env_var_name(key)) == key
    valid_names = [n for m in range(1, 5) for n in _all_keys(name_alphabet, m) if _valid_name(n)]
    assert set(valid_names) == names
    for name in valid_names:
        assert env_var_name(key_from_env_var(name)) == name


def _valid_key(key: str) -> bool:
    try:
        check_key(key)
        return True
    except InvalidKeyError:
        return False


def _valid_name(name: str) -> bool:
    try:
        key_from_env_var(name)
        return True
    except InvalidKeyError:
        return False


@pytest.mark.parametrize("name", ["db_password", "_X", "X_", "9X", "X-Y", "X Y", ""])
def test_names_that_no_key_maps_to_are_refused(name: str) -> None:
    with pytest.raises(InvalidKeyError, match="uppercase letters"):
        key_from_env_var(name)


def test_values_too_short_or_too_long_are_refused_without_echoing_them() -> None:
    for value in ("abc", "v" * 5000, "nul\x00byte"):
        with pytest.raises(UsageError) as info:
            check_value("db-password", value)
        assert value not in info.value.message
    assert check_value("db-password", string.ascii_letters) == string.ascii_letters
