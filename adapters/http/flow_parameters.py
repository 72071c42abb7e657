"""What the flow routes share: the ``flow`` read model's name, the ``unit`` query parameter
(board, census, metrics), the times of answers "as the system had it" (``asOf`` on the board,
``knownAt`` on the census and metrics) and the problems a read of it may answer."""

from datetime import datetime
from typing import Annotated

from litestar.params import QueryParameter

from adapters.http.kit.parameters import QUERY_TEXT_PATTERN
from adapters.http.kit.read_side import aware
from adapters.readmodels.visits import store as flow_store

NAME = flow_store.NAME

Unit = Annotated[
    str | None,
    QueryParameter(
        required=False,
        min_length=1,
        max_length=64,
        pattern=QUERY_TEXT_PATTERN,
        description="One unit (its code, e.g. `ED`); every unit when left out.",
    ),
]

_RECORDED = (
    "what the system had **recorded** by then (the stored events' timestamps, not the "
    "times the facts occurred: a late entry recorded afterwards does not show, however far "
    "back it is dated). RFC 3339 with an offset (URL-encode `+` as `%2B`); a time still to "
    "come is taken as now (the answer's `asOf`/`knownAt` says which time it is)."
)
AsOf = Annotated[
    datetime | None,
    QueryParameter(
        name="asOf",
        required=False,
        description=f"The board as the system had it at this time: {_RECORDED}",
    ),
]
KnownAt = Annotated[
    datetime | None,
    QueryParameter(
        name="knownAt",
        required=False,
        description=f"Answer as known at this time: {_RECORDED}",
    ),
]


def known_time(name: str, moment: datetime | None, now: datetime) -> datetime | None:
    """An ``asOf``/``knownAt`` time, checked (with an offset, within the times a record can
    hold), and a time still to come taken as ``now``: nothing can have been recorded after
    now, so that is the answer (a client's clock a little ahead gets it, not a 400), and
    the answer names ``now``, never a time it cannot know about yet."""
    moment = aware(name, moment)
    return None if moment is None else min(moment, now)
