"""The event store's mapper, sealing personal free text on the way in and opening it on the
way out.

Aggregates declare their personal text (:class:`domain.shared.personal_data.PersonalText`);
for an event of such an aggregate, every declared field holding a string is stored sealed
under the data subject's live key (:mod:`.sealing`), the subject being named by the
aggregate's creation event. Everything else is stored as the library would store it, so the
stored bytes, and the audit trail's hash chain over them, only ever hold ciphertext, and
destroying a key changes no stored byte.

On the way out a sealed field is opened with its key, or reads as
:data:`~domain.shared.personal_data.ERASED_TEXT` when the key was destroyed. A value that is
not sealed (text stored before sealing began) is returned as it is. A sealed value whose key
the vault never held, or that does not open, reads as :data:`UNREADABLE_TEXT` and is logged
(its record and field, never its text): one such value must not make the record unreadable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

from adapters.privacy import sealing
from adapters.privacy.key_use import opened_with
from adapters.privacy.vault import DataKeyVault, UnknownKeyError
from domain.shared.personal_data import ERASED_TEXT, PersonalText

log = structlog.get_logger("privacy")

#: What a sealed field reads as when it cannot be opened (see the module's docstring).
UNREADABLE_TEXT = "[sealed text unreadable]"

#: The stored first event of a record, for a record whose subject the vault was not told
#: (one created before sealing began).
FirstEvent = Callable[[UUID], StoredEvent | None]


class _Sealed:
    """One event class's personal fields."""

    __slots__ = ("creates", "fields", "subject_field")

    def __init__(self, declaration: PersonalText, fields: tuple[str, ...], creates: bool):
        self.subject_field = declaration.subject_field
        self.fields = fields
        self.creates = creates


def sealed_event_classes(aggregates: Iterable[type[Aggregate]]) -> dict[type, _Sealed]:
    """Every event class of ``aggregates`` that declare personal text, with its fields."""
    sealed: dict[type, _Sealed] = {}
    for aggregate in aggregates:
        declaration: PersonalText | None = getattr(aggregate, "personal_text", None)
        if declaration is None:
            continue
        for name, value in vars(aggregate).items():
            if isinstance(value, type) and issubclass(value, Aggregate.Event):
                creates = issubclass(value, Aggregate.Created)
                sealed[value] = _Sealed(declaration, declaration.fields_of(name), creates)
    return sealed


