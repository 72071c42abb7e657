"""The MLLP listener: HL7 v2 messages over TCP (optionally TLS), each ACKed after its commit.

Many connections at once, several messages per connection, one at a time on each: a
message's processing (``handle``: blocking, it waits for the database) runs in a worker
thread, and its ACK frames are written and drained before the next message of that
connection is looked at, so a connection's ACKs leave in the order of its messages and
only once ``handle`` has returned, i.e. after the transaction committed.

What the listener guards against: a frame over ``max_message_bytes`` closes the connection
(the sender gets no ACK and will resend; a half-read frame cannot be answered); bytes outside
frames are discarded (and counted); a connection with nothing to read, or a peer that does
not read its ACKs, for ``idle_timeout`` seconds is closed, and TCP keepalive finds peers
that vanished, so neither idle nor half-open connections stay. :meth:`MllpListener.stop`
stops accepting, closes the idle connections, lets each busy one finish its message and
send its ACKs, and then closes it.

Logs: a connection's opening and closing (with its peer address, the messages it carried
and why it closed); per message the processor logs its type, control id and outcome, with
this connection's id bound. Never a message's values.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import socket
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from adapters.hl7.framing import DEFAULT_MAX_MESSAGE_BYTES, FrameDecoder, FrameTooLarge, frame

log = structlog.get_logger("mllp")

#: Bytes asked of the socket per read.
READ_CHUNK = 64 * 1024
#: How long a TLS handshake may take before the connection is dropped.
TLS_HANDSHAKE_TIMEOUT = 30.0
#: Seconds of silence before TCP keepalive probes a peer (where the OS lets us set it).
KEEPALIVE_IDLE = 60
#: How long ``stop`` waits for busy connections to finish their message.
DEFAULT_GRACE_SECONDS = 30.0
#: Connections served at once; one more is closed at once. Each may hold a frame of up to
#: ``max_message_bytes`` while it arrives, so this bounds the memory unfinished frames take.
DEFAULT_MAX_CONNECTIONS = 100

Handle = Callable[[bytes], list[bytes]]


def server_tls_context(
    cert_file: Path, key_file: Path, client_ca_file: Path | None = None
) -> ssl.SSLContext:
    """A server TLS context (TLS 1.2 or later). With ``client_ca_file``, clients must send a
    certificate that CA bundle verifies (mutual TLS); no system CA is trusted for that, only
    the bundle. Raises ``ssl.SSLError``/``OSError`` when a file cannot be loaded."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=cert_file, keyfile=key_file)
    if client_ca_file is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=client_ca_file)
    return context


@dataclass(eq=False)
class _Connection:
    number: int
    peer: str
    task: asyncio.Task[None] | None
    #: Processing a message (or writing its ACKs): ``stop`` lets it finish.
    busy: bool = False
    messages: int = 0
    decoder: FrameDecoder = field(default_factory=FrameDecoder)


