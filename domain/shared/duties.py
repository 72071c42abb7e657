"""Segregation of duties: the one rule behind every "requester ≠ approver" check.

A step that needs a second person (approving a budget request, approving a complaint's
response draft) is refused when the two steps share a person. Each step's people are its
actor and, when the actor declared one (``X-On-Behalf-Of``), whom the actor acted for: acting
on behalf of the requester is still the requester approving, and approving what was asked in
one's own name is approving one's own request. Every such check calls :func:`require_two_people`;
none compares actors by hand.
"""

from __future__ import annotations

from domain.shared.envelope import Envelope
from domain.shared.errors import SegregationOfDutiesError


def people_of(actor_id: str | None, on_behalf_of: str | None = None) -> frozenset[str]:
    """The people a step was taken by: its actor and whom the actor acted for."""
    return frozenset(person for person in (actor_id, on_behalf_of) if person)


def people_acting(envelope: Envelope) -> frozenset[str]:
    """The people the command being decided is taken by (its envelope)."""
    return people_of(envelope.actor_id, envelope.on_behalf_of)


def require_two_people(first: frozenset[str], second: frozenset[str], *, message: str) -> None:
    """Refuse (``SEGREGATION_OF_DUTIES``) a second step taken by anyone who took the first."""
    if first & second:
        raise SegregationOfDutiesError(message)
