"""The facility's complaint settings: the admin's two choices, and the rules every complaint
decision follows once they are made.

``ChooseComplaintPolicy`` and ``ChooseHolidayCalendar`` record a choice in
:class:`~domain.complaints.settings.ComplaintSettings` (role ``admin``); ``rules_in_force``
lays the recorded choices over the service's settings for a command being decided, in its
own transaction, so a choice made on one API process applies to the next decision on any.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from application.complaints.values import ComplaintPolicyName
from application.shared.commands import Command, Loader, Ref, optional
from application.shared.policies import Policies
from domain.complaints.settings import MAX_HOLIDAYS, SETTINGS_ID, ComplaintSettings

ADMINS = frozenset({"admin"})


def rules_in_force(load: Loader[Any], policies: Policies) -> Policies:
    """``policies`` with the facility's recorded complaint choices laid over its settings."""
    settings = optional(load, SETTINGS_ID, ComplaintSettings)
    if settings is None:
        return policies
    return replace(policies, complaints=settings.over(policies.complaints))


class SettingsCommand(Command, kw_only=True, frozen=True):
    """A change of the one settings record, opened by the first change."""

    roles = ADMINS

    def decide(
        self, load: Loader[Any], target: UUID | None, at: datetime, policies: Policies
    ) -> list[Aggregate]:
        settings = optional(load, SETTINGS_ID, ComplaintSettings)
        if settings is None:
            settings = ComplaintSettings.open(at=at)
        self.apply(settings, at, policies)
        return [settings]

    def audit_target(self) -> UUID | None:
        return SETTINGS_ID

    def apply(self, settings: ComplaintSettings, at: datetime, policies: Policies) -> None:
        raise NotImplementedError


class ChooseComplaintPolicy(SettingsCommand, kw_only=True, frozen=True):
    """``POST /complaint-settings/policy``: the policy a complaint follows when its
    registration names none."""

    #: us-cms or nhs-england-2009.
    policy: ComplaintPolicyName

    def apply(self, settings: ComplaintSettings, at: datetime, policies: Policies) -> None:
        settings.choose_policy(policy=self.policy, rules=policies.complaints, at=at)


class ChooseHolidayCalendar(SettingsCommand, kw_only=True, frozen=True):
    """``POST /complaint-settings/holiday-calendar``: the calendar working-day deadlines
    (nhs-england-2009: acknowledgement within 3 working days) are counted with."""

    #: england-and-wales or weekends-only (shipped with the service: give no holidays), or
    #: a name of your own for the holidays you list.
    name: Ref
    #: The holidays of a calendar of your own (YYYY-MM-DD; at most 1000 different days).
    #: Only the days listed are holidays: list every year a deadline may run into.
    holidays: Annotated[list[date], msgspec.Meta(max_length=2 * MAX_HOLIDAYS)] | None = None

    def apply(self, settings: ComplaintSettings, at: datetime, policies: Policies) -> None:
        settings.choose_calendar(name=self.name, holidays=self.holidays, at=at)
