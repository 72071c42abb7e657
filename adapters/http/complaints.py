"""The Complaints resource: ``POST /api/v1/complaints``, one ``POST`` per action of
:data:`application.complaints.commands.COMPLAINT_ACTIONS`, and ``GET /api/v1/complaints/{id}``
(now, as of a version, or as of a time). The read models' routes are in
:mod:`adapters.http.complaint_reports`.

The case is the one place its narrative (``summary``) and findings are shown: they may hold
personal data, so no read model, log line or error carries them.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from litestar.handlers import HTTPRouteHandler

from adapters.http.kit.aggregate_state import state_handler
from adapters.http.kit.commands import action_handler, untargeted_handler
from adapters.http.kit.resources import Resource
from application.complaints.commands import COMPLAINT_ACTIONS, RegisterComplaint
from application.shared.access import READ_COMPLAINT
from application.shared.permissions import COMPLAINT_READERS
from domain.complaints.case import ComplaintCase
from domain.complaints.deadlines import last_day_allowed

COMPLAINTS = Resource(path="/api/v1/complaints", noun="complaint", name="complaints")


class Deadline(msgspec.Struct, frozen=True, rename="camel"):
    #: Which deadline: acknowledgement or response.
    deadline: str
    #: The deadline's due instant (its exclusive end).
    due_at: datetime
    #: the last local day allowed (``due_at`` is the exclusive end of it)
    due_on: date

    @classmethod
    def of(cls, running: dict[str, Any], zone: ZoneInfo) -> Deadline:
        """A running deadline of the case (``deadline``, ``due_at``), its day read in ``zone``."""
        due_at: datetime = running["due_at"]
        due_on = last_day_allowed(due_at, zone)
        # A running deadline always has its due instant, so it always has a last day.
        assert due_on is not None
        return cls(running["deadline"], due_at, due_on)


class Breach(msgspec.Struct, frozen=True, rename="camel"):
    #: The deadline breached: acknowledgement or response.
    deadline: str
    #: The due instant it was still running after.
    due_at: datetime
    #: When the deadline watcher recorded the breach.
    flagged_at: datetime


class Referral(msgspec.Struct, frozen=True, rename="camel"):
    #: The external body: QIO, state_agency, PHSO or accreditor.
    body: str
    reference: str
    #: When the case was referred.
    referred_at: datetime
    #: The review's outcome, as text (null while the review is open).
    outcome: str | None
    #: When the review concluded (null while it is open).
    concluded_at: datetime | None


class ComplaintState(msgspec.Struct, frozen=True, rename="camel"):
    """A complaint case as it stands (or stood). Due dates are those computed when each
    command ran, as stored in its events. Times are UTC. A due instant (``…DueAt``) is the
    exclusive end of the deadline; ``…DueOn`` beside it is the last day allowed, as a local
    date in the facility's time zone (``2025-12-30`` for ``2025-12-31T00:00:00Z`` in UTC)."""

    id: UUID
    version: int
    #: The case's state: received, acknowledged, under_investigation, awaiting_information,
    #: response_drafted, response_sent, closed or withdrawn.
    status: str
    #: What the case is: concern_resolved_on_spot, complaint or grievance (null until classified).
    kind: str | None
    #: The complaint-handling rules the case follows: us-cms or nhs-england-2009.
    policy: str
    #: How the complaint was made: verbal, written, email or portal.
    channel: str
    #: When the complaint was received.
    received_at: datetime
    #: The complainant's opaque reference (never a name).
    complainant_ref: str
    patient_ref: str | None
    visit_id: UUID | None
    service_unit: str | None
    #: What the complaint is about, as category codes.
    categories: list[str]
    #: The main category, from the classification (null if none).
    primary_category: str | None
    #: The complaint's narrative. Personal data: shown here only, never in a read model.
    summary: str
    #: The NPSA risk score, consequence × likelihood, 1 to 25 (null until graded).
    risk_score: int | None
    #: The NPSA risk grade: low, moderate, high or extreme (null until graded).
    risk_grade: str | None
    #: When acknowledgement is due (null: the policy sets no acknowledgement deadline).
    acknowledgement_due_at: datetime | None
    #: The last local day allowed for the acknowledgement (null with no deadline).
    acknowledgement_due_on: date | None
    #: When the complaint was acknowledged (null until then).
    acknowledged_at: datetime | None
    #: When the final response is due, after any extension or interim response.
    response_due_at: datetime | None
    #: The last local day allowed for the final response.
    response_due_on: date | None
    #: When the first final response was sent (null until then).
    responded_at: datetime | None
    #: The investigator's opaque reference (null until assigned).
    investigator_ref: str | None
    #: Whether the complaint was upheld: yes, partly or no (null until the findings).
    upheld: str | None
    #: How the case was resolved, given at closing (null while open). Personal data.
    resolution: str | None
    #: When the case was closed (null while open, or after reopening).
    closed_at: datetime | None
    #: When the complaint was withdrawn (null unless withdrawn).
    withdrawn_at: datetime | None
    #: The deadlines still running, earliest first.
    running_deadlines: list[Deadline]
    #: The deadlines the watcher found missed, in the order flagged.
    breaches: list[Breach]
    #: The external referrals, oldest first.
    referrals: list[Referral]

    @classmethod
    def of(cls, case: ComplaintCase, zone: ZoneInfo) -> ComplaintState:
        """The case as shown, its due days read in the facility's time zone ``zone``."""
        return cls(
            id=case.id, version=case.version, status=case.status, kind=case.kind,
            policy=case.policy, channel=case.channel, received_at=case.received_at,
            complainant_ref=case.complainant_ref, patient_ref=case.patient_ref,
            visit_id=case.visit_id, service_unit=case.service_unit,
            categories=list(case.categories), primary_category=case.primary_category,
            summary=case.summary, risk_score=case.risk_score, risk_grade=case.risk_grade,
            acknowledgement_due_at=case.acknowledgement_due_at,
            acknowledgement_due_on=last_day_allowed(case.acknowledgement_due_at, zone),
            acknowledged_at=case.acknowledged_at, response_due_at=case.response_due_at,
            response_due_on=last_day_allowed(case.response_due_at, zone),
            responded_at=case.responded_at, investigator_ref=case.investigator_ref,
            upheld=case.upheld, resolution=case.resolution, closed_at=case.closed_at,
            withdrawn_at=case.withdrawn_at,
            running_deadlines=[Deadline.of(d, zone) for d in case.running_deadlines],
            breaches=[Breach(b["deadline"], b["due_at"], b["flagged_at"]) for b in case.breaches],
            referrals=[
                Referral(r["body"], r["reference"], r["referred_at"], r["outcome"],
                         r["concluded_at"])
                for r in case.referrals
            ],
        )  # fmt: skip


def complaint_handlers(zone: ZoneInfo) -> list[HTTPRouteHandler]:
    """The resource's routes; ``zone`` is the facility's, in which due days are shown."""
    created = "Complaint registered: its id, version and log position"
    get_complaint = state_handler(
        COMPLAINTS, ComplaintCase, ComplaintState, COMPLAINT_READERS,
        operation_id="getComplaint", show=partial(ComplaintState.of, zone=zone),
        summary="A complaint case now, as of a version, or as of a time, with its due dates",
        access=READ_COMPLAINT,
    )  # fmt: skip
    return [
        untargeted_handler(COMPLAINTS, "/", RegisterComplaint, created),
        *(action_handler(COMPLAINTS, a, command) for a, command in COMPLAINT_ACTIONS.items()),
        get_complaint,
    ]
