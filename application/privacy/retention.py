"""The retention policy: a complainant's personal free text is erased N years after their last
complaint closed (``COMPLAINT_TEXT_RETENTION_YEARS``; unset, nothing is erased by age).

A periodic job beside the deadline watcher. Each pass takes the cases the complaints read
model says closed between the previous pass's cutoff and this one's (now minus N years), and
for each case's complainant erases their text (basis ``retention``, actor
``system:retention``), unless one of the complainant's cases is still open or closed after the
cutoff: their text is then kept until that case's own closure is old enough, when a later pass
finds it. Exactly once per subject holds by the erasure itself: erasing a subject already
erased records nothing (:class:`~application.privacy.erasures.Erasures`), so two passes at
once, or a pass repeated after a crash, record one certificate. A pass first certifies any
erasure a crash left uncertified.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID, uuid4

import structlog

from application.privacy.commands import SYSTEM
from application.privacy.erasures import Erasures
from application.service import PatientServices
from application.shared.context import RequestContext
from application.shared.errors import NotFoundError
from domain.complaints.case import ComplaintCase
from domain.complaints.vocabulary import OPEN_STATES
from domain.privacy.erasure import RETENTION

log = structlog.get_logger("privacy")

RETENTION_ID = "system:retention"
#: The retention job's progress mark in the key vault (the last cutoff a pass completed).
WATERMARK = "complaint-text-retention"

#: Cases closed after the first instant and at or before the second.
ClosedCases = Callable[[datetime | None, datetime], Iterable[UUID]]


class Progress(Protocol):
    """Where the last pass got to (the key vault keeps it)."""

    def watermark(self, name: str) -> int | None: ...
    def set_watermark(self, name: str, micros: int) -> None: ...
    def records_of(self, subject_ref: str) -> list[str]:
        """The ids of the records whose text was sealed for the subject."""


class RetentionJob:
    def __init__(
        self,
        services: PatientServices,
        erasures: Erasures,
        progress: Progress,
        closed_cases: ClosedCases,
        years: int,
    ) -> None:
        self.services = services
        self.erasures = erasures
        self.progress = progress
        self.closed_cases = closed_cases
        self.years = years

    def cutoff(self, now: datetime) -> datetime:
        """Cases closed at or before this instant are old enough."""
        return now - timedelta(days=round(365.25 * self.years))

    def check(self) -> int:
        """One pass; returns how many subjects it erased."""
        self.erasures.complete_interrupted()
        cutoff = self.cutoff(self.services.clock())
        mark = self.progress.watermark(WATERMARK)
        after = None if mark is None else datetime.fromtimestamp(mark / 1e6, tz=cutoff.tzinfo)
        context = RequestContext(
            actor_id=RETENTION_ID, actor_role=SYSTEM, correlation_id=f"retention-{uuid4()}"
        )
        reason = f"retention policy: {self.years} years after the last complaint closed"
        done: set[str] = set()
        erased = 0
        for case_id in self.closed_cases(after, cutoff):
            subject = self._subject_of(case_id)
            if subject is None or subject in done:
                continue
            done.add(subject)
            if not self._all_closed_by(subject, cutoff):
                continue
            if self.erasures.erase(subject, reason, context, basis=RETENTION).created:
                erased += 1
        self.progress.set_watermark(WATERMARK, int(cutoff.timestamp() * 1_000_000))
        if erased:
            log.info("privacy.retention_pass", erased=erased, correlation_id=context.correlation_id)
        return erased

    def _subject_of(self, case_id: UUID) -> str | None:
        try:
            return self.services.get_aggregate(case_id, ComplaintCase).complainant_ref
        except NotFoundError:
            return None  # a read model row ahead of a rebuilt store

    def _all_closed_by(self, subject_ref: str, cutoff: datetime) -> bool:
        for record_id in self.progress.records_of(subject_ref):
            try:
                case = self.services.get_aggregate(UUID(record_id), ComplaintCase)
            except NotFoundError:
                continue
            # A withdrawn case has ended without a closure time: it holds nothing back.
            if case.status in OPEN_STATES or (
                case.closed_at is not None and case.closed_at > cutoff
            ):
                return False
        return True
