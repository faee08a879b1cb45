"""The local platform's main job: start it, bootstrap the backend, apply the stacks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from smartstack.core.config import Settings
from smartstack.infra.stack import StackResult, all_stacks, apply_stack
from smartstack.infra.state_backend import BootstrapReport, bootstrap_backend
from smartstack.local import platform


@dataclass(frozen=True)
class LocalUpResult:
    status: platform.PlatformStatus
    backend: BootstrapReport


@dataclass(frozen=True)
class MainJobResult:
    local: LocalUpResult
    stacks: tuple[StackResult, ...]


def local_up(settings: Settings) -> LocalUpResult:
    """Start what is down; the local AWS is in memory, so reconcile the backend every time."""
    status = platform.up(settings)
    return LocalUpResult(status, bootstrap_backend(settings))


def main_job(settings: Settings, progress: Callable[[str], None]) -> MainJobResult:
    progress("starting the local platform and bootstrapping the state backend")
    local = local_up(settings)
    results = []
    for stack in all_stacks(settings):
        progress(f"applying the {stack} stack")
        results.append(apply_stack(settings, stack))
    return MainJobResult(local, tuple(results))
