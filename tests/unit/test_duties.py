"""The one segregation-of-duties rule (domain.shared.duties), on its own and in every check that
uses it: a person may not take both steps, whether in their own name or on someone's behalf.

The complaint and budget commands' own given-when-then tests are in test_complaint_rules.py
and test_budget_requests.py; here each rule's four cases are walked together."""

from __future__ import annotations

import pytest

from domain.shared.duties import people_of, require_two_people
from domain.shared.errors import SegregationOfDutiesError


def test_a_step_is_taken_by_its_actor_and_whom_the_actor_acted_for() -> None:
    assert people_of("ann") == {"ann"}
    assert people_of("pa-1", "ann") == {"pa-1", "ann"}
    assert people_of("ann", None) == people_of("ann", "") == {"ann"}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("ann", None), ("ann", None)),  # the same person
        (("ann", None), ("bob", "ann")),  # bob acting for the one who asked
        (("pa-1", "ann"), ("ann", None)),  # ann approving what was asked in her name
        (("pa-1", "ann"), ("pa-1", "bob")),  # the one who asked, now acting for another
    ],
)
def test_two_steps_sharing_a_person_are_refused(
    first: tuple[str, str | None], second: tuple[str, str | None]
) -> None:
    with pytest.raises(SegregationOfDutiesError) as refused:
        require_two_people(people_of(*first), people_of(*second), message="no")
    assert refused.value.code == "SEGREGATION_OF_DUTIES"


def test_two_different_people_pass_even_acting_for_others() -> None:
    require_two_people(people_of("ann"), people_of("bob"), message="no")
    require_two_people(people_of("pa-1", "ann"), people_of("bob", "carl"), message="no")
