"""The reply every command sends (request bodies are the application's command Structs; each
resource module holds the response Structs of its own routes)."""

from __future__ import annotations

from uuid import UUID

import msgspec


# Shared, so it stays in the kit: every command route of every resource answers with it
# (kit/commands.py builds it), and the OpenAPI document names it once.
class CommandAccepted(msgspec.Struct, frozen=True):
    """The reply to every command on an aggregate; also sent in an ``ETag: "<version>"``."""

    id: UUID
    version: int
    #: The event's position in the global log: pass it as ``minPosition`` to read models.
    position: int
