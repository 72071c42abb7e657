"""What a read returned, by identifiers only: the ``patientRef``s and record ids in an answer,
found by walking it (a Struct or dict before it is encoded; a body a route encoded itself is
decoded once per distinct body). The extractors of :mod:`adapters.http.kit.access`."""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import msgspec
import structlog

from adapters.fhir.common import PATIENT_REF_SYSTEM

log = structlog.get_logger("access")


class Found(NamedTuple):
    """What an answer returned, by identifiers only, each once, in the order met."""

    patient_refs: tuple[str, ...]
    record_ids: tuple[str, ...]


#: Finds them in what a handler returned (a Struct, a dict, a list, or JSON bytes).
Extractor = Callable[[Any], Found]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def fields_named(
    patient_refs: Iterable[str] = ("patient_ref",), record_ids: Iterable[str] = ("id", "visit_id")
) -> Extractor:
    """An extractor that walks the answer for fields with these (snake_case) names: a
    Struct's fields, a dict's keys (in either case), nested at any depth. Every string
    under a patient-ref field counts (a correction shows ``{before, after}``)."""
    ref_names = frozenset(patient_refs) | {_camel(n) for n in patient_refs}
    id_names = frozenset(record_ids) | {_camel(n) for n in record_ids}

    def walk(value: Any, refs: dict[str, None], ids: dict[str, None]) -> None:
        if isinstance(value, msgspec.Struct):
            items: Iterable[tuple[Any, Any]] = (
                (name, getattr(value, name)) for name in value.__struct_fields__
            )
        elif isinstance(value, dict):
            items = value.items()
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, refs, ids)
            return
        else:
            return
        for name, item in items:
            if name in ref_names:
                refs.update(dict.fromkeys(_strings(item)))
            elif name in id_names and item is not None and not isinstance(item, dict | list):
                ids[str(item)] = None
            else:
                walk(item, refs, ids)

    def extract(content: Any) -> Found:
        if isinstance(content, bytes):
            return _ENCODED.found(content, extract)
        refs: dict[str, None] = {}
        ids: dict[str, None] = {}
        walk(content, refs, ids)
        return Found(tuple(refs), tuple(ids))

    return extract


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


#: The default: ``patient_ref`` fields for patients, ``id`` and ``visit_id`` for records.
RETURNED_RECORDS = fields_named()


def fhir_records(content: Any) -> Found:
    """FHIR JSON: every resource's ``id`` (an Encounter's is its visit's) and every
    identifier of the patient-ref system (a subject, an Appointment's participant)."""
    refs: dict[str, None] = {}
    ids: dict[str, None] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            kind = value.get("resourceType")
            if kind is not None and kind not in ("Bundle", "OperationOutcome") and "id" in value:
                ids[str(value["id"])] = None
            if value.get("system") == PATIENT_REF_SYSTEM and isinstance(value.get("value"), str):
                refs[value["value"]] = None
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(content)
    return Found(tuple(refs), tuple(ids))


class _EncodedBodies:
    """Refs and ids of bodies a route encoded itself (the flow board keeps its boards
    encoded, and gzipped, for every screen polling them): decoded once per body object and
    remembered by identity, holding the body so its identity cannot be reused."""

    SIZE = 64

    def __init__(self) -> None:
        self._found: OrderedDict[int, tuple[bytes, Found]] = OrderedDict()
        self._lock = threading.Lock()

    def found(self, body: bytes, extract: Extractor) -> Found:
        key = id(body)
        with self._lock:
            hit = self._found.get(key)
            if hit is not None and hit[0] is body:
                return hit[1]
        try:
            plain = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
            result = extract(msgspec.json.decode(plain)) if plain else Found((), ())
        except (OSError, EOFError, msgspec.DecodeError):
            # Not JSON: a route that encodes its answer otherwise needs its own extractor.
            # The read is still recorded (route, query), never turned into an error.
            log.warning("access.body_not_json", size=len(body))
            result = Found((), ())
        with self._lock:
            self._found[key] = (body, result)
            self._found.move_to_end(key)
            while len(self._found) > self.SIZE:
                self._found.popitem(last=False)
        return result


_ENCODED = _EncodedBodies()
