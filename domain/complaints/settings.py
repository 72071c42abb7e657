"""ComplaintSettings: the facility's own choices for complaint handling, as events.

Two choices, each an event an admin records: the policy a complaint follows when its
registration names none, and the holiday calendar working days are counted with. Until an
admin records one, the service's settings stand (``COMPLAINT_POLICY``,
``HOLIDAY_CALENDAR_FILE`` or the shipped England and Wales calendar). One per facility: its id
is fixed.

A choice applies to the decisions made after it. The due dates a command computed are in
its event (see :mod:`domain.complaints.case`), so a new choice never changes a deadline
already set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.complaints.policy import ComplaintRules
from domain.shared.base import AuditedAggregate
from domain.shared.errors import DomainValidationError
from domain.shared.working_days import (
    ENGLAND_AND_WALES,
    WEEKENDS_ONLY,
    HolidayCalendar,
    england_and_wales,
)

#: The facility's one settings record (fixed for ever: the stored events name it).
SETTINGS_ID = UUID("6a1f3e2d-8c4b-5d7a-9e6f-1b2c3d4e5f60")
#: The calendars shipped with the service, chosen by name alone.
SHIPPED_CALENDARS: dict[str, Callable[[], HolidayCalendar]] = {
    ENGLAND_AND_WALES: england_and_wales,
    WEEKENDS_ONLY.name: lambda: WEEKENDS_ONLY,
}
#: Holidays one calendar of the facility's own may list (about 100 years of bank holidays).
MAX_HOLIDAYS = 1000


def _plain(name: str) -> str:
    return name.strip().casefold()


class ComplaintSettings(AuditedAggregate):
    class SettingsOpened(AuditedAggregate.Created):
        """The record's first event: nothing chosen yet (the first choice follows it in the
        same transaction)."""

        def apply(self, settings: ComplaintSettings) -> None:
            settings.policy = None
            settings.calendar_name = None
            settings.holidays = None

    class DefaultPolicyChosen(AuditedAggregate.Event):
        policy: str

        def apply(self, settings: ComplaintSettings) -> None:
            settings.policy = self.policy

    class HolidayCalendarChosen(AuditedAggregate.Event):
        """A shipped calendar by name (``holidays`` None) or one of the facility's own."""

        name: str
        #: ISO dates (the transcoder stores no ``date``), sorted; None for a shipped calendar.
        holidays: list[str] | None

        def apply(self, settings: ComplaintSettings) -> None:
            settings.calendar_name = self.name
            settings.holidays = None if self.holidays is None else list(self.holidays)

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return SETTINGS_ID

    @classmethod
    def open(cls, *, at: datetime) -> ComplaintSettings:
        settings: ComplaintSettings = cls._create(cls.SettingsOpened, occurred_at=at)
        return settings

    def choose_policy(self, *, policy: str, rules: ComplaintRules, at: datetime) -> None:
        rules.policy(policy)  # an unknown name is refused (field "policy")
        if policy == self.policy:
            raise DomainValidationError(
                f"{policy} is the facility's default policy already", field="policy"
            )
        self.trigger_event(self.DefaultPolicyChosen, policy=policy, occurred_at=at)

    def choose_calendar(self, *, name: str, holidays: list[date] | None, at: datetime) -> None:
        if name in SHIPPED_CALENDARS and holidays is not None:
            raise DomainValidationError(
                f"{name} is shipped with the service: choose it by name alone, or give your "
                "calendar another name",
                field="holidays",
            )
        if name not in SHIPPED_CALENDARS and _plain(name) in map(_plain, SHIPPED_CALENDARS):
            raise DomainValidationError(
                "a calendar of your own may not be named like a shipped one", field="name"
            )
        if name not in SHIPPED_CALENDARS and holidays is None:
            shipped = ", ".join(sorted(SHIPPED_CALENDARS))
            raise DomainValidationError(
                f"a calendar of your own needs its holidays (or choose one of {shipped})",
                field="holidays",
            )
        days = None if holidays is None else sorted({d.isoformat() for d in holidays})
        if days is not None and len(days) > MAX_HOLIDAYS:
            raise DomainValidationError(
                f"a calendar may list at most {MAX_HOLIDAYS} holidays", field="holidays"
            )
        if (name, days) == (self.calendar_name, self.holidays):
            raise DomainValidationError("this is the facility's calendar already", field="name")
        self.trigger_event(self.HolidayCalendarChosen, name=name, holidays=days, occurred_at=at)

    if TYPE_CHECKING:  # set by SettingsOpened.apply (class annotations would be __init__'s)
        policy: str | None
        calendar_name: str | None
        holidays: list[str] | None

    def calendar(self) -> HolidayCalendar | None:
        """The calendar chosen, or None while none is."""
        if self.calendar_name is None:
            return None
        if self.holidays is None:
            return SHIPPED_CALENDARS[self.calendar_name]()
        return HolidayCalendar.of(self.calendar_name, map(date.fromisoformat, self.holidays))

    def over(self, defaults: ComplaintRules) -> ComplaintRules:
        """The rules a decision follows: the facility's choices over the service's settings."""
        calendar = self.calendar()
        return replace(
            defaults,
            default_policy=self.policy or defaults.default_policy,
            calendar=calendar or defaults.calendar,
        )
