"""The values PatientVisit commands carry: the contract's code lists and the details a
correction may change (domain-spec §1, §5)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from application.shared.commands import AwareDatetime, Ref

VisitClass = Literal["AMB", "EMER", "IMP", "OBSENC", "VR"]
Disposition = Literal["home", "other-hcf", "snf", "rehab", "hosp", "aadvice", "lbtc", "exp", "oth"]
AcuityLevel = Annotated[int, msgspec.Meta(ge=1, le=5)]


class VisitDetailChanges(
    msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, rename="camel"
):
    """Only the fields given are changed; ``scheduledEnd: null`` clears the end."""

    #: The new reason code; null clears it.
    reason_code: Ref | None | msgspec.UnsetType = msgspec.UNSET
    service_unit: Ref | msgspec.UnsetType = msgspec.UNSET
    visit_class: VisitClass | msgspec.UnsetType = msgspec.UNSET
    scheduled_end: AwareDatetime | None | msgspec.UnsetType = msgspec.UNSET

    def given(self) -> dict[str, Any]:
        return {
            name: getattr(self, name)
            for name in self.__struct_fields__
            if getattr(self, name) is not msgspec.UNSET
        }
