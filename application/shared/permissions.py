"""Who may do and read what (domain-spec §5). Deny by default: a role not listed may not."""

from __future__ import annotations

from collections.abc import Iterable

from application.shared.commands import Command
from application.shared.errors import NotAuthorisedError

#: Every role a caller's token may hold (domain-spec §5), and the read-only role of an
#: integration engine's service account (FHIR and visit reads, nothing else). The
#: deadline watcher's ``system`` role is not among them: no token may carry it.
ROLES = frozenset(
    {
        "clerk", "nurse", "clinician", "manager", "executive", "finance", "finance_director",
        "board", "auditor", "admin", "integration", "integration_reader", "privacy_officer",
    }
)  # fmt: skip
#: Roles that may read a visit (auditors read it for as-of reconstruction; an integration
#: engine's read-only account for its FHIR reads).
VISIT_READERS = frozenset(
    {"clerk", "nurse", "clinician", "manager", "auditor", "integration_reader"}
)
#: The patient-flow read models (domain-spec §5): the board for the front desk and the
#: clinical staff and managers; census and visit timelines for nurses and clinicians; flow
#: metrics for managers.
FLOW_BOARD_READERS = frozenset({"clerk", "nurse", "clinician", "manager"})
CENSUS_READERS = frozenset({"nurse", "clinician"})
TIMELINE_READERS = frozenset({"nurse", "clinician"})
FLOW_METRICS_READERS = frozenset({"manager"})
#: The facility's configuration (units, beds, schedules, free slots): admins who keep it and
#: the staff who book into it and place patients in its beds.
CONFIGURATION_READERS = frozenset({"admin", "clerk", "nurse", "clinician", "manager"})
#: The complaint rules in force: the configuration's readers, and those who answer for
#: complaints' deadlines (the executive) or check them (auditors).
COMPLAINT_SETTINGS_READERS = CONFIGURATION_READERS | {"auditor", "executive"}
#: The configuration as FHIR Location, Schedule and Slot: also an integration engine's
#: read-only account, and auditors.
FHIR_CONFIGURATION_READERS = CONFIGURATION_READERS | {"auditor", "integration_reader"}
#: The bed board names the visit in each bed: the staff who place patients and managers.
BED_BOARD_READERS = frozenset({"clerk", "nurse", "clinician", "manager"})
#: Occupancy is figures only (no patient): also admins, who plan the beds.
OCCUPANCY_READERS = frozenset({"admin", "nurse", "clinician", "manager"})
#: Complaint cases and their read models: patient-services managers (domain-spec §5); the
#: executive who signs off extreme-risk responses; auditors for as-of reconstruction.
COMPLAINT_READERS = frozenset({"manager", "executive", "auditor"})
COMPLAINT_REPORT_READERS = frozenset({"manager", "executive"})
#: Budget lines and budget vs actual: finance roles and managers (no patient data in them);
#: auditors for as-of reconstruction.
BUDGET_READERS = frozenset({"manager", "finance", "finance_director", "board", "auditor"})
BUDGET_REPORT_READERS = frozenset({"manager", "finance", "finance_director", "board"})
#: Roles that may read the audit trail, verify its hash chain and export it (domain-spec §5).
AUDIT_READERS = frozenset({"auditor"})
#: Roles that may read a patient's accounting of disclosures (HIPAA 164.528): auditors, and
#: the privacy officer who answers a patient's request for it.
DISCLOSURE_READERS = frozenset({"auditor", "privacy_officer"})
#: Who may read an erasure certificate: the privacy officer who erased, and auditors.
ERASURE_CERTIFICATE_READERS = frozenset({"privacy_officer", "auditor"})


def acting_role(roles: Iterable[str], command: type[Command] | Command) -> str:
    """The caller's role that issues the command; it is recorded on the events as
    ``actor_role``. Where the command ranks its roles (``preferred_roles``: the higher
    approval tier first), the highest the caller holds; otherwise the caller's first role
    that may issue it."""
    roles = list(roles)
    for role in command.preferred_roles:
        if role in roles and role in command.roles:
            return role
    for role in roles:
        if role in command.roles:
            return role
    raise _may_not_issue(command)


def check_role(role: str, command: type[Command] | Command) -> None:
    """Refuse (``NOT_AUTHORISED``) a role that may not issue the command. The check of a role
    chosen already (by :func:`acting_role`, where the request came in): it chooses none."""
    if role not in command.roles:
        raise _may_not_issue(command)


def _may_not_issue(command: type[Command] | Command) -> NotAuthorisedError:
    name = command.__name__ if isinstance(command, type) else type(command).__name__
    return NotAuthorisedError(f"none of the caller's roles may issue {name}")


def require_reader(roles: Iterable[str], readers: frozenset[str], what: str) -> str:
    for role in roles:
        if role in readers:
            return role
    raise NotAuthorisedError(f"none of the caller's roles may read {what}")
