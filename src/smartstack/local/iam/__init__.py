"""IAM enforcement in the local AWS (issue 11): every request authenticated and authorized.

Off unless the moto server's process has ``SMARTSTACK_IAM_ENFORCEMENT`` set (see
docs/local-iam.md):

``1`` / ``on`` / ``enforce``   every request is authenticated to a principal and authorized
                               by a real IAM evaluator before moto sees it; a refusal is the
                               AWS error of the service's protocol
``audit``                      the same decisions, recorded, but nothing is refused
``0`` / ``off`` / unset        stock moto: every request is allowed

The pieces, each importable on its own (this module imports neither moto nor Node):

* :mod:`.evaluator`  the decision: ``@cloud-copilot/iam-simulate`` kept warm in one Node process
* :mod:`.requests`   an HTTP request as AWS sees it: credentials, service, operation, parameters
* :mod:`.principals` an access key to its principal and that principal's policies (moto's IAM/STS)
* :mod:`.world`      what the rules read from moto: resource policies, tags, keys, key schemas
* :mod:`.rules`      the mapping: operation -> (action, resource ARN, context keys), per service
* :mod:`.responses`  the AWS errors, per protocol
* :mod:`.enforcer`   the WSGI middleware that puts them together, and the allowed-calls log
* :mod:`.iamdata`    the bundled service authorization reference (actions, wildcard-only ones)
* :mod:`.docs`       the mapped operations as docs/local-iam.md lists them
"""

from __future__ import annotations

from collections.abc import Mapping

IAM_ENFORCEMENT = "SMARTSTACK_IAM_ENFORCEMENT"  # read by the moto server process
IAM_STATE_DIR = "SMARTSTACK_IAM_STATE_DIR"  # where it writes the allowed-calls log
IAM_TIMEOUT = "SMARTSTACK_IAM_DECISION_TIMEOUT"  # seconds the evaluator may take (default 10)
ALLOWED_LOG = "iam-allowed.jsonl"
DENIED_LOG = "iam-denied.jsonl"

ENFORCE, AUDIT, OFF = "enforce", "audit", "off"
_MODES = {
    "1": ENFORCE, "on": ENFORCE, "true": ENFORCE, "enforce": ENFORCE, "yes": ENFORCE,
    "audit": AUDIT,
    "": OFF, "0": OFF, "off": OFF, "false": OFF, "no": OFF,
}  # fmt: skip


def enforcement_mode(environ: Mapping[str, str]) -> str:
    """``enforce``, ``audit`` or ``off``, from ``SMARTSTACK_IAM_ENFORCEMENT``."""
    raw = environ.get(IAM_ENFORCEMENT, "").strip().lower()
    if raw not in _MODES:
        raise ValueError(f"{IAM_ENFORCEMENT}={raw!r}: use 1 (enforce), audit or 0 (off).")
    return _MODES[raw]
