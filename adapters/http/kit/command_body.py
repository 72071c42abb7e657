"""Request bodies decoded straight into the application's command Structs.

Litestar's default path decodes JSON into dicts and then converts them leniently
(``strict=False``: ``"3"`` would pass as ``3``). :class:`CommandBody` is a minimal DTO that
instead decodes the bytes with one ``msgspec.json.Decoder`` per command type, built once, so
the Struct's own rules (camelCase names, unknown fields refused, times with an offset, lengths,
patterns) are the whole validation, and the OpenAPI schema still shows each command's body.
"""

from __future__ import annotations

from collections.abc import Generator
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from litestar.dto import AbstractDTO
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition

from adapters.http.kit.errors import InvalidRequestError, UnsupportedMediaTypeError
from adapters.http.kit.field_errors import body_error_of
from application.shared.commands import Command

if TYPE_CHECKING:
    from litestar._openapi.datastructures import SchemaRegistry
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.dto.data_structures import DTOFieldDefinition

C = TypeVar("C", bound=Command)

#: An empty body counts as ``{}``: commands such as ``close`` have no fields of their own.
EMPTY_BODY = b"{}"


#: JSON Schema keywords of msgspec's schema that Litestar's leaves out, by Schema attribute.
_KEYWORDS = {
    "enum": "enum",
    "pattern": "pattern",
    "minLength": "min_length",
    "maxLength": "max_length",
    # forbid_unknown_fields: a field the document does not list is a 400.
    "additionalProperties": "additional_properties",
}


def decoder_for(command_type: type[C]) -> msgspec.json.Decoder[C]:
    decoder: msgspec.json.Decoder[C] = _decoder(command_type)
    return decoder


@cache  # one per command type; functools.cache keeps no type parameter, so it is wrapped
def _decoder(command_type: type[Command]) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(command_type)


def decode_command(command_type: type[C], body: bytes) -> C:
    try:
        return decoder_for(command_type).decode(body or EMPTY_BODY)
    except msgspec.DecodeError as e:  # ValidationError is a subclass
        raise body_error_of(e) from None
    except UnicodeDecodeError:
        # msgspec raises this (not a DecodeError) for invalid UTF-8 inside a string; without
        # this branch it was a 500. The message quotes the bytes, so it is not passed on.
        raise InvalidRequestError.of(None, "the body is not valid UTF-8") from None


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json`` or any ``*/*+json``, parameters (``; charset=utf-8``) ignored.

    A missing Content-Type counts as JSON (a bare ``httpx``/script POST sends none); an
    empty or any other one (``text/plain``, ``application/x-www-form-urlencoded``, curl's
    default for ``-d``) does not: decoding such a body as JSON would record what the
    client did not mean to send as JSON."""
    if content_type is None:
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return bool(kind) and (
        media_type == "application/json" or (subtype.endswith("+json") and len(subtype) > 5)
    )


class CommandBody(AbstractDTO[C]):
    """Use as ``dto=CommandBody[ScheduleVisit]`` with ``return_dto=None``."""

    def decode_bytes(self, value: bytes) -> Any:
        # Only called for a non-empty body (Litestar passes an empty one over), so an empty
        # body needs no Content-Type. Checked before decoding: a text/plain body is a 415.
        content_type = self.asgi_connection.headers.get("content-type")
        if not is_json_media_type(content_type):
            raise UnsupportedMediaTypeError("send the body as application/json")
        return decode_command(self.model_type, value)

    def decode_builtins(self, value: dict[str, Any]) -> Any:
        # Only reached for form bodies, which these routes do not accept.
        return msgspec.convert(value, self.model_type)

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        decoder_for(cls.model_type)  # build the decoder at start-up, not on the first request

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        schema = schema_creator.for_field_definition(
            FieldDefinition.from_annotation(cls.model_type)
        )
        add_what_litestar_leaves_out(schema, cls.model_type, schema_creator.schema_registry)
        return schema

    @classmethod
    def generate_field_definitions(
        cls, model_type: type[Any]
    ) -> Generator[DTOFieldDefinition, None, None]:
        # Required by AbstractDTO; unused, as no transfer model is built.
        yield from ()

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False


def add_what_litestar_leaves_out(
    schema: Schema | Reference, struct_type: type[Any], registry: SchemaRegistry
) -> None:
    """Complete Litestar's schema of a command with what the decoder enforces and Litestar
    does not show: the constraints of a list's items (each of ``categories`` is a reference of
    1-64 characters of a pattern), that unknown fields are refused (``additionalProperties``)
    and a Meta's ``extra_json_schema`` (the currencies' enum, the amounts' pattern).
    msgspec's own schema of the Struct has them: its keywords are copied where Litestar's
    schema has none, so the document says what a request must be."""
    (root,), definitions = msgspec.json.schema_components([struct_type])
    _copy_keywords(schema, root, definitions, registry, seen=set())


def _copy_keywords(
    target: Schema | Reference,
    source: dict[str, Any],
    definitions: dict[str, Any],
    registry: SchemaRegistry,
    seen: set[int],
    outer: Schema | None = None,
) -> None:
    if isinstance(target, Reference):
        try:
            target = registry.from_reference(target).schema
        except KeyError:  # not one of this registry's components: leave it as it is
            return
        if id(target) in seen:  # a component already done (or a recursive one)
            return
        seen.add(id(target))
    if "$ref" in source:
        source = definitions[source["$ref"].rsplit("/", 1)[-1]]
    # A union (``T | None``, ``str | bool``): msgspec says anyOf, Litestar oneOf, with some
    # keywords beside the oneOf (``outer``). Each branch is completed from msgspec's branch
    # of the same type.
    if "anyOf" in source and target.one_of:
        for branch in source["anyOf"]:
            same_type = [t for t in target.one_of if getattr(t, "type", None) == branch.get("type")]
            if branch.get("type") != "null" and len(same_type) == 1:
                _copy_keywords(same_type[0], branch, definitions, registry, seen, outer=target)
        return
    for keyword, attribute in _KEYWORDS.items():
        # Present already: on the schema, beside its oneOf, or in one of the oneOf's branches.
        present = [target, *([outer] if outer else []), *(target.one_of or [])]
        if keyword in source and all(getattr(s, attribute, None) is None for s in present):
            setattr(target, attribute, source[keyword])
    if "items" in source and isinstance(target.items, Schema | Reference):
        _copy_keywords(target.items, source["items"], definitions, registry, seen)
    for name, property_source in source.get("properties", {}).items():
        if target.properties and name in target.properties:
            _copy_keywords(target.properties[name], property_source, definitions, registry, seen)
