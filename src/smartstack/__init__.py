"""SmartStack Deploy: ADR-007 environments, infrastructure, pipeline and secrets.

The library is layered: :mod:`smartstack.cli` parses and renders, the use-case
modules (``bootstrap``, ``stack``, ``local``) decide, and adapters (``aws``,
``tofu``, ``local.moto``, ``local.postgres``) talk to real processes.
"""

__version__ = "0.1.0"
