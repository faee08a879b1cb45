"""The application's services: what the build packages and the stacks run.

One table, read by the build (which packages go into each zip, which handler it
ships) and by the stacks' inputs (the handler each function is created with),
so the two can never disagree about an entry point.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    name: str
    packages: tuple[str, ...]  # package directories, relative to the repo root
    handler: str


SERVICES = (
    Service(
        "api",
        ("app/api/smartstack_api", "app/shared/smartstack_common"),
        "smartstack_api.handler.handler",
    ),
    Service(
        "ai-processor",
        ("app/ai_processor/smartstack_ai", "app/shared/smartstack_common"),
        "smartstack_ai.handler.handler",
    ),
)
