"""Complaint themes: cases by category × service unit × month of receipt, with their risk
grade mix and how many were upheld."""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import ZoneInfo

import msgspec

from domain.complaints.vocabulary import GRADES, UPHELD_VALUES
from projections.complaints.case_state import CaseState
from projections.complaints.instants import month_of


class Theme(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """Cases of one category in one unit received in one month (a case with several
    categories counts in each)."""

    #: The category code: one of the case's categories, or its primary category.
    category: str
    unit: str | None
    #: The month of receipt, YYYY-MM, in the facility's time zone.
    month: str
    #: How many cases are in the theme.
    cases: int
    #: low, moderate, high, extreme and ungraded
    grades: dict[str, int]
    #: yes, partly, no and undecided (no findings yet)
    upheld: dict[str, int]
    #: upheld in full or in part ÷ cases with findings, in %, 1 decimal; None without any.
    percent_upheld: float | None


def themes_of(states: Iterable[CaseState], zone: ZoneInfo) -> list[Theme]:
    groups: dict[tuple[str, str, str], list[CaseState]] = {}
    for state in states:
        month = month_of(state.received_at, zone)
        categories = dict.fromkeys(state.categories)
        if state.primary_category is not None:
            categories[state.primary_category] = None
        for category in categories:
            key = (category, state.service_unit or "", month)
            groups.setdefault(key, []).append(state)
    themes = []
    for (category, unit, month), cases in sorted(groups.items()):
        grades = {grade: 0 for grade in (*GRADES, "ungraded")}
        upheld = {value: 0 for value in (*UPHELD_VALUES, "undecided")}
        for case in cases:
            grades[case.risk_grade or "ungraded"] += 1
            upheld[case.upheld or "undecided"] += 1
        decided = len(cases) - upheld["undecided"]
        percent = round(100 * (upheld["yes"] + upheld["partly"]) / decided, 1) if decided else None
        themes.append(
            Theme(
                category=category,
                unit=unit or None,
                month=month,
                cases=len(cases),
                grades=grades,
                upheld=upheld,
                percent_upheld=percent,
            )  # fmt: skip
        )
    return themes
