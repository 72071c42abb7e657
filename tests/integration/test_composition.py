"""The composition root reads the facility's own holiday calendar and default complaint policy
when they are configured."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from adapters.policies import holiday_calendar, policies_of
from adapters.settings import Settings, SettingsError


def test_a_configured_calendar_replaces_the_shipped_one(tmp_path: Path, jwt_secret: str) -> None:
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps({"division": "scotland", "events": [{"date": "2027-01-04"}]}))
    settings = Settings(jwt_secret=jwt_secret, var_dir=tmp_path, holiday_calendar_file=path)

    calendar = policies_of(settings).complaints.calendar

    assert calendar.name == "scotland"
    assert not calendar.is_working_day(date(2027, 1, 4))  # a Monday, listed
    assert calendar.is_working_day(date(2027, 5, 3))  # England's May bank holiday: not listed


@pytest.mark.parametrize("content", ["not json", '{"events": [{"day": "2027-01-04"}]}', None])
def test_an_unreadable_calendar_stops_the_start_naming_the_setting(
    tmp_path: Path, jwt_secret: str, content: str | None
) -> None:
    path = tmp_path / "holidays.json"
    if content is not None:
        path.write_text(content)
    settings = Settings(jwt_secret=jwt_secret, var_dir=tmp_path, holiday_calendar_file=path)
    with pytest.raises(SettingsError, match="HOLIDAY_CALENDAR_FILE"):
        holiday_calendar(settings)


def test_a_configured_complaint_policy_is_the_default_for_registrations(
    tmp_path: Path, jwt_secret: str
) -> None:
    env = {"VAR_DIR": str(tmp_path), "JWT_SECRET": jwt_secret}

    assert policies_of(Settings.from_env(env)).complaints.default_policy is None
    configured = Settings.from_env({**env, "COMPLAINT_POLICY": "us-cms"})
    assert policies_of(configured).complaints.default_policy == "us-cms"
