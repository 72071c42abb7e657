"""Descriptions for the OpenAPI document's schemas and their properties, from the code.

The request and response bodies are msgspec Structs whose fields are documented where they
are declared, by a ``#:`` comment above the field (the convention Sphinx reads too). Litestar
does not read those comments, so the document listed every property without a description.
Here each component schema is matched to its Struct by name, each property to its field by
its name on the wire, and the field's comment becomes the property's description (and the
class docstring's first paragraph the schema's). A field without a comment takes the
:data:`GLOSSARY` entry for its wire name, if the name has one meaning across the API.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Iterator
from functools import cache

import msgspec
from litestar.openapi.spec import Reference, Schema

#: Properties that mean the same wherever they appear (a field's own comment comes first).
GLOSSARY = {
    "occurredAt": "When the fact happened, RFC 3339 with an offset; defaults to now. Not more "
    "than 5 minutes ahead of the server's clock.",
    "reason": "Why, in words: recorded with the event and shown in the audit trail.",
    "version": "The record's version: the number of events in its stream.",
    "position": "The event's position in the log (what `minPosition` and "
    "`X-Projection-Position` compare against).",
    "id": "The record's id (a UUID).",
    "patientRef": "The patient's opaque reference (never a name or a record number).",
    "correctsEventId": "The event this one corrects, when it is a correction.",
    "serviceUnit": "The unit (department or ward code) responsible for the visit.",
    "visitClass": "The visit's class, HL7 v3 ActCode: AMB, EMER, IMP, ACUTE, NONAC, OBSENC, "
    "PRENC, SS, VR, HH, FLD.",
    "visitId": "The visit's id (a UUID).",
    "nextCursor": "Pass as `cursor` for the next page; null on the last page.",
    "items": "This page's entries.",
    "currency": "ISO 4217 currency code.",
    "costCentre": "The cost centre's code.",
    "correlationId": "The correlation id of the request that recorded it.",
    "onBehalfOf": "Whom the actor acted for (`X-On-Behalf-Of`), if anyone.",
    "actorId": "Who acted: the token's `sub`.",
    "actorRole": "The role the actor acted with.",
    "recordedAt": "When the event was stored (UTC).",
    "sourceSystem": "The system a feed message came from (`X-Source-System`, MSH-3/MSH-4).",
    "sourceMessageId": "The feed message's id (`X-Source-Message-Id`, MSH-10).",
    "purposeOfUse": "Why the data was read: an HL7 v3 PurposeOfUse code (TREAT, HOPERAT, ...).",
    "scheduledStart": "When the visit is booked to start.",
    "scheduledEnd": "When the visit is booked to end.",
    "arrivalAt": "When the patient arrived.",
    "visitNumber": "The visit number the hospital's PAS gave it (PV1-19).",
    "visitNumberAuthority": "The system that assigned the visit number.",
    "fiscalYear": "Fiscal year N starts in calendar year N.",
    "amount": "A money amount as a decimal string, with its currency.",
    "reference": "The requisition, order or invoice reference.",
    "bed": "The bed, within the unit.",
    "unit": "The unit's code.",
}


def describe(schemas: dict[str, Schema]) -> None:
    """Fill in the missing descriptions of ``schemas`` (the document's components)."""
    structs = _structs_by_name()
    for name, schema in schemas.items():
        struct = structs.get(name)
        fields = _field_comments(struct) if struct is not None else {}
        if struct is not None and not schema.description:
            schema.description = _summary(struct)
        properties = schema.properties or {}
        for wire_name, property_schema in properties.items():
            if property_schema.description:
                continue
            text = fields.get(wire_name) or GLOSSARY.get(wire_name)
            if not text:
                continue
            if isinstance(property_schema, Reference):
                # OpenAPI 3.1: a Reference's description overrides the referenced schema's.
                # A new one, since Litestar may share a Reference between properties.
                properties[wire_name] = Reference(ref=property_schema.ref, description=text)
            else:
                property_schema.description = text


@cache
def _structs_by_name() -> dict[str, type[msgspec.Struct]]:
    """This service's Structs by class name; a name two classes share is left out."""
    seen: dict[str, type[msgspec.Struct]] = {}
    shared: set[str] = set()
    for struct in _subclasses(msgspec.Struct):
        if struct.__module__.split(".")[0] not in ("adapters", "application", "projections"):
            continue
        if struct.__name__ in seen and seen[struct.__name__] is not struct:
            shared.add(struct.__name__)
        seen[struct.__name__] = struct
    return {name: struct for name, struct in seen.items() if name not in shared}


def _subclasses(cls: type) -> Iterator[type]:
    sub: type
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _summary(struct: type) -> str | None:
    doc = struct.__doc__
    if not doc or doc is msgspec.Struct.__doc__:
        return None
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


@cache
def _field_comments(struct: type[msgspec.Struct]) -> dict[str, str]:
    """Wire name → the ``#:`` comment above the field, for the class and its bases."""
    comments: dict[str, str] = {}
    for cls in reversed(struct.__mro__):
        if isinstance(cls, type) and issubclass(cls, msgspec.Struct) and cls is not msgspec.Struct:
            comments.update(_own_comments(cls))
    encoded = dict(zip(struct.__struct_fields__, struct.__struct_encode_fields__, strict=True))
    return {encoded[name]: text for name, text in comments.items() if name in encoded}


def _own_comments(cls: type) -> dict[str, str]:
    try:
        lines, _ = inspect.getsourcelines(cls)
    except (OSError, TypeError):  # built without source (a frozen app): no descriptions
        return {}
    source = textwrap.dedent("".join(lines))
    body = ast.parse(source).body[0]
    if not isinstance(body, ast.ClassDef):
        return {}
    text = source.splitlines()
    comments = {}
    for node in body.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            above: list[str] = []
            row = node.lineno - 2  # the line before the field, 0-based
            while row >= 0 and text[row].strip().startswith("#:"):
                above.insert(0, text[row].strip()[2:].strip())
                row -= 1
            if above:
                comments[node.target.id] = " ".join(above)
    return comments
