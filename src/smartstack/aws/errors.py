"""What an AWS error says, read in one place.

botocore puts the service's error code and message in ``exc.response["Error"]``,
which may be missing or partial (a bare HTTP 404 from ``HeadObject`` carries
only ``"404"``); these helpers never raise while reading it.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def error_code(exc: ClientError, default: str = "") -> str:
    """The service's error code, e.g. ``ParameterNotFound`` or ``404``."""
    return str(exc.response.get("Error", {}).get("Code") or default)


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))
