"""Large answers are gzipped for clients that accept it; small ones, and clients that do not,
get them plain; a route that compresses its own body (the board) is never compressed twice."""

from __future__ import annotations

import gzip
import json
from typing import Any

from litestar.testing import TestClient

from adapters.http.kit.compression import MINIMUM_SIZE
from tests.support.api import Headers


def _raw(client: TestClient[Any], url: str, headers: Headers) -> tuple[Any, bytes]:
    """The reply and its body as sent (httpx would inflate it otherwise)."""
    with client.stream("GET", url, headers=headers) as reply:
        return reply, b"".join(reply.iter_raw())


def test_a_large_json_answer_is_gzipped_when_accepted(client: TestClient[Any]) -> None:
    reply, body = _raw(client, "/schema/openapi.json", {"Accept-Encoding": "gzip"})
    assert reply.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in reply.headers["vary"].lower()
    document = json.loads(gzip.decompress(body))
    assert document["openapi"].startswith("3.1")
    assert len(body) * 3 < len(json.dumps(document))


def test_it_is_plain_for_a_client_that_does_not_accept_gzip(client: TestClient[Any]) -> None:
    reply, body = _raw(client, "/schema/openapi.json", {"Accept-Encoding": "identity"})
    assert "content-encoding" not in reply.headers
    assert json.loads(body)["openapi"].startswith("3.1")


def test_a_small_answer_is_not_compressed(client: TestClient[Any]) -> None:
    reply, body = _raw(client, "/health", {"Accept-Encoding": "gzip"})
    assert len(body) < MINIMUM_SIZE
    assert "content-encoding" not in reply.headers


def test_the_board_is_gzipped_once(read_client: TestClient[Any], staff: Headers) -> None:
    reply, body = _raw(read_client, "/api/v1/flow/board", {**staff, "Accept-Encoding": "gzip"})
    assert reply.status_code == 200
    assert reply.headers["content-encoding"] == "gzip"
    assert "units" in json.loads(gzip.decompress(body))  # one inflation gives the JSON
