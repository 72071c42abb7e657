"""The erasures of an application whose event store seals personal free text."""

from __future__ import annotations

from adapters.privacy.mapper import SealingMapper
from adapters.privacy.subjects import SubjectInventory
from application.privacy.erasures import Erasures
from application.privacy.retention import ClosedCases, RetentionJob
from application.service import PatientServices


def erasures_for(services: PatientServices) -> Erasures | None:
    """``services``' erasures over its key vault; None when its store seals nothing (an
    application built without the sealing mapper, as some tests build it)."""
    mapper = services.mapper
    if not isinstance(mapper, SealingMapper):
        return None
    inventory = SubjectInventory(mapper.vault, services.recorder, mapper, mapper.aggregates)
    return Erasures(services, mapper.vault, inventory)


def retention_job(
    services: PatientServices, closed_cases: ClosedCases, years: int
) -> RetentionJob | None:
    """The retention policy's job over ``services``' key vault (None: nothing is sealed)."""
    erasures = erasures_for(services)
    if erasures is None:
        return None
    vault = services.mapper.vault  # type: ignore[attr-defined]
    return RetentionJob(services, erasures, vault, closed_cases, years)
