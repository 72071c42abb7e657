"""Malformed HTTP against a real ``patient-services serve``: uvicorn answers these before the
app sees anything, so they are tried over a raw socket."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from adapters.http.server import MAX_REQUEST_HEAD_BYTES
from tests.support.live_server import live_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with live_server(tmp_path_factory.mktemp("raw-http"), JWT_SECRET="s" * 40) as running:
        port = urlsplit(running.url).port
        assert port is not None
        yield port


def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as given; the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def assert_problem(answer: tuple[int, dict[str, str], bytes], status: int, code: str) -> None:
    got_status, headers, body = answer
    assert got_status == status, (headers, body)
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert (problem["status"], problem["code"]) == (status, code)
    assert problem["correlationId"] == headers["x-correlation-id"]
    assert int(headers["content-length"]) == len(body)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Correlation-Id: a\x00b\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-On-Behalf-Of: a\x01b\r\n\r\n",
        b"GET /health?\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["request-line", "header-name", "nul-in-header", "control-in-header", "nul-in-target"],
)
def test_a_request_that_does_not_parse_is_a_400_problem(server: int, request_bytes: bytes) -> None:
    assert_problem(exchange(server, request_bytes), 400, "VALIDATION")


def test_a_c1_character_in_a_header_passes_the_parser_and_is_refused_by_the_app(
    server: int,
) -> None:
    request = (
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Correlation-Id: a\x85b\r\n\r\n"
    )
    status, headers, body = exchange(server, request)
    assert status == 400, body
    assert json.loads(body)["errors"][0]["field"] == "X-Correlation-Id"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * MAX_REQUEST_HEAD_BYTES + b"\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(MAX_REQUEST_HEAD_BYTES // 100))
        + b"\r\n",
        b"GET /health?q=" + b"a" * MAX_REQUEST_HEAD_BYTES + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["one-large-header", "many-headers", "long-target"],
)
def test_a_request_head_over_the_bound_is_a_431_problem(server: int, request_bytes: bytes) -> None:
    assert_problem(exchange(server, request_bytes), 431, "REQUEST_HEADERS_TOO_LARGE")


def test_a_request_head_within_the_bound_is_served(server: int) -> None:
    filler = b"a" * (MAX_REQUEST_HEAD_BYTES - 200)
    request = (
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " + filler + b"\r\n\r\n"
    )
    status, _, body = exchange(server, request)
    assert status == 200, body
