"""FHIR OperationOutcome: how the FHIR routes say what went wrong (the same shape in R4 and
R5). The diagnostics are written for the client and never hold patient data: callers pass
the service's own messages (which name fields, not their values) or a fixed text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Issue codes used (http://hl7.org/fhir/issue-type): each HTTP status the routes answer.
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    413: "too-long",
    415: "not-supported",
    500: "exception",
    503: "transient",
}


def issue_code_for(status: int) -> str:
    if status in ISSUE_CODES:
        return ISSUE_CODES[status]
    return "invalid" if status < 500 else "exception"


def operation_outcome(
    code: str, diagnostics: Sequence[str], *, severity: str = "error"
) -> dict[str, Any]:
    """One issue per diagnostic text (at least one)."""
    texts = list(diagnostics) or [""]
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": severity, "code": code, **({"diagnostics": text} if text else {})}
            for text in texts
        ],
    }
