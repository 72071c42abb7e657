"""What the flow routes share: the ``flow`` read model's name, the ``unit`` query parameter
(board, census, metrics) and the problems a read of it may answer."""

from typing import Annotated

from litestar.params import QueryParameter

from adapters.http.kit.parameters import QUERY_TEXT_PATTERN
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
