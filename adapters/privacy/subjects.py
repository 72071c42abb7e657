"""What an erasure certificate lists: a data subject's records and the fields that held text.

A subject's records are those the vault noted when it sealed their text, and, in a store that
held complaints before sealing began, those whose creation event (stored in plain text then)
names the subject. The older ones are found by reading the creation events stored up to the
position where sealing began (the ``sealing_began`` mark, noted when the vault is first opened
on a store; 0 on a store that began with sealing, so nothing is read then).

For each record, every event's declared fields are sorted into those sealed under the erased
keys (``records``) and those holding plain text (``unsealed_records``: written before sealing
began, so the erasure could not remove them; the README says what to do about them). Only
names and versions are listed, never a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, Mapper
from eventsourcing.utils import get_topic

from adapters.privacy.mapper import holds_text, sealed_tokens
from adapters.privacy.vault import DataKeyVault
from application.privacy.erasures import Inventory
from domain.shared.personal_data import PersonalText

#: The vault's mark of the last log position written before sealing began.
SEALING_BEGAN = "sealing_began"
_PAGE = 500


def note_sealing_began(vault: DataKeyVault, recorder: ApplicationRecorder) -> None:
    """Note, once per store, how far the log held text written in plain (see the module)."""
    if vault.watermark(SEALING_BEGAN) is None:
        vault.set_watermark(SEALING_BEGAN, recorder.max_notification_id() or 0)


class SubjectInventory:
    """The :data:`~application.privacy.erasures.TakeInventory` of the configured store."""

    def __init__(
        self,
        vault: DataKeyVault,
        recorder: ApplicationRecorder,
        mapper: Mapper[UUID],
        aggregates: Iterable[type[Aggregate]],
    ) -> None:
        self.vault = vault
        self.recorder = recorder
        self.mapper = mapper
        self._declared: dict[str, PersonalText] = {
            aggregate.__name__: aggregate.personal_text  # type: ignore[attr-defined]
            for aggregate in aggregates
        }
        self._creations = [
            (aggregate.__name__, get_topic(event))
            for aggregate in aggregates
            for event in vars(aggregate).values()
            if isinstance(event, type) and issubclass(event, Aggregate.Created)
        ]

    def __call__(self, subject_ref: str, key_ids: frozenset[str]) -> Inventory:
        records: list[dict[str, Any]] = []
        unsealed: list[dict[str, Any]] = []
        kinds: set[str] = set()
        record_ids = {UUID(r) for r in self.vault.records_of(subject_ref)}
        record_ids.update(self._plain_records_of(subject_ref))
        for record_id in sorted(record_ids, key=str):
            aggregate_type, sealed, plain = self._fields_of(record_id, key_ids)
            declaration = self._declared.get(aggregate_type)
            for found, into in ((sealed, records), (plain, unsealed)):
                if found:
                    into.append(
                        {
                            "aggregate_type": aggregate_type,
                            "aggregate_id": str(record_id),
                            "events": found,
                        }
                    )
                    if declaration is not None:
                        for event in found:
                            kinds.update(_kinds(declaration, event["fields"]))
        return Inventory(records=records, unsealed_records=unsealed, data_kinds=sorted(kinds))

    def _fields_of(
        self, record_id: UUID, key_ids: frozenset[str]
    ) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
        aggregate_type = ""
        sealed: list[dict[str, Any]] = []
        plain: list[dict[str, Any]] = []
        for stored in self.recorder.select_events(record_id):
            aggregate_type, _, event_name = stored.topic.rpartition(":")[2].rpartition(".")
            declaration = self._declared.get(aggregate_type)
            if declaration is None:
                continue
            state = self._state_of(stored.state)
            in_keys: list[str] = []
            in_plain: list[str] = []
            for name in declaration.fields_of(event_name):
                value = state.get(name)
                tokens = sealed_tokens(state, (name,)).values()
                if any(key_id in key_ids for key_id, _ in tokens):
                    in_keys.append(name)
                elif not tokens and value != "" and holds_text(value):
                    in_plain.append(name)
            for names, into in ((in_keys, sealed), (in_plain, plain)):
                if names:
                    into.append({"version": stored.originator_version, "fields": names})
        return aggregate_type, sealed, plain

    def _state_of(self, state: bytes) -> dict[str, Any]:
        decoded: dict[str, Any] = self.mapper.transcoder.decode(state)
        return decoded

    def _plain_records_of(self, subject_ref: str) -> Iterator[UUID]:
        """The records created before sealing began whose creation event names the subject."""
        began = self.vault.watermark(SEALING_BEGAN) or 0
        if began <= 0 or not self._creations:
            return
        fields = {topic: self._declared[name].subject_field for name, topic in self._creations}
        start = 1
        while start <= began:
            page = self.recorder.select_notifications(start, _PAGE, stop=began, topics=list(fields))
            for notification in page:
                state = self._state_of(notification.state)
                if state.get(fields[notification.topic]) == subject_ref:
                    yield UUID(str(notification.originator_id))
            if len(page) < _PAGE:
                return
            start = page[-1].id + 1


def _kinds(declaration: PersonalText, names: Iterable[str]) -> Iterator[str]:
    for name in names:
        yield declaration.kinds.get(name, name)
