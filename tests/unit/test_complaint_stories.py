"""Each canonical ComplaintCase history (``tests/support/complaints.py``), the *given* of the
complaint tests, reaches the state it promises and replays to an equal case.
"""

from __future__ import annotations

import pytest

from domain.complaints.vocabulary import NHS_ENGLAND_2009, STATES, US_CMS
from tests.support.complaints import story_to
from tests.support.gwt import given


@pytest.mark.parametrize("policy", [NHS_ENGLAND_2009, US_CMS])
@pytest.mark.parametrize("status", STATES)
def test_each_story_reaches_its_status_and_replays_to_the_live_case(
    status: str, policy: str
) -> None:
    story = story_to(status, policy=policy)
    assert story.case is not None and story.case.status == status
    assert given(story.events) == story.case
