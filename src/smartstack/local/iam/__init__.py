"""IAM enforcement in the local AWS (issue 11): every request authenticated and authorized.

On unless the moto server's process has ``SMARTSTACK_IAM_ENFORCEMENT`` say otherwise
(see docs/local-iam.md):

``1`` / ``enforce`` / unset    every request is authenticated to a principal and authorized
                               by a real IAM evaluator before moto sees it; a refusal is the
                               AWS error of the service's protocol
``audit``                      the same decisions, recorded, but nothing is refused
``0`` / ``off``                stock moto: every request is allowed

The pieces, each importable on its own (this module imports neither moto nor Node):

* :mod:`.evaluator`  the decision: ``@cloud-copilot/iam-simulate`` kept warm in one Node process
* :mod:`.requests`   an HTTP request as AWS sees it: credentials, service, operation, parameters
* :mod:`.principals` an access key to its principal and that principal's policies (moto's IAM/STS)
* :mod:`.signature`  Signature Version 4, verified with the secret issued with the key
* :mod:`.world`      what the rules read from moto: resource policies, tags, keys, key schemas
* :mod:`.rules`      the mapping: operation -> (action, resource ARN, context keys), per service
* :mod:`.responses`  the AWS errors, per protocol
* :mod:`.enforcer`   the WSGI middleware that puts them together, and the allowed-calls log
* :mod:`.iamdata`    the bundled service authorization reference (actions, wildcard-only ones)
* :mod:`.docs`       the mapped operations as docs/local-iam.md lists them
* :mod:`.report`     ``smartstack iam report``: a role's grants against the allowed-calls log
"""

from __future__ import annotations

from collections.abc import Mapping

from smartstack.core.config import (
    IAM_AUDIT,
    IAM_ENFORCE,
    IAM_ENFORCEMENT_VARIABLE,
    IAM_OFF,
    iam_enforcement_mode,
)

IAM_ENFORCEMENT = IAM_ENFORCEMENT_VARIABLE  # read by the moto server process
IAM_STATE_DIR = "SMARTSTACK_IAM_STATE_DIR"  # where it writes the allowed-calls log
IAM_TIMEOUT = "SMARTSTACK_IAM_DECISION_TIMEOUT"  # seconds the evaluator may take (default 10)
ALLOWED_LOG = "iam-allowed.jsonl"
DENIED_LOG = "iam-denied.jsonl"
# GET: the mode, decision times and refusals of the running server (tests, benchmarks)
STATS_PATH = "/moto-api/smartstack/iam"

ENFORCE, AUDIT, OFF = IAM_ENFORCE, IAM_AUDIT, IAM_OFF
DEFAULT_ACCOUNT = "123456789012"  # moto's account: the local AWS's only one
ADMIN_ACCESS_KEY = "smartstack-local"  # the account's root: the key `local up` writes to aws.env
ADMIN_SECRET_KEY = "local"  # its secret (not a secret: the local AWS's admin is this machine's)


def enforcement_mode(environ: Mapping[str, str]) -> str:
    """``enforce`` (also when unset), ``audit`` or ``off``, from ``SMARTSTACK_IAM_ENFORCEMENT``."""
    return iam_enforcement_mode(environ.get(IAM_ENFORCEMENT)) or ENFORCE
