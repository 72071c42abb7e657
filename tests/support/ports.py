"""A free TCP port on the loopback interface, for a server a test starts in a subprocess."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on now (the OS's pick; another process could take it before the
    server binds it, which the tests accept)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
