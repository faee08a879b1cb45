"""The application's services: what the build packages and the stacks run.

One table, read by the build (which packages go into each zip, which handler it
ships) and by the stacks' inputs (the handler each function is created with),
so the two can never disagree about an entry point.  The functions' Lambda
runtime and architecture live here for the same reason: the build installs
wheels for them, the stacks create the functions with them, the local runner
runs the zips on that Python, and a deploy refuses a function that differs.
"""

from __future__ import annotations

from dataclasses import dataclass

RUNTIME = "python3.12"
"""Lambda runtime of every function (the stacks' ``lambda_runtime``)."""
ARCHITECTURE = "x86_64"
"""Instruction set of every function (Lambda's default; ``arm64`` is the other one)."""
PYTHON_VERSION = RUNTIME.removeprefix("python")
"""The CPython version that runtime runs, e.g. ``3.12``."""


REQUIREMENTS = "app/requirements.txt"
"""The services' pinned runtime wheels, vendored into every zip."""


@dataclass(frozen=True)
class Service:
    name: str
    packages: tuple[str, ...]  # package directories, relative to the repo root
    handler: str
    # Pinned wheels this service needs beyond REQUIREMENTS, vendored into its zip only.
    extra_requirements: str | None = None


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
    # The release's migrations, run from inside the VPC (the database is private): the
    # zip carries app/migrations as ``migrations/`` next to the package.
    Service(
        "migrator",
        ("app/migrator/smartstack_migrator", "app/shared/smartstack_common", "app/migrations"),
        "smartstack_migrator.handler.handler",
        extra_requirements="app/migrator/requirements.txt",
    ),
)
MIGRATOR = "migrator"
"""The service the deploy's migrate step invokes."""
