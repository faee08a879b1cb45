"""Use-cases behind ``smartstack secrets``: one function per command.

Each function takes the command's :class:`EnvironmentContext` (the environment
name was checked when it was opened), validates its key before it builds a
store, so a bad key is refused before any AWS call, and turns AWS failures into
one-line errors.  Values are registered with the context's redactor by the store.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from smartstack.aws.environment import EnvironmentContext
from smartstack.aws.errors import error_code, error_message
from smartstack.core.errors import CommandFailedError, UsageError
from smartstack.secrets.errors import CancelledError
from smartstack.secrets.formats import Format, render
from smartstack.secrets.keys import check_key, check_value, check_writable, env_var_name
from smartstack.secrets.store import SecretMetadata, SecretValue, SsmSecretStore


@dataclass(frozen=True)
class SecretChange:
    env: str
    key: str
    action: str  # set | deleted
    version: int | None = None


@dataclass(frozen=True)
class EnvironmentDiff:
    """Keys one environment has and the other lacks: what blocks a promotion."""

    env_a: str
    env_b: str
    only_in_a: tuple[str, ...]
    only_in_b: tuple[str, ...]
    in_both: int


@dataclass(frozen=True)
class ExportResult:
    env: str
    format: Format
    count: int
    path: Path | None


@contextmanager
def aws_errors(env: str) -> Iterator[None]:
    """AWS failures as one-line errors naming the environment (the renderer masks values)."""
    try:
        yield
    except ClientError as exc:
        raise CommandFailedError(
            f"Parameter Store in {env}: {exc.operation_name} failed: "
            f"{error_code(exc, 'error')}: {error_message(exc)}"
        ) from None
    except BotoCoreError as exc:
        raise CommandFailedError(f"AWS call for {env} failed: {type(exc).__name__}.") from None


def open_store(environment: EnvironmentContext) -> SsmSecretStore:
    """The environment's store, acting through its role when roles are enabled."""
    with aws_errors(environment.name):
        target = environment.target
        return SsmSecretStore(environment.name, target, environment.redactor, environment.project)


def set_secret(
    environment: EnvironmentContext, key: str, value: str, description: str | None
) -> SecretChange:
    environment.redactor.register(value)
    check_writable(key)
    check_value(key, value)
    store = open_store(environment)
    env = environment.name
    with aws_errors(env):
        store.check_key_exists()
        version = store.write(key, value, store.caller(), description)
    return SecretChange(env, key, "set", version)


def get_secret(
    environment: EnvironmentContext, key: str, reveal: bool
) -> tuple[SecretMetadata, SecretValue | None]:
    """Metadata, and the value only when asked for by ``reveal``."""
    check_key(key)
    store = open_store(environment)
    with aws_errors(environment.name):
        meta = store.describe(key)
        value = store.read([key]).get(key) if reveal else None
    return meta, value


def list_secrets(environment: EnvironmentContext) -> list[SecretMetadata]:
    store = open_store(environment)
    with aws_errors(environment.name):
        return store.list_metadata()


def secret_history(environment: EnvironmentContext, key: str) -> list[SecretMetadata]:
    check_key(key)
    store = open_store(environment)
    with aws_errors(environment.name):
        return store.history(key)


def delete_secret(
    environment: EnvironmentContext, key: str, confirm: Callable[[str], bool]
) -> SecretChange:
    """Delete after ``confirm`` agrees; a missing key fails before the question."""
    check_writable(key)
    store = open_store(environment)
    env = environment.name
    with aws_errors(env):
        meta = store.describe(key)
        if not confirm(f"delete {key} (version {meta.version}) from {env}?"):
            raise CancelledError(f"nothing deleted from {env}; pass --yes to skip the question.")
        store.delete(key)
    return SecretChange(env, key, "deleted", meta.version)


def diff_environments(a: EnvironmentContext, b: EnvironmentContext) -> EnvironmentDiff:
    """Compare key sets only: values are never read."""
    keys: list[set[str]] = []
    for environment in (a, b):
        store = open_store(environment)
        with aws_errors(environment.name):
            keys.append({m.key for m in store.list_metadata()})
    only_a, only_b = keys[0] - keys[1], keys[1] - keys[0]
    return EnvironmentDiff(
        a.name, b.name, tuple(sorted(only_a)), tuple(sorted(only_b)), len(keys[0] & keys[1])
    )