class SealingMapper(Mapper[UUID]):
    def __init__(
        self,
        transcoder: Transcoder,
        *,
        vault: DataKeyVault,
        aggregates: Iterable[type[Aggregate]],
        compressor: Any = None,
        cipher: Any = None,
    ) -> None:
        super().__init__(transcoder, compressor=compressor, cipher=cipher)
        self.vault = vault
        self.aggregates = tuple(aggregates)
        self._sealed = sealed_event_classes(self.aggregates)
        self._first_event: FirstEvent | None = None

    def close(self) -> None:
        self.vault.close()

    def attach(self, first_event: FirstEvent) -> None:
        """How to read a record's first event (the application's recorder, once built)."""
        self._first_event = first_event

    # ---- in ---------------------------------------------------------------------------
    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        sealed = self._sealed.get(type(domain_event))
        if sealed is None:
            return super().to_stored_event(domain_event)
        state = vars(domain_event)
        names = [f for f in sealed.fields if holds_text(state.get(f))]
        if not names:
            return super().to_stored_event(domain_event)
        record_id: UUID = state["originator_id"]
        subject = self._subject(sealed, state, record_id)
        key_id, key = self.vault.sealing_key(subject, record_id)

        def seal(text: str, name: str) -> str:
            context = sealing.context_of(str(record_id), name)
            return sealing.seal_text(key, key_id, text, context)

        copy = object.__new__(type(domain_event))
        object.__setattr__(copy, "__dict__", dict(state))
        for name in names:
            value = state[name]
            if isinstance(value, str):
                copy.__dict__[name] = seal(value, name)
            else:  # a mapping of answers: each text answer under its own name, field.key
                copy.__dict__[name] = {
                    k: seal(v, f"{name}.{k}") if isinstance(v, str) else v for k, v in value.items()
                }
        return super().to_stored_event(copy)

    def _subject(self, sealed: _Sealed, state: dict[str, Any], record_id: UUID) -> str:
        if sealed.creates:
            return str(state[sealed.subject_field])
        subject = self.vault.subject_of(record_id)
        if subject is not None:
            return subject
        # A record created before sealing began: its subject is in its first event.
        first = self._first_event(record_id) if self._first_event else None
        if first is None:
            raise LookupError(f"record {record_id} has no first event to name its subject")
        return str(getattr(super().to_domain_event(first), sealed.subject_field))

    # ---- out --------------------------------------------------------------------------
    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        event = super().to_domain_event(stored_event)
        sealed = self._sealed.get(type(event))
        if sealed is None:
            return event
        state = event.__dict__
        tokens = sealed_tokens(state, sealed.fields)
        if tokens:
            record_id = str(stored_event.originator_id)
            for path, text in self.open_fields(record_id, tokens).items():
                name, _, key = path.partition(".")  # a field's name holds no dot
                state[name] = {**state[name], key: text} if key else text
        return event

    def open_fields(self, record_id: str, tokens: dict[str, tuple[str, bytes]]) -> dict[str, str]:
        """Each field's text (or what it reads as: erased, unreadable) from its parsed
        sealed value."""
        names = list(tokens)
        opened = self._open_all([(record_id, name, tokens[name]) for name in names])
        return dict(zip(names, opened, strict=True))

    def reveal_all(self, values: Sequence[tuple[str, str, str | None]]) -> list[str | None]:
        """Stored values as they read now, each given as ``(record id, field, value)``: a
        sealed one opened (or erased, unreadable), any other as it is. One key lookup for
        all of them (the audit trail's copies of ``reason``, a page at a time)."""
        revealed: list[str | None] = [value for _, _, value in values]
        sealed = [
            (i, (record_id, name, token))
            for i, (record_id, name, value) in enumerate(values)
            if (token := sealing.parse(value)) is not None
        ]
        if sealed:
            opened = self._open_all([item for _, item in sealed])
            for (i, _), text in zip(sealed, opened, strict=True):
                revealed[i] = text
        return revealed

    def _open_all(self, items: list[tuple[str, str, tuple[str, bytes]]]) -> list[str]:
        looked_up_at = time.monotonic()  # the keys are known live from no earlier than this
        try:
            keys = self.vault.data_keys([key_id for _, _, (key_id, _) in items])
        except UnknownKeyError as e:
            if len(items) > 1:  # find which: the others must still open
                return [self._open_all([item])[0] for item in items]
            log.error("privacy.key_missing", record_id=items[0][0], error=str(e))
            return [UNREADABLE_TEXT]
        opened_with(
            live=[k for k, key in keys.items() if key is not None],
            erased=[k for k, key in keys.items() if key is None],
            at=looked_up_at,
        )
        return [self._open(keys, *item) for item in items]

    def _open(
        self, keys: dict[str, bytes | None], record_id: str, name: str, token: tuple[str, bytes]
    ) -> str:
        key_id, blob = token
        key = keys[key_id]
        if key is None:
            return ERASED_TEXT
        try:
            return sealing.open_text(key, blob, sealing.context_of(record_id, name))
        except sealing.InvalidTag:
            log.error("privacy.unopenable", record_id=record_id, field=name)
            return UNREADABLE_TEXT


def holds_text(value: object) -> bool:
    """A text field, or a mapping holding a text answer (what is sealed of a field)."""
    return isinstance(value, str) or (
        isinstance(value, dict) and any(isinstance(v, str) for v in value.values())
    )


def sealed_tokens(state: dict[str, Any], fields: Sequence[str]) -> dict[str, tuple[str, bytes]]:
    """The sealed values among ``fields`` of an event's state, parsed, by their sealing name:
    the field's, or ``field.key`` for an answer of a mapping (a response's checklist)."""
    tokens: dict[str, tuple[str, bytes]] = {}
    for name in fields:
        value = state.get(name)
        if isinstance(value, dict):
            for key, answer in value.items():
                if (token := sealing.parse(answer)) is not None:
                    tokens[f"{name}.{key}"] = token
        elif (token := sealing.parse(value)) is not None:
            tokens[name] = token
    return tokens
