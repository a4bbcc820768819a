"""The fields of each chat item type, their JSON types, and the checks on one field.

Two sources define the fields: stream-cli's Go structs (what the JSON array
format was checked against: a field of the wrong type made the item
undecodable) and Stream's JSON Schemas (what the JSON Lines format is checked
against). `FieldSpec` records, per field, which of the two knows it, so that
the array format is checked exactly as stream-cli did and JSON Lines against
both. Everything here is pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from streamdrop.validation.timestamps import is_rfc3339, is_usual_rfc3339

# Field kinds.
STR: Final = 1
STRS: Final = 2  # array of strings
BOOL: Final = 3
TIME: Final = 4  # RFC 3339 string
INT: Final = 5
OBJ: Final = 6  # an object checked by its own rules (see OBJECT_RULES)
ATTACHMENTS: Final = 7

KIND_NAMES: Final = {
    STR: "a string", STRS: "an array of strings", BOOL: "a boolean",
    TIME: "an RFC 3339 timestamp string", INT: "an integer", OBJ: "an object",
    ATTACHMENTS: "an array of objects",
}

# Go's \w is ASCII; Python's fullmatch avoids `$` accepting a trailing newline.
USER_ID_RE = re.compile(r"[@\w-]*", re.ASCII)
CHANNEL_ID_RE = re.compile(r"[\w-]*", re.ASCII)
CHANNEL_ID_LIGHT_RE = re.compile(r"[\w!-]*", re.ASCII)
REACTION_TYPE_RE = re.compile(r"[\w\-+:.]*", re.ASCII)
CHANNEL_TYPE_RE = CHANNEL_ID_RE

MAX_CUSTOM_BYTES = 5 * 1024
MAX_ATTACHMENTS = 30


@dataclass(frozen=True, slots=True)
class FieldSpec:
    kind: int
    go: bool = True  # a field of stream-cli's struct (typed in the array format)
    schema: bool = True  # a property of Stream's JSON Schema (typed in JSON Lines)


def _go(kind: int) -> FieldSpec:
    return FieldSpec(kind, go=True, schema=False)


def _schema(kind: int) -> FieldSpec:
    return FieldSpec(kind, go=False, schema=True)


_BOTH = FieldSpec

USER_FIELDS: Final[Mapping[str, FieldSpec]] = {
    "id": _BOTH(STR), "role": _BOTH(STR), "invisible": _BOTH(BOOL),
    "created_at": _BOTH(TIME), "updated_at": _go(TIME), "deleted_at": _BOTH(TIME),
    "deactivated_at": _BOTH(TIME), "language": _BOTH(STR), "teams": _BOTH(STRS),
    "channel_mutes": _BOTH(STRS), "user_mutes": _BOTH(STRS),
    "push_notifications": _go(OBJ), "teams_role": _schema(OBJ),
    "blocked_user_ids": _schema(STRS), "push_preferences": _schema(OBJ),
    "privacy_settings": _schema(OBJ),
}
DEVICE_FIELDS: Final[Mapping[str, FieldSpec]] = {
    "id": _BOTH(STR), "user_id": _BOTH(STR), "created_at": _BOTH(TIME),
    "disabled": _go(BOOL), "disabled_reason": _go(STR),
    "push_provider_type": _BOTH(STR), "push_provider_name": _BOTH(STR),
}
CHANNEL_FIELDS: Final[Mapping[str, FieldSpec]] = {
    "id": _BOTH(STR), "member_ids": _BOTH(STRS), "type": _BOTH(STR),
    "created_by": _BOTH(STR), "frozen": _BOTH(BOOL), "created_at": _BOTH(TIME),
    "updated_at": _go(TIME), "team": _BOTH(STR), "disabled": _schema(BOOL),
    "banned_users": _schema(STRS), "truncated_at": _schema(TIME),
}
MEMBER_FIELDS: Final[Mapping[str, FieldSpec]] = {
    "channel_type": _BOTH(STR), "channel_id": _BOTH(STR), "channel_member_ids": _BOTH(STRS),
    "user_id": _BOTH(STR), "is_moderator": _go(BOOL), "invited": _BOTH(BOOL),
    "last_read": _BOTH(TIME), "created_at": _BOTH(TIME), "invite_accepted_at": _BOTH(TIME),
    "invite_rejected_at": _BOTH(TIME), "hide_channel": _BOTH(BOOL),
    "hide_messages_before": _BOTH(TIME), "channel_role": _schema(STR),
    "archived_at": _schema(TIME),
}
MESSAGE_FIELDS: Final[Mapping[str, FieldSpec]] = {
    "id": _BOTH(STR), "parent_id": _BOTH(STR), "channel_type": _BOTH(STR),
    "channel_id": _BOTH(STR), "channel_member_ids": _BOTH(STRS), "text": _BOTH(STR),
    "html": _BOTH(STR), "attachments": _BOTH(ATTACHMENTS), "user": _BOTH(STR),
    "type": _BOTH(STR), "show_in_channel": _BOTH(BOOL), "created_at": _BOTH(TIME),
    "updated_at": _go(TIME), "deleted_at": _BOTH(TIME), "mentioned_users_ids": _BOTH(STRS),
    "quoted_message_id": _BOTH(STR), "pinned_at": _BOTH(TIME), "pinned_by_id": _BOTH(STR),
    "pin_expires": _BOTH(TIME), "mentioned_roles": _schema(STRS),
    "mentioned_channel": _schema(BOOL), "mentioned_here": _schema(BOOL),
    "restricted_visibility": _schema(STRS),
}
REACTION_FIELDS: Final[Mapping[str, FieldSpec]] = {
    "message_id": _BOTH(STR), "type": _BOTH(STR), "user_id": _BOTH(STR),
    "created_at": _BOTH(TIME),
}
FUTURE_CHANNEL_BAN_FIELDS: Final[Mapping[str, FieldSpec]] = {
    "target_id": _schema(STR), "created_by": _schema(STR), "reason": _schema(STR),
    "shadow": _schema(BOOL), "created_at": _schema(TIME),
}
ATTACHMENT_FIELDS: Final[Mapping[str, FieldSpec]] = {
    **{name: _go(STR) for name in (
        "fallback", "color", "pretext", "author_name", "author_link", "author_icon", "title",
        "title_link", "text", "footer", "footer_icon", "og_scrape_url")},
    "type": _BOTH(STR), "image_url": _BOTH(STR), "thumb_url": _BOTH(STR),
    "asset_url": _BOTH(STR), "original_width": _go(INT), "original_height": _go(INT),
    "size": _go(INT), "migrate_resources": _BOTH(BOOL),
}
ATTACHMENT_URL_FIELDS: Final = ("image_url", "thumb_url", "asset_url")

RESERVED: Final[Mapping[str, tuple[str, ...]]] = {
    "user": ("app_pk", "online", "pk", "user_pk", "last_active"),
    "channel": ("last_message_at", "cid", "created_by_pk", "members", "config", "app_pk", "pk"),
    "message": ("tmp_id", "app_pk", "latest_reactions", "own_reactions", "reactions_count",
                "reply_count", "command", "pk", "quoted_message", "pinned_by"),
    "reaction": ("app_pk", "pk", "user", "user_pk"),
    "attachment": ("actions", "fields"),
    "device": (), "member": (), "future_channel_ban": (),
}
# Types whose JSON Schema forbids fields it does not list.
CLOSED_IN_SCHEMA: Final = frozenset({"device", "future_channel_ban"})


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def quote(text: str) -> str:
    """A string as Go's %q shows it (JSON escaping is the same for what ids hold)."""
    return orjson.dumps(text).decode()