def read_values(environment: EnvironmentContext) -> dict[str, str]:
    """Every value in the environment (batched reads), for export and exec."""
    store = open_store(environment)
    with aws_errors(environment.name):
        return {k: v.value for k, v in store.read_all().items()}


def check_export_target(env: str, output: Path | None, to_stdout: bool, force: bool) -> None:
    """Values leave only where asked: exactly one of a file or stdout."""
    if (output is None) == (not to_stdout):
        raise UsageError(
            f"choose where the values of {env} go: --output FILE (written with mode 0600) "
            "or --stdout, not both and not neither."
        )
    if output is not None and output.exists() and not force:
        raise UsageError(f"{output} exists; pass --force to overwrite it or pick another file.")


def export_secrets(
    environment: EnvironmentContext, fmt: Format, output: Path | None
) -> tuple[ExportResult, str]:
    """The rendered export, written to ``output`` (mode 0600) when one is given."""
    values = read_values(environment)
    text = render(values, fmt)
    if output is not None:
        write_private(output, text)
    return ExportResult(environment.name, fmt, len(values), output), text


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, since it holds secret values.  A symbolic link
    there is refused, not followed: it could point the secrets anywhere the caller may write."""
    if path.is_symlink():
        raise UsageError(f"{path} is a symbolic link; write the secrets to a plain file.")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}.") from None


# Variables that decide what a process runs or loads rather than what it reads: a secret
# writer (the dev role) setting one would run code on the operator's machine.
PROCESS_CONTROL = frozenset({
    "PATH", "HOME", "SHELL", "IFS", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS4",
    "PROMPT_COMMAND", "CDPATH", "TMPDIR", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP",
    "PYTHONINSPECT", "PYTHONUSERBASE", "PERL5LIB", "PERL5OPT", "PERLLIB", "RUBYLIB", "RUBYOPT",
    "NODE_OPTIONS", "NODE_PATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
    "CLASSPATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_EXEC_PATH", "GIT_CONFIG_GLOBAL",
    "SSH_ASKPASS", "EDITOR", "VISUAL", "PAGER", "GCONV_PATH", "LOCPATH", "NLSPATH",
})  # fmt: skip
_PROCESS_CONTROL_PREFIXES = ("LD_", "DYLD_", "BASH_FUNC_", "GIT_CONFIG_")


def controls_the_process(name: str) -> bool:
    return name in PROCESS_CONTROL or name.startswith(_PROCESS_CONTROL_PREFIXES)


def child_environment(
    values: Mapping[str, str],
    base: Mapping[str, str],
    warn: Callable[[str], None],
    allow_override: Collection[str] = (),
) -> dict[str, str]:
    """``base`` plus one variable per secret; a secret wins over an inherited variable.

    A secret that would set a variable controlling the process (``PATH``, ``LD_PRELOAD``,
    ``BASH_ENV`` …) is refused unless its name is in ``allow_override``."""
    names = {key: env_var_name(key) for key in values}
    refused = [
        (key, name)
        for key, name in names.items()
        if controls_the_process(name) and name not in allow_override
    ]
    if refused:
        key, name = refused[0]
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise UsageError(
            f"the secret {key} would set {name}{more}, which decides what the command runs; "
            f"nothing was run: pass --allow-override {name} if that is intended."
        )
    env = dict(base)
    for key, value in values.items():
        name = names[key]
        if name in env:
            warn(f"{name} is set in the calling environment; the secret {key} replaces it.")
        env[name] = value
    return env


def exec_with_secrets(
    environment: EnvironmentContext,
    argv: Sequence[str],
    warn: Callable[[str], None],
    allow_override: Collection[str] = (),
) -> int:
    """Run ``argv`` with the environment's secrets as variables; its exit status."""
    if not argv:
        raise UsageError(
            f"no command given: use `smartstack secrets exec {environment.name} -- COMMAND ...`."
        )
    values = read_values(environment)
    child_env = child_environment(values, os.environ, warn, allow_override)
    try:
        completed = subprocess.run(list(argv), env=child_env, check=False)
    except OSError as exc:
        raise CommandFailedError(f"cannot run '{argv[0]}': {exc.strerror}.") from None
    code = completed.returncode
    return 128 - code if code < 0 else code
