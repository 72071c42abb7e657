"""uvicorn's HTTP/1.1 protocol (httptools), with the two answers it gives before the app sees
a request made like every other answer of the service.

* A request that does not parse (a malformed request line or header, a control character
  in a header) is answered by uvicorn itself with a ``text/plain`` 400; here it is an
  ``application/problem+json`` 400 with code ``VALIDATION`` and a new correlation id.
* The request line and headers together are bounded by :data:`MAX_REQUEST_HEAD_BYTES`
  (httptools has no limit of its own): past it, a 431 problem. A token, the identifier
  headers and the longest query string fit many times over.

``patient-services serve`` names :class:`ProblemHttpToolsProtocol` as uvicorn's ``http``
protocol (an import string, so each worker process imports it).
"""

from __future__ import annotations

import msgspec
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from adapters.http.kit.correlation import CORRELATION_HEADER, new_correlation_id
from adapters.http.kit.problems import PROBLEM_MEDIA_TYPE, TITLES, ProblemDetails, problem_type

IMPORT_STRING = "adapters.http.server:ProblemHttpToolsProtocol"
#: Request line plus headers, in bytes (h11's default bound too).
MAX_REQUEST_HEAD_BYTES = 16 * 1024
#: The bytes a header line adds beyond its name and value: ": " and CRLF.
_HEADER_LINE_OVERHEAD = 4


class RequestHeadTooLargeError(Exception):
    """Raised in a parser callback: httptools turns it into a parser error."""


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    _head_bytes = 0
    _head_too_large = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + _HEADER_LINE_OVERHEAD)
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_REQUEST_HEAD_BYTES:
            self._head_too_large = True
            raise RequestHeadTooLargeError

    def send_400_response(self, msg: str) -> None:
        """Called by uvicorn for every request the parser refused; the connection closes."""
        if self._head_too_large:
            status, code = 431, "REQUEST_HEADERS_TOO_LARGE"
            detail = f"The request line and headers exceed {MAX_REQUEST_HEAD_BYTES} bytes."
        else:
            status, code = 400, "VALIDATION"
            detail = "The request is not valid HTTP/1.1."
        default_headers = b"".join(
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        )
        self.transport.write(_problem_bytes(status, code, detail, default_headers))
        self.transport.close()


def _problem_bytes(status: int, code: str, detail: str, default_headers: bytes) -> bytes:
    correlation_id = new_correlation_id()
    problem = ProblemDetails(
        type=problem_type(code),
        title=TITLES[code],
        status=status,
        detail=detail,
        code=code,
        correlation_id=correlation_id,
    )
    body = msgspec.json.encode(problem)
    head = [
        STATUS_LINE[status],
        default_headers,  # date (and server, if enabled), as uvicorn sends them
        b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n",
        b"content-length: " + str(len(body)).encode() + b"\r\n",
        CORRELATION_HEADER.lower().encode() + b": " + correlation_id.encode() + b"\r\n",
        b"connection: close\r\n",
        b"\r\n",
    ]
    return b"".join(head) + body
