"""Checks on what a complaint command is given (domain-spec §2).

Each raises a :class:`~domain.shared.errors.DomainValidationError` (or a more specific domain error)
naming the wire field at fault. Messages name fields and policies, never the values given:
a complaint's free text is personal data.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain.complaints.policy import ComplaintPolicy, ComplaintRules
from domain.complaints.vocabulary import CHANNELS, UPHELD_VALUES
from domain.shared.errors import DomainValidationError, ResponseIncompleteError, TimestampOrderError


def require_text(value: str | None, field: str) -> None:
    if value is None or not value.strip():
        raise DomainValidationError(f"{field} is required", field=field)


def require_one_of(value: str, allowed: tuple[str, ...], field: str) -> None:
    if value not in allowed:
        raise DomainValidationError(f"{field} must be one of {', '.join(allowed)}", field=field)


def check_registration(
    *, channel: str, policy: str, categories: list[str], summary: str,
    event_date: date | None, late_acceptance_reason: str | None, at: datetime,
    rules: ComplaintRules,
) -> ComplaintPolicy:  # fmt: skip
    """What a new complaint must give; returns the terms of its ``policy``."""
    require_one_of(channel, CHANNELS, "channel")
    terms = rules.policy(policy)
    if not categories or any(not c.strip() for c in categories):
        raise DomainValidationError("at least one category is required", field="categories")
    require_text(summary, "summary")
    if event_date is not None:
        check_event_date(event_date, late_acceptance_reason, at=at, rules=rules, terms=terms)
    return terms


def check_risk_scale(consequence: int, likelihood: int) -> None:
    for value, field in ((consequence, "consequence"), (likelihood, "likelihood")):
        if not 1 <= value <= 5:
            raise DomainValidationError(f"the {field} must be 1 to 5", field=field)


def check_findings(steps_taken: str, conclusions: str, upheld: str) -> None:
    require_text(steps_taken, "stepsTaken")
    require_text(conclusions, "conclusions")
    require_one_of(upheld, UPHELD_VALUES, "upheld")


def check_event_date(
    event_date: date, late_acceptance_reason: str | None, *, at: datetime,
    rules: ComplaintRules, terms: ComplaintPolicy,
) -> None:  # fmt: skip
    """The event complained of precedes the complaint (as local dates), and a complaint
    made later than the policy allows carries the reason it was accepted anyway."""
    if event_date > at.astimezone(rules.zone).date():
        raise TimestampOrderError(
            "the event date is after the complaint was received", field="eventDate"
        )
    limit = terms.late_after  # None: the policy accepts a complaint made at any time
    late = limit is not None and rules.is_late(terms, event_date, at)
    if limit is not None and late and not (late_acceptance_reason or "").strip():
        raise DomainValidationError(
            f"a complaint made more than {limit.describe()} after the event "
            "needs a recorded reason to be accepted",
            field="lateAcceptanceReason",
        )  # fmt: skip


def check_checklist(policy: str, items: tuple[str, ...], checklist: dict[str, Any]) -> None:
    """A final response's ``checklist`` names only the policy's ``items`` and gives every
    one of them: a non-blank text or ``true`` (else ``RESPONSE_INCOMPLETE``)."""
    for name in checklist:
        if name not in items:
            raise DomainValidationError(
                f"not an item of the {policy} checklist", field=f"checklist.{name}"
            )
    missing = [name for name in items if not _given(checklist.get(name))]
    if missing:
        raise ResponseIncompleteError(
            f"the {policy} final response lacks: {', '.join(missing)}",
            field=f"checklist.{missing[0]}",
        )


def _given(value: Any) -> bool:
    return value is True or (isinstance(value, str) and bool(value.strip()))
