"""The PostgreSQL ``LISTEN``/``NOTIFY`` channels of a store. Channels are database-wide, so
each is named after the store's schema (or carries it in its payload): the stores of other
schemas in the same database (tests, benchmarks, tenants) never wake each other's workers."""

from __future__ import annotations

#: A read-your-writes request notifies this channel when the read model it waits for is
#: behind (payload ``<schema>:<read model>``): that model's worker ends its batch interval
#: early (``adapters.readmodels.connection.WorkerConnection.linger``).
WANTED_CHANNEL = "patient_services_wanted"


def events_channel(schema: str) -> str:
    """The channel every insert into this schema's events table notifies and the live
    read-model workers listen on. (The library names it after the table alone, the same in
    every schema.) At most 63 bytes, PostgreSQL's longest identifier: longer names are cut
    the same way here as by the server."""
    return f"patient_services_events.{schema}"[:63]
