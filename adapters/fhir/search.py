"""What an Encounter search's parameters ask for, in our terms (pure parsing; the route in
:mod:`adapters.http.fhir_search` runs it).

``identifier`` is a FHIR token: ``system|value``, ``|value`` (an identifier without a system)
or ``value`` (any system). Our Encounters carry two identifiers: the visit number, whose
system names its assigning authority (:func:`adapters.fhir.common.visit_number_system`), and
our id as ``urn:uuid:<id>`` under ``urn:ietf:rfc:3986``. Any other system is one we issue
no identifiers in: the search matches nothing. ``status`` is one or more codes of the
version's Encounter.status, comma-separated; each stands for every state of ours shown so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from adapters.fhir.common import URI_SYSTEM, authority_of_system
from adapters.fhir.statuses import states_for

_UUID_URN = "urn:uuid:"


@dataclass(frozen=True)
class IdentifierQuery:
    """A visit number (under one authority, or under none when ``authority_given`` with
    ``authority`` None, or under any), or our id; ``matches_nothing`` for a system we issue
    no identifiers in."""

    visit_number: str | None = None
    authority: str | None = None
    authority_given: bool = False
    visit_id: UUID | None = None
    matches_nothing: bool = False


NOTHING = IdentifierQuery(matches_nothing=True)


def identifier_query(token: str) -> IdentifierQuery:
    system, bar, value = token.partition("|")
    if not bar:  # a plain value: any system
        return _by_id(token) if token.startswith(_UUID_URN) else IdentifierQuery(visit_number=token)
    if not system:  # "|value": only identifiers without a system, and ours all have one
        return NOTHING
    if system == URI_SYSTEM:
        return _by_id(value)
    is_visit_number, authority = authority_of_system(system)
    if not is_visit_number:
        return NOTHING
    return IdentifierQuery(visit_number=value, authority=authority, authority_given=True)


def _by_id(value: str) -> IdentifierQuery:
    if not value.startswith(_UUID_URN):
        return NOTHING
    try:
        return IdentifierQuery(visit_id=UUID(value[len(_UUID_URN) :]))
    except ValueError:
        return NOTHING


def states_of(status: str, mapping: Mapping[str, str]) -> frozenset[str]:
    """Our states shown as any of the comma-separated codes (none for ``unknown``)."""
    return states_for(mapping, frozenset(code.strip() for code in status.split(",")))
