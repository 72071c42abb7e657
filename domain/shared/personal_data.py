"""Which fields of an aggregate's events hold personal free text, and whose it is.

An aggregate that stores free text about a person (a complaint's narrative, its findings, the
reasons given for its steps) declares it with :class:`PersonalText`. The event store seals
those fields under a data key that belongs to the data subject the aggregate's creation event
names, so erasing the subject (destroying the key) removes the text everywhere at once while
every stored event, and the hash chain over them, stays exactly as it was. The domain only
declares: sealing and opening are the persistence adapter's work.

After an erasure a sealed field reads as :data:`ERASED_TEXT`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: What a sealed field reads as once its data subject was erased.
ERASED_TEXT = "[erased]"


@dataclass(frozen=True)
class PersonalText:
    #: The creation event's field naming the data subject (``complainant_ref``).
    subject_field: str
    #: Event class name → its own fields of personal free text.
    fields: Mapping[str, tuple[str, ...]]
    #: Fields of every event of the aggregate (the envelope's free-text ``reason``).
    every_event: tuple[str, ...] = ("reason",)
    #: What the text is, in words for an erasure certificate: field → description.
    kinds: Mapping[str, str] = field(default_factory=dict)

    def fields_of(self, event_class_name: str) -> tuple[str, ...]:
        """The personal free-text fields of one event class."""
        return (*self.fields.get(event_class_name, ()), *self.every_event)
