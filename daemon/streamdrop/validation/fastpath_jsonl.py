"""A fast, conservative decoder for ordinary lines of the chat JSON Lines format.

The JSON Lines counterpart of `fastpath` (the array format's): msgspec
decodes a line `{"type": ..., "data": {...}}` straight into a typed struct
in C, or refuses it, and a refused line goes to the precise path
(`reader.LinesReader._line`: orjson, the duplicate-key check, then
`ChatValidator.feed`), which words the errors. It refuses more than the
array's decoder, so that what it accepts needs none of the precise path's
per-field checks:

- a key beside "type" and "data", an unknown type, polls and votes;
- any field no rule names (custom data, reserved names: their size and
  names are the precise path's), and the objects with rules of their own;
- null anywhere (a schema type never admits it; where stream-cli's does, it
  is rare enough to leave to the precise path), so that a field is None
  exactly when it is absent, as the JSON Lines rules (presence) need;
- a wrong JSON type, an unusual timestamp, an integer orjson would read as
  a float; in devices and future channel bans (closed schemas), a field
  their schema does not list.

A line is decoded on its own (never joined to others), so a line that is
not exactly one JSON value is refused like any other. `keys` counts the
keys a decoded line holds, for the reader's duplicate-key check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Union

import msgspec

from streamdrop.validation import chat_fields as cf
from streamdrop.validation.chat_envelope import JSONL_TYPE_NAMES, UNPUBLISHED_KINDS
from streamdrop.validation.chat_rules import FIELDS
from streamdrop.validation.fastpath import PlainInt, PlainTimestamp

_ENVELOPE_KEYS: Final = 2  # "type" and "data"


def _annotation(kind: int, attachment: type[msgspec.Struct]) -> Any:
    return {
        cf.STR: str, cf.STRS: list[str], cf.BOOL: bool, cf.TIME: PlainTimestamp, cf.INT: PlainInt,
        cf.ATTACHMENTS: list[attachment],  # type: ignore[valid-type]
    }[kind]


def struct_for(kind: str, fields: Mapping[str, cf.FieldSpec],
               attachment: type[msgspec.Struct] = msgspec.Struct) -> type[msgspec.Struct]:
    """A struct of one kind's typed fields; absent is None, anything else is refused."""
    closed = kind in cf.CLOSED_IN_SCHEMA
    members = [(name, _annotation(spec.kind, attachment), None)
               for name, spec in fields.items()
               if spec.kind != cf.OBJ and (spec.schema or not closed)]
    # gc=False: see fastpath.struct_for.
    struct: type[msgspec.Struct] = msgspec.defstruct(
        f"Line{kind.title()}", members, forbid_unknown_fields=True, gc=False)
    return struct


def _envelope_for(name: str, kind: str, struct: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """`{"type": name, "data": {...}}` and nothing else."""
    envelope: type[msgspec.Struct] = msgspec.defstruct(
        f"Line{name.title()}Envelope", [("data", struct)], tag_field="type", tag=name,
        forbid_unknown_fields=True, gc=False)
    envelope.kind = kind  # type: ignore[attr-defined]
    # The keys of a line whose every field is present (see `keys`).
    envelope.most_keys = _ENVELOPE_KEYS + len(struct.__struct_fields__)  # type: ignore[attr-defined]
    return envelope


Attachment: Final = struct_for("attachment", cf.ATTACHMENT_FIELDS)
_ATTACHMENT_FIELDS: Final = len(Attachment.__struct_fields__)
STRUCTS: Final[Mapping[str, type[msgspec.Struct]]] = {
    kind: struct_for(kind, fields, Attachment) for kind, fields in FIELDS.items()
}
_ENVELOPES: Final = tuple(_envelope_for(name, kind, STRUCTS[kind])
                          for name, kind in JSONL_TYPE_NAMES.items()
                          if kind not in UNPUBLISHED_KINDS)
_LINE: Any = Union[_ENVELOPES]  # noqa: UP007 - a union built at run time
LINE_DECODER: Final[msgspec.json.Decoder[Any]] = msgspec.json.Decoder(_LINE)
REFUSED: Final = (msgspec.ValidationError, msgspec.DecodeError)


def keys(envelope: Any) -> int:
    """How many keys a decoded line holds, in all its objects (no key counted twice)."""
    body = envelope.data
    count: int = envelope.most_keys - msgspec.structs.astuple(body).count(None)
    attachments = getattr(body, "attachments", None)
    if attachments:
        for attachment in attachments:
            count += _ATTACHMENT_FIELDS - msgspec.structs.astuple(attachment).count(None)
    return count


def as_item_dict(struct: msgspec.Struct) -> dict[str, Any]:
    """The item's `data` as the precise path would have decoded it (absent fields left out).

    The keys come in the struct's order, not the line's: no rule the precise
    path applies to such an item depends on their order.
    """
    item = {k: v for k, v in msgspec.structs.asdict(struct).items() if v is not None}
    attachments = item.get("attachments")
    if attachments:
        item["attachments"] = [as_item_dict(a) for a in attachments]
    return item
