"""A minimal HTTP/1.1 keep-alive client on asyncio streams.

Why not httpx or aiohttp: on a 2-core machine the load generator shares the CPU with
the server under test; a client that does little more than write bytes and read a
Content-Length body takes the least of it, so the figures describe the server.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except ConnectionError:
                pass

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Response:
        assert self._reader is not None and self._writer is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body or method == "POST":
            lines.append("Content-Type: application/json")
            lines.append(f"Content-Length: {len(body)}")
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        parsed: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                parsed[name.strip().lower()] = value.strip()
        length = int(parsed.get("content-length", "0"))
        payload = await self._reader.readexactly(length) if length else b""
        return Response(status, parsed, payload)
