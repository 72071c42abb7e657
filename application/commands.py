"""Building blocks shared by every aggregate's commands.

Commands are msgspec Structs: the HTTP layer decodes request bodies straight into
them (camelCase on the wire, unknown fields refused), so the shape of a command is
written once. Each command names the roles that may issue it (domain-spec §5) and
knows how to apply itself to its aggregate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

import msgspec

#: RFC 3339 with an offset; a time without one is refused when decoding.
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
#: Opaque references and codes: never names or free text, so never PHI.
Ref = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/ -]*$")]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class Command(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """Every command may say when it happened (default: now) and why."""

    roles: ClassVar[frozenset[str]] = frozenset()
    #: A command that creates its aggregate rather than changing one.
    creates: ClassVar[bool] = False

    occurred_at: AwareDatetime | None = None
    reason: Reason | None = None

    def business_time(self) -> tuple[str, datetime | None]:
        """When the fact happened in the hospital, and the field that said so: it becomes
        the envelope's ``occurred_at``, checked against the 5-minute rule. A command with a
        time of its own overrides this."""
        return "occurredAt", self.occurred_at

    def fields(self) -> dict[str, Any]:
        """The command's own fields (without occurredAt/reason), for handlers."""
        return {
            name: getattr(self, name)
            for name in self.__struct_fields__
            if name not in ("occurred_at", "reason")
        }
