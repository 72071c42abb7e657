"""The patient-flow read model over HTTP (domain-spec §1): ``GET /api/v1/flow/board``,
``/flow/census``, ``/flow/metrics`` and ``GET /api/v1/visits/{id}/timeline``.

Every route reads the ``flow`` read model through :func:`~adapters.http.kit.read_side.query_view`:
``minPosition``/``waitMs`` for read-your-writes (503 ``PROJECTION_LAGGING`` past the wait) and
``X-Projection-Position`` on every answer. Roles (domain-spec §5): the board for clerks,
nurses, clinicians and managers; census and timelines for nurses and clinicians; metrics for
managers. Times are RFC 3339 with an offset.
"""

from zoneinfo import ZoneInfo

from litestar import Router
from litestar.handlers import HTTPRouteHandler

from adapters.http.flow_beds import get_bed_board, occupancy_handler
from adapters.http.flow_board import EncodedBoards, board_handler
from adapters.http.flow_board_stream import BoardWatcher, board_stream_handler
from adapters.http.flow_census import get_census
from adapters.http.flow_metrics import metrics_handler
from adapters.http.flow_timeline import get_timeline


def flow_router(zone: ZoneInfo, board_max_age: int = 1, stream_max_seconds: int = 300) -> Router:
    """The flow routes; ``zone`` is the facility's time zone (hourly buckets of metrics);
    a board is served again for ``board_max_age`` seconds (see :class:`EncodedBoards`), and
    a live board stream closed after ``stream_max_seconds``."""
    # The polling route and the live one share the boards built (one per unit and second).
    boards = EncodedBoards(max_age=board_max_age)
    handlers: list[HTTPRouteHandler] = [
        board_handler(boards),
        board_stream_handler(boards, BoardWatcher(), stream_max_seconds),
        get_census,
        metrics_handler(zone),
        get_timeline,
        get_bed_board,
        occupancy_handler(zone),
    ]
    return Router(path="/", route_handlers=handlers, tags=["Patient flow"])
