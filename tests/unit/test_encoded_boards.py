"""The flow board's per-second cache: served again within its second, built once per unit at
the turn of a second (the others get the previous board meanwhile), never older than a
request's minPosition."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from adapters.http.flow_board import EncodedBoard, EncodedBoards, accepts_gzip

T0 = datetime(2026, 11, 27, 8, 0, 0, tzinfo=timezone.utc)
T1 = T0 + timedelta(seconds=1)


def test_the_first_request_of_a_second_builds_and_the_rest_reuse_it() -> None:
    boards = EncodedBoards()
    assert boards.fresh("ED", T0, None) == (None, True)
    boards.keep("ED", EncodedBoard(T0, 10, b"b0"), built_by_us=True)

    assert boards.fresh("ED", T0, None) == (EncodedBoard(T0, 10, b"b0"), False)
    assert boards.fresh("ED", T0, 10) == (EncodedBoard(T0, 10, b"b0"), False)


def test_while_the_next_second_is_built_the_others_get_the_previous_board() -> None:
    boards = EncodedBoards()
    boards.fresh("ED", T0, None)
    boards.keep("ED", EncodedBoard(T0, 10, b"b0"), built_by_us=True)

    assert boards.fresh("ED", T1, None) == (None, True)  # this one builds
    assert boards.fresh("ED", T1, None) == (EncodedBoard(T0, 10, b"b0"), False)
    boards.keep("ED", EncodedBoard(T1, 11, b"b1"), built_by_us=True)
    assert boards.fresh("ED", T1, None) == (EncodedBoard(T1, 11, b"b1"), False)


def test_a_min_position_beyond_the_kept_board_always_goes_to_the_view() -> None:
    boards = EncodedBoards()
    boards.fresh("ED", T0, None)
    boards.keep("ED", EncodedBoard(T0, 10, b"b0"), built_by_us=True)

    assert boards.fresh("ED", T0, 11) == (None, True)
    assert boards.fresh("ED", T0, 11) == (None, False)  # building already: read its own


def test_a_failed_build_lets_the_next_request_build() -> None:
    boards = EncodedBoards()
    assert boards.fresh("ED", T0, None) == (None, True)
    boards.keep("ED", None, built_by_us=True)  # the read failed (e.g. PROJECTION_LAGGING)
    assert boards.fresh("ED", T0, None) == (None, True)


def test_a_board_too_old_is_not_served_while_another_is_built() -> None:
    boards = EncodedBoards()
    boards.fresh("ED", T0, None)
    boards.keep("ED", EncodedBoard(T0, 10, b"b0"), built_by_us=True)
    later = T0 + timedelta(seconds=EncodedBoards.STALE_SECONDS + 1)

    assert boards.fresh("ED", later, None) == (None, True)
    assert boards.fresh("ED", later, None) == (None, False)


def test_a_board_is_served_again_until_its_max_age_then_rebuilt() -> None:
    boards = EncodedBoards(max_age=5)
    assert boards.fresh("ED", T0, None) == (None, True)
    built = EncodedBoard(T0, 7, b"{}")
    boards.keep("ED", built, built_by_us=True)

    assert boards.fresh("ED", T0 + timedelta(seconds=4), None) == (built, False)
    assert boards.fresh("ED", T0 + timedelta(seconds=4), 8) == (None, True)  # a newer write
    boards.keep("ED", None, built_by_us=True)
    assert boards.fresh("ED", T0 + timedelta(seconds=5), None) == (None, True)


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip, deflate, br", True), ("br;q=1.0, gzip;q=0.8", True), ("*", True),
        ("gzip;q=0", False), ("identity", False), (None, False), ("", False),
        ("*, gzip;q=0", False), ("deflate, *;q=0.1", True), ("GZIP", True),
    ],
)  # fmt: skip
def test_gzip_is_sent_only_where_accept_encoding_allows_it(
    header: str | None, accepted: bool
) -> None:
    assert accepts_gzip(header) is accepted
