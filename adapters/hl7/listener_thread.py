"""The MLLP listener on an event loop of its own, in a thread: how ``serve`` (beside uvicorn)
and ``mllp`` run it from synchronous code."""

from __future__ import annotations

import asyncio
import threading

from adapters.hl7.listener import MllpListener


class ListenerThread:
    """An :class:`MllpListener` on its own event loop in a daemon thread.

    ``serve`` runs it beside uvicorn and ``mllp`` on its own: ``start()`` returns once the
    port is bound (raising the bind error if not), ``stop()`` stops it gracefully and
    returns when it has."""

    def __init__(self, listener: MllpListener) -> None:
        self.listener = listener
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mllp-listener", daemon=True)

    @property
    def port(self) -> int:
        return self.listener.port

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError("the MLLP listener did not start in time")
        if self._error is not None:
            self._thread.join()
            raise self._error

    def stop(self, timeout: float | None = None) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and self._thread.is_alive():
            loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.listener.start()
        except BaseException as error:
            self._error = error
            self._started.set()
            return
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            await self.listener.stop()
