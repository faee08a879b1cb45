"""SmartStack Deploy: ADR-007 environments, infrastructure, pipeline and secrets.

The packages are layers; each imports only from the layers below it (the
import contract in ``pyproject.toml``, checked by ``scripts/test.sh``):

``cli``                       thin Typer commands and the one renderer
``pipeline``                  deploy, its steps, the ledger, gates, promotion
``local``                     the local platform: moto with our fixes, PostgreSQL, the RIE
``infra`` | ``release`` | ``secrets``   stacks and tools | builds and the artifacts bucket |
                              Parameter Store (independent of each other)
``aws``                       the one client factory and the AWS calls shared above
``core``                      names, settings, errors, redaction, tfvars, the service table
"""

__version__ = "0.1.0"
