"""The local platform's main job: start it, bootstrap the backend, apply the stacks.

The account stack goes first (the environments' roles, keys and buckets come
from it).  The environments then plan and apply side by side: each has its own
state key, lock and data directory, so nothing they touch is shared.  A
failure in one environment is reported with its log; the others finish.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from smartstack.core.config import Settings
from smartstack.core.environments import environment_names
from smartstack.core.errors import SmartStackError
from smartstack.core.naming import ACCOUNT_STACK
from smartstack.infra.stack import StackProgressHook, StackResult, apply_stack
from smartstack.infra.state_backend import BootstrapReport, bootstrap_backend
from smartstack.local import platform


@dataclass(frozen=True)
class LocalUpResult:
    status: platform.PlatformStatus
    backend: BootstrapReport


@dataclass(frozen=True)
class StackFailure:
    stack: str
    error: str  # the one-line message, which names the full log


@dataclass(frozen=True)
class MainJobResult:
    local: LocalUpResult
    stacks: tuple[StackResult, ...]
    failures: tuple[StackFailure, ...] = ()


def local_up(settings: Settings) -> LocalUpResult:
    """Start what is down; the local AWS is in memory, so reconcile the backend every time."""
    status = platform.up(settings)
    return LocalUpResult(status, bootstrap_backend(settings))


def main_job(
    settings: Settings,
    progress: Callable[[str], None],
    stack_progress: StackProgressHook | None = None,
    serial: bool = False,
) -> MainJobResult:
    """``smartstack up``: the account stack, then every environment (in parallel unless serial)."""
    progress("starting the local platform and bootstrapping the state backend")
    local = local_up(settings)
    progress(f"applying the {ACCOUNT_STACK} stack")
    account = apply_stack(settings, ACCOUNT_STACK, progress=stack_progress)
    envs = environment_names(settings.configs_dir)
    progress(f"applying {', '.join(envs)}" + (" one after the other" if serial else " in parallel"))

    def one(env: str) -> StackResult | StackFailure:
        try:
            return apply_stack(settings, env, progress=stack_progress)
        except SmartStackError as exc:
            return StackFailure(env, exc.message)

    if serial:
        outcomes = [one(env) for env in envs]
    else:
        with ThreadPoolExecutor(max_workers=len(envs), thread_name_prefix="up") as pool:
            outcomes = list(pool.map(one, envs))
    return MainJobResult(
        local,
        (account, *(o for o in outcomes if isinstance(o, StackResult))),
        tuple(o for o in outcomes if isinstance(o, StackFailure)),
    )
