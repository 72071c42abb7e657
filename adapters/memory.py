"""In-memory persistence with :meth:`position_of`, for fast unit tests.

``POPOFactory`` ignores ``APPLICATION_RECORDER_TOPIC`` (it always builds a plain
``POPOApplicationRecorder``), so this module also provides a factory that honours it; select
both with :data:`MEMORY_ENV`.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.utils import resolve_topic

MEMORY_ENV: dict[str, str] = {
    "PERSISTENCE_MODULE": "adapters.memory:MemoryFactory",
    "APPLICATION_RECORDER_TOPIC": "adapters.memory:MemoryEventRecorder",
}


class MemoryEventRecorder(POPOApplicationRecorder):
    def position_of(self, originator_id: UUID, version: int) -> int | None:
        """The notification id (global position) of one stored event, or None if absent."""
        with self._database_lock:
            # Not self._stored_events_index[...]: it is a defaultdict, and reading would
            # add an entry. The index holds a 0-based list index; notification ids are 1-based.
            index = self._stored_events_index.get(str(originator_id), {}).get(version)
        return None if index is None else index + 1


class MemoryFactory(POPOFactory):
    def application_recorder(self) -> ApplicationRecorder:
        topic = self.env.get(self.APPLICATION_RECORDER_TOPIC)
        recorder_class = resolve_topic(topic) if topic else MemoryEventRecorder
        assert issubclass(recorder_class, POPOApplicationRecorder), recorder_class
        return recorder_class()
