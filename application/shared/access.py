"""Reads of patient-linked data, recorded in the log (HIPAA 164.312(b), IHE BALP Read/Query).

Every successful request that returns patient-linked data leaves one :class:`AccessRecord`:
a one-event aggregate stamped with the envelope (who, on whose behalf, which request, when
the read happened), so it sits in the one global log and the audit trail's hash chain covers
it like every other entry. What was returned is named by identifiers only: the opaque
``patientRef``s and record ids, or, for a list longer than the threshold, the query and the
count. Never the data itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from eventsourcing.utils import get_topic

from domain.shared.base import AuditedAggregate, event_id_for
from domain.shared.envelope import Envelope

#: The outcome of a read that returned its data (denied reads are ``CommandAttempt``s).
SUCCESS = "success"

#: HL7 v3 PurposeOfUse codes (v3-PurposeOfUse) a request may send in ``X-Purpose-Of-Use``:
#: the common ones; any code of the value set is accepted as sent (upper case).
PURPOSE_OF_USE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
#: What ``X-Purpose-Of-Use`` may hold: one code of that value set as written there, upper-case
#: letters only (TREAT, ETREAT, HPAYMT, HOPERAT, PATRQT, HSYSADMIN, ...), so free text cannot
#: reach the log through it; 20 leaves room above the value set's longest codes (11 letters).
PURPOSE_OF_USE_PATTERN = r"^[A-Z]{1,20}$"
#: The purpose recorded when a request sends none (``ACCESS_DEFAULT_PURPOSE`` overrides it).
DEFAULT_PURPOSE_OF_USE = "TREAT"

#: The ``action`` of every access record, by what was read (the vocabulary of reads).
#: ``read …`` returns one record or one view; ``search …`` finds records by a query.
READ_VISIT = "read visit"
SEARCH_VISITS = "search visits"
READ_VISIT_TIMELINE = "read visit timeline"
READ_BOARD = "read board"
READ_CENSUS = "read census"
READ_BED_BOARD = "read bed board"
READ_CLINIC_DAY = "read clinic day list"
READ_WAITLIST = "read waitlist"
READ_FLOW_METRICS = "read flow metrics"
READ_COMPLAINT = "read complaint"
READ_COMPLAINT_WORKLIST = "read complaint worklist"
READ_AUDIT_TRAIL = "read audit trail"
READ_AUDIT_ENTRY = "read audit entry"
READ_DISCLOSURES = "read disclosures"
READ_ERASURE_CERTIFICATE = "read erasure certificate"
#: FHIR reads name the resource type: ``read fhir Encounter``, ``search fhir Encounter``.
FHIR_RESOURCE_TYPES = ("Encounter", "Appointment", "EncounterHistory")
ACCESS_ACTIONS: tuple[str, ...] = (
    READ_VISIT, SEARCH_VISITS, READ_VISIT_TIMELINE, READ_BOARD, READ_CENSUS, READ_BED_BOARD,
    READ_CLINIC_DAY, READ_WAITLIST, READ_FLOW_METRICS,
    READ_COMPLAINT, READ_COMPLAINT_WORKLIST, READ_AUDIT_TRAIL, READ_AUDIT_ENTRY,
    READ_DISCLOSURES, READ_ERASURE_CERTIFICATE,
    *(f"{verb} fhir {kind}" for kind in FHIR_RESOURCE_TYPES for verb in ("read", "search")),
)  # fmt: skip


def fhir_action(verb: str, resource_type: str) -> str:
    """``read fhir Encounter``: the action of a FHIR read (``read``) or search (``search``)."""
    action = f"{verb} fhir {resource_type}"
    if action not in ACCESS_ACTIONS:
        raise ValueError(f"not an access action: {action!r}")
    return action


@dataclass(frozen=True)
class Access:
    """What one read returned and why (what an :class:`AccessRecord` holds besides the
    envelope). ``truncated`` when the list was longer than the threshold: then
    ``patient_refs`` and ``record_ids`` are empty and ``result_count`` says how many."""

    #: What was read: one of :data:`ACCESS_ACTIONS` (``read visit``, ``search visits``, …).
    action: str
    #: The route's path template (``/api/v1/visits/{visit_id}``).
    route: str
    #: The query parameters as sent (identifiers, codes and times; never free text).
    query: dict[str, str]
    purpose_of_use: str
    patient_refs: tuple[str, ...] = ()
    record_ids: tuple[str, ...] = ()
    result_count: int = 0
    truncated: bool = False
    outcome: str = SUCCESS


class AccessRecord(AuditedAggregate):
    """One read of patient-linked data: one event, never changed."""

    if TYPE_CHECKING:  # set by Accessed.apply (see CommandAttempt for why not annotated)
        action: str
        route: str
        query: dict[str, str]
        purpose_of_use: str
        patient_refs: list[str]
        record_ids: list[str]
        result_count: int
        truncated: bool
        outcome: str

    class Accessed(AuditedAggregate.Created):
        action: str
        route: str
        query: dict[str, str]
        purpose_of_use: str
        patient_refs: list[str]
        record_ids: list[str]
        result_count: int
        truncated: bool
        outcome: str

        def apply(self, record: AccessRecord) -> None:
            record.action = self.action
            record.route = self.route
            record.query = self.query
            record.purpose_of_use = self.purpose_of_use
            record.patient_refs = self.patient_refs
            record.record_ids = self.record_ids
            record.result_count = self.result_count
            record.truncated = self.truncated
            record.outcome = self.outcome

    @classmethod
    def accessed(cls, access: Access, *, record_id: UUID | None = None) -> AccessRecord:
        """Call inside ``recording(envelope)``: the envelope says who read, and when.
        ``record_id`` (default a new one) lets a retried save name the same record."""
        record: AccessRecord = cls._create(
            cls.Accessed, id=record_id or uuid4(), action=access.action, route=access.route,
            query=dict(access.query), purpose_of_use=access.purpose_of_use,
            patient_refs=list(access.patient_refs), record_ids=list(access.record_ids),
            result_count=access.result_count, truncated=access.truncated,
            outcome=access.outcome,
        )  # fmt: skip
        return record

    @classmethod
    def accessed_event(
        cls, access: Access, envelope: Envelope, *, record_id: UUID
    ) -> AccessRecord.Accessed:
        """The one event :meth:`accessed` would record under ``envelope``, built without
        the aggregate, for saving thousands at once (``application.access_log``): measured
        at a third less CPU per record than building each aggregate and collecting its
        event. A unit test keeps the two equal field by field."""
        # Any: the event classes are dataclasses made at class creation, which mypy
        # does not see (it checks the fields through the aggregate's annotations above).
        event_class: Any = cls.Accessed
        event: AccessRecord.Accessed = event_class(
            originator_topic=_TOPIC, originator_id=record_id,
            originator_version=cls.INITIAL_VERSION, timestamp=cls.Accessed.create_timestamp(),
            event_id=event_id_for(record_id, cls.INITIAL_VERSION),
            **envelope.as_event_fields(),
            action=access.action, route=access.route, query=dict(access.query),
            purpose_of_use=access.purpose_of_use, patient_refs=list(access.patient_refs),
            record_ids=list(access.record_ids), result_count=access.result_count,
            truncated=access.truncated, outcome=access.outcome,
        )  # fmt: skip
        return event


_TOPIC = get_topic(AccessRecord)
