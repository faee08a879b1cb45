"""Secret keys: what a key may be, where it lives, and its environment-variable name.

A key is the last part of ``/smartstack/{env}/{key}``.  Keys are flat and use
only ``a-z``, ``0-9`` and ``-`` so that

* no key can climb out of its environment (no ``/``, no ``..``), checked here
  before any AWS call is made, and
* the environment-variable rule is a bijection: ``db-password`` <->
  ``DB_PASSWORD`` (lowercase <-> uppercase, ``-`` <-> ``_``).  Because keys
  have no ``_`` and no uppercase, and names have no ``-`` and no lowercase,
  each side maps back to exactly one key.
"""

from __future__ import annotations

import re

from smartstack.core.errors import UsageError
from smartstack.core.naming import parameter_prefix
from smartstack.secrets.errors import InvalidKeyError

MAX_KEY_LENGTH = 64
MIN_VALUE_LENGTH = 4  # the Redactor ignores shorter values, so they could not be masked
MAX_VALUE_LENGTH = 4096  # Parameter Store's standard tier

ALLOWED_KEY_CHARACTERS = "lowercase letters a-z, digits 0-9 and '-'"
_KEY_RE = re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?")
_ENV_VAR_RE = re.compile(r"[A-Z](?:[A-Z0-9_]*[A-Z0-9])?")


# Parameters the stacks write (the database module, the environment root): a value set
# here would never reach RDS, and the next apply would put OpenTofu's back.
INFRASTRUCTURE_OWNED = frozenset(
    {"db-host", "db-port", "db-name", "db-username", "db-password", "db-sslmode", "environment"}
)


def check_writable(key: str) -> str:
    """``key`` if the ``secrets`` commands may change it; OpenTofu's parameters are refused."""
    check_key(key)
    if key in INFRASTRUCTURE_OWNED:
        raise UsageError(
            f"{key} is written by OpenTofu (the environment's stack), not by secrets; change "
            "it through the stack and a deploy."
        )
    return key


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid key, else explain the rule in one line."""
    if _KEY_RE.fullmatch(key) and len(key) <= MAX_KEY_LENGTH:
        return key
    shown = key if len(key) <= 80 and key.isprintable() else repr(key[:80])
    if "/" in key or ".." in key:
        why = "keys are flat names inside the environment's path: no '/' and no '..'"
    elif len(key) > MAX_KEY_LENGTH:
        why = f"keys are at most {MAX_KEY_LENGTH} characters"
    else:
        why = "keys start with a letter and do not end with '-'"
    raise InvalidKeyError(
        f"'{shown}' is not a valid secret key: {why}; use {ALLOWED_KEY_CHARACTERS} "
        "(e.g. db-password)."
    )


def parameter_name(env: str, key: str, project: str = "smartstack") -> str:
    """``/smartstack/{env}/{key}``, refusing any key that would land elsewhere."""
    prefix = parameter_prefix(env, project)
    name = prefix + check_key(key)
    if not name.startswith(prefix) or "/" in name[len(prefix) :]:
        raise InvalidKeyError(f"'{key}' would land outside {prefix}; use a flat key.")
    return name


def key_from_parameter(env: str, name: str, project: str = "smartstack") -> str:
    """The key part of a parameter name in ``env`` (as listed by Parameter Store)."""
    prefix = parameter_prefix(env, project)
    if not name.startswith(prefix):
        raise InvalidKeyError(f"parameter {name} is not in {prefix}.")
    return name[len(prefix) :]


def env_var_name(key: str) -> str:
    """``db-password`` -> ``DB_PASSWORD``; the inverse of :func:`key_from_env_var`."""
    return check_key(key).upper().replace("-", "_")


def key_from_env_var(name: str) -> str:
    """``DB_PASSWORD`` -> ``db-password``; refuses names no key maps to."""
    if not _ENV_VAR_RE.fullmatch(name) or len(name) > MAX_KEY_LENGTH:
        raise InvalidKeyError(
            f"'{name[:80]}' is not a secret variable name: use uppercase letters A-Z, digits "
            f"and '_', starting with a letter, not ending with '_', at most {MAX_KEY_LENGTH} "
            "characters (e.g. DB_PASSWORD for the key db-password)."
        )
    return name.lower().replace("_", "-")


def check_value(key: str, value: str) -> str:
    """Refuse values Parameter Store or the Redactor cannot handle; never echo the value."""
    if len(value) < MIN_VALUE_LENGTH:
        raise UsageError(
            f"the value for '{key}' is shorter than {MIN_VALUE_LENGTH} characters; such short "
            "values could not be masked in output, use a longer secret."
        )
    if len(value) > MAX_VALUE_LENGTH:
        raise UsageError(
            f"the value for '{key}' is longer than {MAX_VALUE_LENGTH} characters, the limit of "
            "a standard parameter; store a reference to a larger object instead."
        )
    if "\x00" in value:
        raise UsageError(f"the value for '{key}' contains a NUL character, which cannot be stored.")
    return value
