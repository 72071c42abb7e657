"""Domain errors. Each carries a stable ``code`` from domain-spec §0, which the HTTP
layer maps to a status; messages never contain patient data."""

from __future__ import annotations


class DomainError(Exception):
    code = "DOMAIN_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidTransitionError(DomainError):
    code = "INVALID_TRANSITION"


class TimestampOrderError(DomainError):
    code = "TIMESTAMP_ORDER"


class AlreadyCancelledError(DomainError):
    code = "ALREADY_CANCELLED"


class DomainValidationError(DomainError):
    """A command's values break a rule that needs no state (a missing time of death)."""

    code = "VALIDATION"


class InsufficientFundsError(DomainError):
    """A commitment would take a budget line's available balance below zero."""

    code = "INSUFFICIENT_FUNDS"


class ApprovalRequiredError(DomainError):
    """The amount is above the tier the caller's role may approve."""

    code = "APPROVAL_REQUIRED"


class SegregationOfDutiesError(DomainError):
    """The approver is the requester (or the drafter): one person may not do both."""

    code = "SEGREGATION_OF_DUTIES"


class ExtensionTooLateError(DomainError):
    """A response deadline can only be extended before it has passed."""

    code = "EXTENSION_TOO_LATE"


class ResponseIncompleteError(DomainError):
    """The final response lacks an element its policy's checklist requires."""

    code = "RESPONSE_INCOMPLETE"