class MllpListener:
    """Serves ``handle`` (one message's bytes in, its ACKs' bytes out) over MLLP.

    Use from one event loop: ``await start()``, later ``await stop()``. ``port`` 0 binds a
    free port (see :attr:`port`)."""

    def __init__(
        self,
        handle: Handle,
        *,
        host: str = "127.0.0.1",
        port: int,
        ssl_context: ssl.SSLContext | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        idle_timeout: float = 300.0,
        threads: int = 8,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self._handle = handle
        self.host = host
        self._port = port
        self._ssl = ssl_context
        self._max_message_bytes = max_message_bytes
        self._idle_timeout = idle_timeout
        self._threads = threads
        self._grace = grace_seconds
        self._max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._connections: set[_Connection] = set()
        self._numbers = itertools.count(1)
        self._stopping = False
        self._bound_port = 0

    @property
    def port(self) -> int:
        """The bound port (the one the OS chose, when constructed with 0)."""
        return self._bound_port or self._port

    @property
    def connections(self) -> int:
        return len(self._connections)

    async def start(self) -> None:
        """Bind and listen; raises OSError when the address cannot be bound."""
        self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="mllp")
        try:
            self._server = await asyncio.start_server(
                self._serve_connection, self.host, self._port, ssl=self._ssl,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT if self._ssl else None,
                reuse_address=True,
            )  # fmt: skip
        except BaseException:
            self._executor.shutdown(wait=False)
            raise
        self._bound_port = int(self._server.sockets[0].getsockname()[1])
        log.info("mllp.listening", host=self.host, port=self.port, tls=self._ssl is not None)

    async def stop(self) -> None:
        """Stop accepting; close idle connections at once and busy ones once their message
        is answered (cancelled after ``grace_seconds``); then wait for the worker threads,
        so no transaction is cut short by what the caller closes next."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            if not connection.busy and connection.task is not None:
                connection.task.cancel()
        tasks = [c.task for c in self._connections if c.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self._grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=5)
        if self._server is not None:
            await self._server.wait_closed()
        if self._executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown)
        log.info("mllp.stopped", host=self.host, port=self.port)

    # ---- one connection ------------------------------------------------------------------
    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = _peer_of(writer)
        connection = _Connection(
            next(self._numbers), peer, asyncio.current_task(),
            decoder=FrameDecoder(self._max_message_bytes),
        )  # fmt: skip
        if self._stopping:
            writer.close()
            return
        if len(self._connections) >= self._max_connections:
            # Refused before reading a byte: the engine retries, as after any lost connection.
            log.warning("mllp.connection_refused", peer=peer, reason="too many connections",
                        limit=self._max_connections)  # fmt: skip
            await _close(writer)
            return
        self._connections.add(connection)
        # Bound in this connection's task context: the processor's per-message lines,
        # logged in the worker thread, carry it too (the context is copied there).
        structlog.contextvars.bind_contextvars(mllp_connection=connection.number)
        _keep_alive(writer)
        log.info("mllp.connection_opened", peer=peer, tls=self._ssl is not None)
        reason = "listener stopped"
        try:
            reason = await self._converse(connection, reader, writer)
        except asyncio.CancelledError:
            reason = "listener stopped"
        except (ConnectionError, ssl.SSLError, OSError) as error:
            reason = f"connection error ({type(error).__name__})"
        except Exception:
            log.exception("mllp.connection_failed")
            reason = "internal error"
        finally:
            self._connections.discard(connection)
            await _close(writer)
            log.info(
                "mllp.connection_closed", peer=peer, reason=reason,
                messages=connection.messages, discarded_bytes=connection.decoder.discarded_bytes,
            )  # fmt: skip

    async def _converse(
        self, connection: _Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> str:
        """Read, answer, repeat; returns why the conversation ended."""
        while not self._stopping:
            connection.busy = False
            try:
                data = await asyncio.wait_for(reader.read(READ_CHUNK), self._idle_timeout)
            except TimeoutError:
                return "idle timeout"
            if not data:
                return "closed by the peer"
            connection.busy = True
            oversized: FrameTooLarge | None = None
            try:
                messages = connection.decoder.feed(data)
            except FrameTooLarge as error:
                messages, oversized = error.complete, error
            for message in messages:
                if not await self._answer(connection, writer, message):
                    return "the peer does not read its ACKs"
                if self._stopping:
                    return "listener stopped"
            if oversized is not None:
                log.warning("mllp.frame_too_large", limit=oversized.limit)
                return "frame too large"
        return "listener stopped"

    async def _answer(
        self, connection: _Connection, writer: asyncio.StreamWriter, message: bytes
    ) -> bool:
        """Process one message in a worker thread, then send its ACKs; False when the peer
        has not taken them within the idle timeout."""
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        replies = await loop.run_in_executor(self._executor, context.run, self._handle, message)
        connection.messages += 1
        for reply in replies:
            writer.write(frame(reply))
        try:
            await asyncio.wait_for(writer.drain(), self._idle_timeout)
        except TimeoutError:
            return False
        return True


def _peer_of(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


def _keep_alive(writer: asyncio.StreamWriter) -> None:
    """TCP keepalive, so a peer that vanished (power loss, a dropped route) is found even
    while the connection would otherwise wait quietly."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE)
    except OSError:
        pass  # not a TCP socket (a test's socketpair), or the OS refuses: timeouts remain


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 5)
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
        pass  # the peer is gone or will not finish the TLS close: nothing left to do
