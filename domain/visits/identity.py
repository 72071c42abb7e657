"""A visit's id from its visit number (HL7 v2 PV1-19: a number and its assigning authority).

Hospitals name a visit by its visit number, so a visit created with one gets an id derived
from it: a feed can find the visit from PV1-19 alone, without a lookup table, and a second
visit with the same number under the same authority has the same id, so it is refused as a
duplicate (``ALREADY_EXISTS``). A visit created without a number keeps a random id.
"""

from __future__ import annotations

from uuid import UUID, uuid5

#: Fixed for ever: every id derived from a visit number depends on it. It is
#: ``uuid5(NAMESPACE_URL, "urn:patient-services:visit-number")``, written out so that no
#: change of that text could move the ids (a unit test holds the two equal).
VISIT_NUMBER_NAMESPACE = UUID("ba787122-3202-5eae-8070-2b6fbd751455")
#: Separates the authority from the number in the derived name; an authority may not hold
#: it, so no other (authority, number) pair names the same text.
SEPARATOR = "|"


def visit_id_for(number: str, authority: str | None) -> UUID:
    """The id of the visit with this visit number under this assigning authority (None: the
    number has no authority, named as the empty authority). Exactly as given: the number
    and authority are not trimmed or case-folded, as HL7 compares them."""
    return uuid5(VISIT_NUMBER_NAMESPACE, f"{authority or ''}{SEPARATOR}{number}")
