"""The live board (``GET /api/v1/flow/board/events``) against a real server: what a wall
screen's stream sends, how it resumes, who may open it, and what the trail records."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.support.live_server import Server, live_server

EVENTS = "/api/v1/flow/board/events"
MAX_SECONDS = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with live_server(
        tmp_path_factory.mktemp("stream"), BOARD_STREAM_MAX_SECONDS=str(MAX_SECONDS)
    ) as running:
        yield running


@dataclass
class Event:
    event: str
    data: str
    id: str | None

    def json(self) -> Any:
        return json.loads(self.data)


def events_of(reply: httpx.Response) -> Iterator[Event]:
    """The stream's events as they come (the SSE wire format: fields, a blank line)."""
    fields: dict[str, list[str]] = {}
    for line in reply.iter_lines():
        if line == "":
            if "event" in fields or "data" in fields:
                yield Event(fields.get("event", ["message"])[0], "\n".join(fields.get("data", [])),
                            fields.get("id", [None])[0])  # fmt: skip
            fields = {}
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)


def walk_in(server: Server, unit: str = "ED", *, projected: bool = False) -> str:
    """A walk-in's patientRef; ``projected``: once the board's read model holds it."""
    ref = f"P-{uuid.uuid4().hex[:10]}"
    arrival = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
    body = {"patientRef": ref, "visitClass": "EMER", "serviceUnit": unit, "arrivalAt": arrival}
    position = server.post("/visits/walk-ins", body, "clerk.ann", "clerk")["position"]
    if projected:
        board = server.api.get(
            "/api/v1/flow/board", params={"minPosition": position, "waitMs": 5000},
            headers=server.headers("nurse.jo", "nurse"),
        )  # fmt: skip
        assert board.status_code == 200 and ref in board.text, board.text
    return ref


def stream(server: Server, *roles: str, **headers: str) -> Any:
    return httpx.stream(
        "GET", f"{server.url}{EVENTS}", params={"unit": "ED"}, timeout=10,
        headers={**server.headers("screen", *roles), **headers},
    )  # fmt: skip


def test_a_stream_starts_with_the_board_and_sends_a_write_within_a_second(server: Server) -> None:
    with stream(server, "nurse") as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in reply.headers  # never held back to fill a gzip block
        events = events_of(reply)
        first = next(events)
        assert first.event == "board" and first.id is not None and first.id.isdigit()
        assert first.json()["unit"] == "ED"
        ref = walk_in(server)
        written = time.monotonic()
        for event in events:
            if event.event == "board" and ref in event.data:
                break
        assert time.monotonic() - written < 1.0
        assert int(event.id or 0) > int(first.id)


def test_a_stream_resumed_at_the_current_position_sends_no_board_until_something_moves(
    server: Server,
) -> None:
    with stream(server, "nurse", **{"Last-Event-ID": str(10**12)}) as reply:
        events = events_of(reply)
        first = next(events)
        assert first.event == "status"  # nothing the screen has not seen
        status = first.json()
        assert set(status) == {"position", "head", "lagEvents", "lagSeconds", "state"}
        ref = walk_in(server)
        board = next(e for e in events if e.event == "board")
        assert ref in board.data


def test_a_stream_resumed_behind_the_position_starts_with_the_board_as_it_is_now(
    server: Server,
) -> None:
    missed = walk_in(server, projected=True)  # written while the screen was away
    with stream(server, "nurse", **{"Last-Event-ID": "1"}) as reply:
        first = next(events_of(reply))
    assert first.event == "board" and missed in first.data


def test_the_query_resumes_a_stream_as_the_header_does(server: Server) -> None:
    url = f"{server.url}{EVENTS}?unit=ED&lastEventId={10**12}"
    with httpx.stream("GET", url, headers=server.headers("screen", "nurse"), timeout=10) as reply:
        assert next(events_of(reply)).event == "status"


def test_a_stream_ends_after_its_longest_life_so_the_browser_reconnects(server: Server) -> None:
    opened = time.monotonic()
    with stream(server, "clerk") as reply:
        kinds = [e.event for e in events_of(reply)]  # ends by itself
    assert MAX_SECONDS - 0.5 <= time.monotonic() - opened < MAX_SECONDS + 3
    assert kinds[0] == "board" and "expired" not in kinds


@pytest.mark.parametrize(("roles", "status"), [(("auditor",), 403), (("finance",), 403)])
def test_only_board_readers_may_open_it(
    server: Server, roles: tuple[str, ...], status: int
) -> None:
    reply = server.api.get(EVENTS, headers=server.headers("x", *roles))
    assert reply.status_code == status
    assert reply.headers["content-type"] == "application/problem+json"


def test_without_a_token_it_is_a_401(server: Server) -> None:
    reply = server.api.get(EVENTS)
    assert reply.status_code == 401
    assert reply.json()["code"] == "UNAUTHENTICATED"


def test_a_screen_that_shows_new_patients_is_recorded_as_an_access_to_them(
    server: Server,
) -> None:
    # On the board before the screen opens: its first event is the board as projected.
    ref = walk_in(server, unit="RESUS", projected=True)
    with httpx.stream(
        "GET", f"{server.url}{EVENTS}", params={"unit": "RESUS"}, timeout=10,
        headers={**server.headers("wall.screen.7", "nurse"), "X-Purpose-Of-Use": "HOPERAT"},
    ) as reply:  # fmt: skip
        first = next(events_of(reply))
    assert ref in first.data
    auditor = server.headers("auditor.max", "auditor")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        page = server.api.get(
            "/api/v1/audit/events", params={"patientRef": ref, "actor": "wall.screen.7"},
            headers=auditor,
        ).json()  # fmt: skip
        reads = [e for e in page["items"] if e["kind"] == "access"]
        if reads:
            break
        time.sleep(0.2)
    [read] = reads
    assert (read["action"], read["purposeOfUse"]) == ("read board", "HOPERAT")
    assert ref in read["patientRefs"]
