"""The values complaint commands carry: the contract's code lists, the limits of their free
text and references, and the final response's checklist (domain-spec §2, §5)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

import msgspec

from application.shared.commands import FREE_TEXT_PATTERN, Ref

Channel = Literal["verbal", "written", "email", "portal"]
ComplaintPolicyName = Literal["us-cms", "nhs-england-2009"]
Kind = Literal["concern_resolved_on_spot", "complaint", "grievance"]
Upheld = Literal["yes", "partly", "no"]
ExternalBody = Literal["QIO", "state_agency", "PHSO", "accreditor"]
Deadline = Literal["acknowledgement", "response"]
RiskScale = Annotated[int, msgspec.Meta(ge=1, le=5)]
# The two free-text types below are application.shared.commands.free_text(...) spelled out:
# the same constraint, written as type aliases so a type checker can read them as types.
#: Free text that may hold personal data (a narrative, findings): kept in the aggregate
#: only, never in a read model, a log line or an error message.
Text: TypeAlias = Annotated[
    str, msgspec.Meta(min_length=1, max_length=20_000, pattern=FREE_TEXT_PATTERN)
]
Categories = Annotated[list[Ref], msgspec.Meta(min_length=1, max_length=20)]
StaffRefs = Annotated[list[Ref], msgspec.Meta(max_length=50)]
DocumentHash = Annotated[str, msgspec.Meta(max_length=200, pattern=r"^[A-Za-z0-9:+/=_.-]+$")]
ChecklistItem: TypeAlias = (
    Annotated[str, msgspec.Meta(min_length=0, max_length=5_000, pattern=FREE_TEXT_PATTERN)] | bool
)


class ResponseChecklist(
    msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, rename="camel"
):
    """The items of both policies' checklists; the case's policy says which it needs
    (``RESPONSE_INCOMPLETE`` names what is missing). An item is given as text or ``true``."""

    # us-cms
    #: us-cms: the hospital contact person's name is given.
    contact_person: ChecklistItem | None = None
    #: us-cms: the steps taken to investigate are described.
    steps_taken: ChecklistItem | None = None
    #: us-cms: the results of the grievance process are given.
    results: ChecklistItem | None = None
    #: us-cms: the date the grievance process was completed is given.
    completion_date: ChecklistItem | None = None
    # nhs-england-2009
    #: nhs-england-2009: how the complaint was considered is explained.
    how_considered: ChecklistItem | None = None
    #: nhs-england-2009: the conclusions reached are given.
    conclusions: ChecklistItem | None = None
    #: nhs-england-2009: the matters needing remedial action are stated.
    remedial_action: ChecklistItem | None = None
    #: nhs-england-2009: it confirms whether the action needed has been taken or is proposed.
    confirmation: ChecklistItem | None = None
    #: nhs-england-2009: the complainant's right to go to the Ombudsman is explained.
    ombudsman_rights: ChecklistItem | None = None
    #: nhs-england-2009: the response is signed by the responsible person.
    signed_by: ChecklistItem | None = None

    def given(self) -> dict[str, Any]:
        """The items given, by their contract (camelCase) names."""
        return {
            field.encode_name: getattr(self, field.name)
            for field in msgspec.structs.fields(self)
            if getattr(self, field.name) is not None
        }
