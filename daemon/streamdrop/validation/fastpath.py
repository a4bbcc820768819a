"""A fast, conservative decoder for ordinary items of the JSON array format.

Most items of a real file are ordinary: known fields only, every value of
the right JSON type, timestamps in the usual `…Z` spelling. msgspec decodes
such an item straight into a typed struct in C, which is several times
faster than building a dict and checking each field in Python.

The decoder only ever *accepts* or *passes*: an item it cannot decode (an
unknown or reserved field, a wrong type, null inside a list, an unusual
timestamp, a broken envelope, …) is handed to the precise path
(`orjson` + `chat_fields.check_fields`), which words the error. A decoded
struct becomes the item's dict (`msgspec.structs.asdict`, absent = None)
for the shared rules (`chat_rules`, `chat_index`, `chat_references`),
except for plain users, members, messages and reactions, which
`chat_plain.py` settles inline. `tests/unit/test_fastpath.py`
checks that a file gets the same verdict with and without this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Union, cast

import msgspec

from streamdrop.validation import chat_fields as cf

# The usual RFC 3339 spelling (UTC `Z`, whole or fractional seconds) on a real
# day: Feb 29 only in leap years (every 4th year, but of centuries every 4th).
# Anything else goes to the precise path. `\Z`, not `$`.
_DAY: Final = (
    r"(?:\d{3}[1-9]-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    r"|(?:0[13578]|1[02])-31)"
    r"|(?:\d\d(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)"
)
PLAIN_TIMESTAMP: Final = (
    rf"^{_DAY}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?Z\Z"
)
PlainTimestamp = Annotated[str, msgspec.Meta(pattern=PLAIN_TIMESTAMP)]
# orjson reads an integer beyond 64 bits as a float (the wrong type for an
# integer field); msgspec takes no bound past int64, so the few integers in
# between go to the precise path too.
PlainInt = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class ItemStruct(msgspec.Struct):
    """An item's known fields, each None when absent or null (as Go left them).

    Custom fields are skipped (the array format has no rule for them); a
    reserved field, or an object with rules of its own, is typed UnsetType,
    which no JSON value decodes to, so an item carrying one is passed on.
    """


def _annotation(kind: int, attachment: type[ItemStruct]) -> Any:
    return {
        cf.STR: str, cf.STRS: list[str], cf.BOOL: bool, cf.TIME: PlainTimestamp, cf.INT: PlainInt,
        cf.ATTACHMENTS: list[attachment],  # type: ignore[valid-type]
    }[kind]


def struct_for(kind: str, fields: Mapping[str, cf.FieldSpec],
               attachment: type[ItemStruct] | None = None) -> type[ItemStruct]:
    """A struct for one item type of the array format (stream-cli's fields)."""
    members: list[tuple[str, Any, Any]] = [
        (field, _annotation(spec.kind, attachment or ItemStruct) | None, None)
        for field, spec in fields.items()
        if spec.go and spec.kind != cf.OBJ
    ]
    members += [
        (field, msgspec.UnsetType, msgspec.UNSET)
        for field in (*cf.RESERVED[kind],
                      *(name for name, spec in fields.items() if spec.go and spec.kind == cf.OBJ))
    ]
    # gc=False: structs hold no cycles, and tracking half a million of them
    # made decoding 2.5 times slower (the collector kept rescanning them).
    struct = msgspec.defstruct(kind.title(), members, bases=(ItemStruct,), gc=False)
    return cast(type[ItemStruct], struct)


def envelope_for(kind: str, struct: type[ItemStruct]) -> type[msgspec.Struct]:
    """`{"type": kind, "item": {...}}`, other keys ignored as stream-cli did."""
    envelope: type[msgspec.Struct] = msgspec.defstruct(
        f"{kind.title()}Envelope", [("item", struct)], tag_field="type", tag=kind, gc=False)
    envelope.kind = kind  # type: ignore[attr-defined]
    return envelope


Attachment = struct_for("attachment", cf.ATTACHMENT_FIELDS)
STRUCTS: Final[Mapping[str, type[ItemStruct]]] = {
    "user": struct_for("user", cf.USER_FIELDS),
    "device": struct_for("device", cf.DEVICE_FIELDS),
    "channel": struct_for("channel", cf.CHANNEL_FIELDS),
    "member": struct_for("member", cf.MEMBER_FIELDS),
    "message": struct_for("message", cf.MESSAGE_FIELDS, Attachment),
    "reaction": struct_for("reaction", cf.REACTION_FIELDS),
}
_ENVELOPES: Final = tuple(envelope_for(kind, struct) for kind, struct in STRUCTS.items())
_ITEM: Any = Union[_ENVELOPES]  # noqa: UP007 - a union built at run time
REGION_DECODER: Final[msgspec.json.Decoder[list[Any]]] = msgspec.json.Decoder(list[_ITEM])
ITEM_DECODER: Final[msgspec.json.Decoder[Any]] = msgspec.json.Decoder(_ITEM)
RAWS_DECODER: Final = msgspec.json.Decoder(list[msgspec.Raw])
FastError: Final = (msgspec.ValidationError, msgspec.DecodeError)
_FAILED_ELEMENT = re.compile(r"`\$\[(\d+)\]")


def failed_element(error: msgspec.ValidationError) -> int | None:
    """Which element of a list made msgspec refuse it (from the error's `$[N]...` path)."""
    match = _FAILED_ELEMENT.search(str(error))
    return int(match[1]) if match else None


def as_item_dict(struct: ItemStruct) -> dict[str, Any]:
    """The item as the precise path would have decoded it (absent fields are None)."""
    item = {k: v for k, v in msgspec.structs.asdict(struct).items() if v is not msgspec.UNSET}
    attachments = item.get("attachments")
    if attachments:
        item["attachments"] = [as_item_dict(a) for a in attachments]
    return item
