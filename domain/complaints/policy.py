"""Complaint-handling policies and the working-day calendar (domain-spec §2).

The two policies are data: how long acknowledgement and response may take, what an interim
response does to the response deadline, when a complaint counts as late and what a final
response must contain. A command computes its due dates from them when it runs and stores
the dates in its event, so changing a policy or the calendar later never changes history.

Sources: US CMS 42 CFR 482.13(a)(2) and its interpretive guidelines (a written response,
final or interim, within 7 days; after an interim, the final by the date it promised); the
Local Authority Social Services and National Health Service Complaints (England)
Regulations 2009, regulations 12–14 (acknowledge within 3 working days; respond within
6 months or a later date agreed before that expires; complaints made more than 12 months
after the matter need a reason to be considered; what the response must say).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from domain.complaints.vocabulary import NHS_ENGLAND_2009, US_CMS
from domain.shared.errors import DomainValidationError
from domain.shared.working_days import HolidayCalendar, Period, add_months, england_and_wales


@dataclass(frozen=True)
class ComplaintPolicy:
    name: str
    #: None: the policy sets no acknowledgement deadline of its own.
    acknowledgement: Period | None
    response: Period
    #: After an interim response the final is due by the date it promised, or this long
    #: after receipt if it promised none. None: an interim response does not move the
    #: response deadline; only an extension agreed with the complainant does.
    interim_default: Period | None
    #: A complaint made longer than this after the event needs a recorded reason.
    late_after: Period | None
    #: What a final response must contain (the send-response ``checklist`` keys).
    checklist: tuple[str, ...]


US_CMS_POLICY = ComplaintPolicy(
    name=US_CMS,
    acknowledgement=None,
    response=Period(7, "calendar_days"),
    interim_default=Period(30, "calendar_days"),
    late_after=None,
    checklist=("contactPerson", "stepsTaken", "results", "completionDate"),
)

NHS_ENGLAND_2009_POLICY = ComplaintPolicy(
    name=NHS_ENGLAND_2009,
    acknowledgement=Period(3, "working_days"),
    response=Period(6, "months"),
    interim_default=None,
    late_after=Period(12, "months"),
    checklist=(
        "howConsidered", "conclusions", "remedialAction", "confirmation", "ombudsmanRights",
        "signedBy",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class ComplaintRules:
    """The policies (``us-cms``, ``nhs-england-2009``), the holiday calendar working days
    are counted with, the facility's time zone, where every deadline ends at the end of
    a local day, and the policy a complaint follows when its registration names none (None:
    it must name one). ``ComplaintRules()`` gives the shipped defaults."""

    policies: tuple[ComplaintPolicy, ...] = (US_CMS_POLICY, NHS_ENGLAND_2009_POLICY)
    calendar: HolidayCalendar = field(default_factory=england_and_wales)
    facility_timezone: str = "Europe/London"
    default_policy: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.facility_timezone)

    def policy(self, name: str) -> ComplaintPolicy:
        for policy in self.policies:
            if policy.name == name:
                return policy
        raise DomainValidationError(f"unknown complaint policy {name!r}", field="policy")

    def due(self, period: Period, start: datetime) -> datetime:
        """When a ``period`` starting at ``start`` ends (UTC; see domain.shared.working_days)."""
        return period.due_after(start, self.zone, self.calendar)

    def acknowledgement_due(
        self, policy: ComplaintPolicy, received_at: datetime
    ) -> datetime | None:
        if policy.acknowledgement is None:
            return None
        return self.due(policy.acknowledgement, received_at)

    def response_due(self, policy: ComplaintPolicy, received_at: datetime) -> datetime:
        return self.due(policy.response, received_at)

    def is_late(self, policy: ComplaintPolicy, event_date: date, received_at: datetime) -> bool:
        """Made more than the policy's limit after the event (compared as local dates)."""
        if policy.late_after is None:
            return False
        assert policy.late_after.unit == "months", "late limits are set in months"
        received_on = received_at.astimezone(self.zone).date()
        return received_on > add_months(event_date, policy.late_after.amount)