def go_list(values: list[str] | tuple[str, ...]) -> str:
    """A list as Go's %v shows it: [a b]."""
    return "[" + " ".join(values) + "]"


def go_quoted_list(values: list[str] | tuple[str, ...]) -> str:
    """A list as Go's %q shows it: ["a" "b"]."""
    return "[" + " ".join(quote(v) for v in values) + "]"


def byte_length(text: str) -> int:
    """Length in UTF-8 bytes, cheaply for ASCII-only strings."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def kind_error(field: str, kind: int, value: Any, *, jsonl: bool) -> str | None:
    """Why `value` is not of `kind`, naming `field`; None when it fits.

    null counts as absent in the array format (Go leaves the zero value) but
    not in JSON Lines (a schema type never admits null).
    """
    if value is None:
        return None if not jsonl else f"{field} must be {KIND_NAMES[kind]}, got null"
    if kind == STR:
        ok = type(value) is str
    elif kind == TIME:
        if type(value) is not str:
            ok = False
        elif value == "" and not jsonl:
            return None  # an empty string counts as missing
        else:
            return None if is_rfc3339(value) else (
                f"{field} {quote(value)} is not an RFC 3339 timestamp")
    elif kind == STRS:
        ok = type(value) is list and all(
            type(v) is str or (v is None and not jsonl) for v in value)
    elif kind == BOOL:
        ok = type(value) is bool
    elif kind == INT:
        ok = type(value) is int
    else:  # OBJ, ATTACHMENTS: their shape is checked by dedicated rules
        ok = type(value) is (dict if kind == OBJ else list)
    if ok:
        return None
    return f"{field} must be {KIND_NAMES[kind]}, got {type_name(value)}"


# name -> (Python type of a fitting value, field kind, whether null is admitted)
FieldTable = dict[str, tuple[type, int, bool]]
_PYTHON_TYPES: Final = {STR: str, STRS: list, BOOL: bool, TIME: str, INT: int, OBJ: dict,
                        ATTACHMENTS: list}


def field_table(fields: Mapping[str, FieldSpec], *, jsonl: bool) -> FieldTable:
    """The fields typed in one format, ready for `check_fields`.

    The array format types only stream-cli's fields (the rest is custom data)
    and admits null everywhere (Go leaves the zero value); JSON Lines types the
    fields of both sources and admits null only where its schema is silent.
    """
    return {
        name: (_PYTHON_TYPES[spec.kind], spec.kind, not (jsonl and spec.schema))
        for name, spec in fields.items()
        if spec.go or jsonl
    }


def _fits(kind: int, value: Any) -> bool:
    """The rest of the check once the Python type fits (the common, fast case)."""
    if kind == TIME:
        return is_usual_rfc3339(value) or is_rfc3339(value)
    if kind == STRS:
        for element in value:
            if type(element) is not str:
                return False
    return True


def check_fields(kind: str, item: Mapping[str, Any], table: FieldTable, *,
                 jsonl: bool) -> tuple[str | None, list[str] | None]:
    """Type-check every known field; return (first error, custom field names or None)."""
    unknown: list[str] | None = None
    for name, value in item.items():
        entry = table.get(name)
        if entry is None:
            if unknown is None:
                unknown = []
            unknown.append(name)
            continue
        python_type, field_kind, null_ok = entry
        if type(value) is python_type:
            if field_kind in _SIMPLE_KINDS or _fits(field_kind, value):
                continue
        elif value is None and null_ok:
            continue
        problem = kind_error(f"{kind}.{name}", field_kind, value, jsonl=jsonl)
        if problem is not None:
            return problem, unknown
    return None, unknown


_SIMPLE_KINDS: Final = frozenset({STR, BOOL, INT, OBJ, ATTACHMENTS})


def reserved_error(kind: str, item: Mapping[str, Any], unknown: list[str] | None) -> str | None:
    if not unknown:
        return None
    for name in RESERVED[kind]:
        if name in item:
            return f"{kind}.{name} is a reserved field"
    return None


def custom_size_error(kind: str, item: Mapping[str, Any], unknown: list[str] | None) -> str | None:
    """Stream allows at most 5 KiB of custom data per object."""
    if not unknown:
        return None
    custom = {name: item[name] for name in unknown}
    size = len(orjson.dumps(custom))
    if size > MAX_CUSTOM_BYTES:
        return (f"{kind} custom data is {size} bytes, more than Stream's limit of "
                f"{MAX_CUSTOM_BYTES} bytes (5 KiB) per object")
    return None


def closed_schema_error(kind: str, item: Mapping[str, Any],
                        fields: Mapping[str, FieldSpec]) -> str | None:
    for name in item:
        spec = fields.get(name)
        if spec is None or not spec.schema:
            return f"{kind}.{name} is not an allowed field ({kind} takes no custom fields)"
    return None


# -- objects nested in items (JSON Lines schema rules, Go's push_notifications) ----

_CHAT_LEVELS: Final = ("all", "none", "mentions")
_PRIVACY_KEYS: Final = ("typing_indicators", "read_receipts", "delivery_receipts")


def push_notifications_error(value: dict[str, Any]) -> str | None:
    for name, kind in (("disabled", BOOL), ("disabled_until", TIME)):
        if name in value and value[name] is not None:
            problem = kind_error(f"user.push_notifications.{name}", kind, value[name],
                                 jsonl=False)
            if problem:
                return problem
    return None


def push_preferences_error(value: dict[str, Any]) -> str | None:
    for name, inner in value.items():
        field = f"user.push_preferences.{name}"
        if name == "chat_level":
            if type(inner) is not str or inner not in _CHAT_LEVELS:
                return f"{field} must be one of all, none, mentions"
        elif name == "disabled_until":
            problem = kind_error(field, TIME, inner, jsonl=True)
            if problem:
                return problem
        else:
            return f"{field} is not an allowed field"
    return None


def privacy_settings_error(value: dict[str, Any]) -> str | None:
    for name, inner in value.items():
        field = f"user.privacy_settings.{name}"
        if name not in _PRIVACY_KEYS:
            return f"{field} is not an allowed field"
        if type(inner) is not dict:
            return f"{field} must be an object, got {type_name(inner)}"
        if "enabled" not in inner:
            return f"{field}.enabled required"
        for key, flag in inner.items():
            if key != "enabled":
                return f"{field}.{key} is not an allowed field"
            if type(flag) is not bool:
                return f"{field}.enabled must be a boolean, got {type_name(flag)}"
    return None


def teams_role_error(value: dict[str, Any]) -> str | None:
    for team, role in value.items():
        if type(role) is not str:
            return f"user.teams_role.{team} must be a string, got {type_name(role)}"
    return None


OBJECT_RULES: Final = {
    ("user", "push_notifications"): push_notifications_error,
    ("user", "push_preferences"): push_preferences_error,
    ("user", "privacy_settings"): privacy_settings_error,
    ("user", "teams_role"): teams_role_error,
}


def nested_objects_error(kind: str, item: Mapping[str, Any], table: FieldTable) -> str | None:
    """Check the objects inside an item that have rules of their own."""
    for name in NESTED_OBJECTS.get(kind, ()):
        value = item.get(name)
        if type(value) is dict and name in table:
            problem = OBJECT_RULES[(kind, name)](value)
            if problem:
                return problem
    return None


NESTED_OBJECTS: Final = {
    "user": ("push_notifications", "push_preferences", "privacy_settings", "teams_role"),
}
