"""Stream's JSON Schemas for Feeds v3 import items as field tables, and the check of one item.

The schemas (GetStream/protocol `jsonschemas/feeds/*.schema.json`) are transcribed here
as data: per item type, its required fields, a `Field` per property (the
JSON type, then the constraints in the schema's words: minLength, maxLength,
pattern, enum, date-time, minItems, closed objects) and the few rules the
schemas leave to Stream's importer. An item is checked against the schema
of its own `type`, never against the envelope's loose `anyOf`. Pure.

Where we are deliberately stricter than the schemas (each one has a test in
`tests/unit/test_feeds_v3_oracle.py`):

- an integer is a JSON number without a fraction part *as written*: `1.0`
  is a number for jsonschema but Stream's importer (Go) cannot decode it
  into an integer field;
- timestamps want upper-case `T` and `Z` (Go's time.Parse; jsonschema
  upper-cases a date-time before checking it);
- patterns are ASCII (`\\w` as Go reads it) and match the whole string
  (Python's `$` lets a trailing newline through);
- a feed's `fid` is `group_id:id`; a follow's `source_fid` and `target_fid`
  differ; an activity with `visibility` "tag" names its `visibility_tag`; a
  bookmark names a non-empty object (`object_id`, else `activity_id`, the
  importer's fallback): the schemas' descriptions say so, their rules don't.

`format: uri` is not checked beyond the schemas' own `^https://` pattern
(jsonschema checks it only with the optional rfc3987 package).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Final, cast

from streamdrop.validation.chat_fields import quote, type_name
from streamdrop.validation.timestamps import is_rfc3339, is_usual_rfc3339

# A constraint beyond the JSON type: None, or the end of an error message that
# follows the field's path (" must not be empty", "[2] must be a string, got null").
Check = Callable[[Any], "str | None"]
_SHOWN_CHARS: Final = 80  # how much of a bad value a message repeats
NONE_TYPE: Final = type(None)
# What `item_problem` settles without a call when the Python type fits.
PLAIN: Final = 0  # nothing more to check
NON_EMPTY: Final = 1  # a string of one character or more
DATE_TIME: Final = 2  # a timestamp in its usual spelling
OTHER: Final = 3


def shown(value: str) -> str:
    """`value` quoted for a message, cut short so that huge values stay readable."""
    return quote(value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…")


@dataclass(frozen=True, slots=True)
class Field:
    """One property of a schema: the Python type its values have, and what else holds."""

    python_type: type
    noun: str  # "a string", for "must be a string, got number"
    check: Check | None = None
    also: tuple[type, ...] = ()  # other Python types admitted (number: int; nullable: None)
    fast: int = OTHER  # PLAIN when `check` is None

    def __post_init__(self) -> None:
        if self.check is None:
            object.__setattr__(self, "fast", PLAIN)


def field_problem(spec: Field, value: Any) -> str | None:
    """The end of the error message about `value`, or None when it fits `spec`."""
    kind = type(value)
    if kind is spec.python_type or kind in spec.also:
        if spec.check is None or value is None:
            return None
        return spec.check(value)
    return f" must be {spec.noun}, got {type_name(value)}"


# -- the schemas' vocabulary ----------------------------------------------------------

def string(*, min_length: int = 0, max_length: int | None = None, pattern: str | None = None,
           enum: tuple[str, ...] | None = None, date_time: bool = False, https: bool = False,
           nullable: bool = False) -> Field:
    """A string property, its constraints checked in the schema's order."""
    # ASCII and whole-string, as Go reads the pattern (see the module's docstring).
    compiled = re.compile(pattern[1:-1], re.ASCII) if pattern else None
    allowed = ", ".join(v or '""' for v in enum) if enum else ""

    def check(value: str) -> str | None:
        if len(value) < min_length:
            return " must not be empty"
        if max_length is not None and len(value) > max_length:
            return f" max length exceeded ({max_length})"
        if compiled is not None and compiled.fullmatch(value) is None:
            return f' {shown(value)} invalid ("{pattern}" allowed)'
        if enum is not None and value not in enum:
            return f" must be one of {allowed}, got {shown(value)}"
        if date_time and not is_rfc3339(value):
            return f" {shown(value)} is not an RFC 3339 timestamp"
        if https and not value.startswith("https://"):
            return f" {shown(value)} must be an https:// URL"
        return None

    plain = not (min_length or max_length is not None or pattern or enum or date_time or https)
    only_time = date_time and not (min_length or max_length is not None or pattern or enum
                                   or https)
    return Field(str, "a string or null" if nullable else "a string", None if plain else check,
                 (NONE_TYPE,) if nullable else (), DATE_TIME if only_time else OTHER)


def non_empty() -> Field:
    """A string of at least one character (the schemas' usual id)."""
    return Field(str, "a string", _non_empty, fast=NON_EMPTY)


def _non_empty(value: str) -> str | None:
    return None if value else " must not be empty"


TIME: Final = string(date_time=True)
STRING: Final = string()
INTEGER: Final = Field(int, "an integer")
NUMBER: Final = Field(float, "a number", also=(int,))
BOOLEAN: Final = Field(bool, "a boolean")
OBJECT: Final = Field(dict, "an object")
ANY_ARRAY: Final = Field(list, "an array")


def array(items: Field, *, min_items: int = 0) -> Field:
    """An array whose elements each fit `items`."""
    def check(value: list[Any]) -> str | None:
        if len(value) < min_items:
            return f" must have at least {min_items} item{'s' if min_items > 1 else ''}"
        if items.check is None and not items.also:
            python_type = items.python_type
            for element in value:  # the common case: one loop, no call per element
                if type(element) is not python_type:
                    break
            else:
                return None
        for position, element in enumerate(value):
            problem = field_problem(items, element)
            if problem is not None:
                return f"[{position}]{problem}"
        return None

    return Field(list, f"an array of {items.noun.removeprefix('a ').removeprefix('an ')}s"
                 if items.python_type is not dict else "an array of objects", check)


STRINGS: Final = array(STRING)


def record(properties: Mapping[str, Field], *, closed: bool = False,
           required: tuple[str, ...] = (), min_properties: int = 0) -> Field:
    """An object: its listed properties typed, others refused when `closed`."""
    def check(value: dict[str, Any]) -> str | None:
        if len(value) < min_properties:
            return f" must have at least {min_properties} key{'s' if min_properties > 1 else ''}"
        for name in required:
            if name not in value:
                return f".{name} required"
        for name, inner in value.items():
            spec = properties.get(name)
            if spec is None:
                if closed:
                    return f".{name} is not an allowed field"
                continue
            problem = field_problem(spec, inner)
            if problem is not None:
                return f".{name}{problem}"
        return None

    plain = not (properties or closed or required or min_properties)
    return Field(dict, "an object", None if plain else check)


def string_values() -> Field:
    """An object whose every value is a string (user.teams_role)."""
    def check(value: dict[str, Any]) -> str | None:
        for key, inner in value.items():
            if type(inner) is not str:
                return f".{key} must be a string, got {type_name(inner)}"
        return None

    return Field(dict, "an object", check)


# -- the item types ---------------------------------------------------------------

ItemRule = Callable[[dict[str, Any]], "tuple[str, str] | None"]  # -> (field, message) or None


@dataclass(frozen=True, slots=True)
class ItemSchema:
    required: tuple[str, ...]
    fields: Mapping[str, Field]
    rules: tuple[ItemRule, ...] = ()
    # name -> (Python type, fast kind, Field): what `item_problem` reads per field.
    table: dict[str, tuple[type, int, Field]] = dataclass_field(init=False)
    required_keys: frozenset[str] = dataclass_field(init=False)

    def __post_init__(self) -> None:
        table = {name: (spec.python_type, spec.fast, spec) for name, spec in self.fields.items()}
        object.__setattr__(self, "table", table)
        object.__setattr__(self, "required_keys", frozenset(self.required))


_ENABLED: Final = record({"enabled": BOOLEAN}, closed=True, required=("enabled",))
_ATTACHMENT: Final = record({
    "type": STRING, "image_url": string(https=True), "thumb_url": string(https=True),
    "asset_url": string(https=True), "migrate_resources": BOOLEAN, "custom": OBJECT,
})
_ATTACHMENTS: Final = array(_ATTACHMENT)
_VISIBILITY: Final = ("public", "visible", "followers", "members", "private")
USER_ID_PATTERN: Final = "^[@\\w .-]*$"


def _feed_fid(feed: dict[str, Any]) -> tuple[str, str] | None:
    expected = f"{feed['group_id']}:{feed['id']}"
    if feed["fid"] != expected:
        return "feed.fid", (f"feed.fid {shown(feed['fid'])} must be "
                            f"\"<group_id>:<id>\", here {shown(expected)}")
    return None


def _follow_itself(follow: dict[str, Any]) -> tuple[str, str] | None:
    if follow["source_fid"] == follow["target_fid"]:
        return "follow.target_fid", (f"follow.target_fid {shown(follow['target_fid'])} is the "
                                     "source_fid: a feed cannot follow itself")
    return None


def _visibility_tag(activity: dict[str, Any]) -> tuple[str, str] | None:
    if activity.get("visibility") == "tag" and not activity.get("visibility_tag"):
        return "activity.visibility_tag", ('activity.visibility "tag" needs a non-empty '
                                           "activity.visibility_tag")
    return None


def bookmark_target(bookmark: dict[str, Any]) -> str:
    """What a bookmark names: object_id, or activity_id when that is empty (the importer's
    backward compatibility)."""
    return bookmark.get("object_id") or bookmark.get("activity_id") or ""


def _bookmark_object(bookmark: dict[str, Any]) -> tuple[str, str] | None:
    if "object_id" not in bookmark and "activity_id" not in bookmark:
        return "bookmark.object_id", "either bookmark.object_id or bookmark.activity_id required"
    if not bookmark_target(bookmark):
        return "bookmark.object_id", ("bookmark.object_id must not be empty (nor "
                                      "bookmark.activity_id when object_id is empty)")
    return None


SCHEMAS: Final[Mapping[str, ItemSchema]] = {
    "user": ItemSchema(("id",), {
        "id": string(min_length=1, max_length=255, pattern=USER_ID_PATTERN),
        "role": STRING, "teams": STRINGS, "teams_role": string_values(), "language": STRING,
        "blocked_user_ids": STRINGS, "invisible": BOOLEAN, "custom": OBJECT,
        "deactivated_at": TIME, "deleted_at": TIME, "created_at": TIME, "updated_at": TIME,
        "channel_mutes": STRINGS, "user_mutes": STRINGS,
        "push_preferences": record({
            "chat_level": string(enum=("all", "none", "mentions")), "disabled_until": TIME,
        }, closed=True),
        "privacy_settings": record({
            "typing_indicators": _ENABLED, "read_receipts": _ENABLED,
            "delivery_receipts": _ENABLED,
        }, closed=True),
    }),
    "feed": ItemSchema(("group_id", "id", "fid", "created_by_id"), {
        "group_id": non_empty(), "id": non_empty(), "fid": non_empty(), "name": STRING,
        "description": STRING, "custom": OBJECT, "filter_tags": STRINGS,
        "visibility": string(enum=_VISIBILITY), "created_by_id": non_empty(),
        "created_at": TIME, "updated_at": TIME, "deleted_at": TIME, "last_watched_at": TIME,
    }, (_feed_fid,)),
    "feed_group": ItemSchema(("group_id",), {
        "id": INTEGER, "group_id": non_empty(), "app_pk": INTEGER, "default_view_id": STRING,
        "default_visibility": string(enum=("", *_VISIBILITY)),
        "last_feed_get_at": string(date_time=True, nullable=True), "notification": OBJECT,
        "stories": OBJECT, "activity_processors": ANY_ARRAY, "activity_selectors": ANY_ARRAY,
        "ranking": OBJECT, "aggregation": OBJECT, "aggregation_version": INTEGER,
        "push_notification": OBJECT, "created_at": TIME, "custom": OBJECT,
    }),
    "feed_view": ItemSchema(("view_id",), {
        "view_id": non_empty(), "app_pk": INTEGER, "activity_selectors": ANY_ARRAY,
        "ranking": OBJECT, "aggregation": OBJECT, "aggregation_version": INTEGER,
        "last_feed_get_at": string(date_time=True, nullable=True), "created_at": TIME,
    }),
    "activity": ItemSchema(("id", "type", "user_id", "fids"), {
        "id": non_empty(), "type": non_empty(), "user_id": non_empty(),
        "fids": array(non_empty(), min_items=1), "text": STRING, "attachments": _ATTACHMENTS,
        "visibility": string(enum=("public", "private", "tag")), "visibility_tag": STRING,
        "location": record({"lat": NUMBER, "lng": NUMBER}), "expires_at": TIME,
        "mentioned_user_ids": STRINGS, "parent_id": STRING, "poll_id": STRING,
        "custom": OBJECT, "created_at": TIME, "updated_at": TIME, "edited_at": TIME,
        "deleted_at": TIME, "filter_tags": STRINGS, "interest_tags": STRINGS,
        "collection_refs": STRINGS,
    }, (_visibility_tag,)),
    "comment": ItemSchema(("id", "object_type", "object_id", "user_id", "text"), {
        "id": non_empty(), "object_type": string(enum=("activity",)), "object_id": non_empty(),
        "user_id": non_empty(), "parent_id": string(nullable=True), "text": non_empty(),
        "status": string(enum=("active", "deleted", "removed", "hidden")),
        "attachments": _ATTACHMENTS, "mentioned_user_ids": STRINGS, "custom": OBJECT,
        "created_at": TIME, "updated_at": TIME, "deleted_at": TIME,
    }),
    "reaction": ItemSchema(("user_id", "activity_id", "type"), {
        "user_id": non_empty(), "activity_id": non_empty(), "comment_id": STRING,
        "type": non_empty(), "custom": OBJECT, "created_at": TIME, "updated_at": TIME,
    }),
    "bookmark": ItemSchema(("user_id",), {
        "user_id": non_empty(), "object_id": STRING,
        "object_type": string(enum=("activity", "comment")), "activity_id": STRING,
        "folder_id": STRING, "custom": OBJECT, "created_at": TIME, "updated_at": TIME,
    }, (_bookmark_object,)),
    "follow": ItemSchema(("source_fid", "target_fid"), {
        "source_fid": non_empty(), "target_fid": non_empty(),
        "status": string(enum=("accepted", "pending", "rejected")),
        "push_preference": string(enum=("all", "none")), "custom": OBJECT,
        "request_accepted_at": TIME, "request_rejected_at": TIME, "created_at": TIME,
        "updated_at": TIME, "source_created_by_id": STRING, "target_created_by_id": STRING,
        "follower_role": STRING,
    }, (_follow_itself,)),
    "collection": ItemSchema(("name", "id", "custom"), {
        "name": non_empty(), "id": non_empty(), "user_id": STRING,
        "custom": record({}, min_properties=1), "created_at": TIME, "updated_at": TIME,
        "deleted_at": TIME,
    }),
}


def item_problem(kind: str, data: dict[str, Any]) -> tuple[str, str] | None:
    """(field, message) of the first thing wrong with `data` as a `kind`, or None.

    Required fields first (in the schema's order), then every known field in
    the item's order, then the item's own rules.
    """
    schema = SCHEMAS[kind]
    if not schema.required_keys <= data.keys():
        missing = next(name for name in schema.required if name not in data)
        return f"{kind}.{missing}", f"{kind}.{missing} required"
    table = schema.table
    for name, value in data.items():
        entry = table.get(name)
        if entry is None:
            continue  # custom data: every item schema admits other properties
        python_type, fast, spec = entry
        # The usual case, settled here without a call.
        if type(value) is python_type and (fast == PLAIN or (fast == NON_EMPTY and value) or (
                fast == DATE_TIME and is_usual_rfc3339(cast(str, value)))):
            continue
        problem = field_problem(spec, value)
        if problem is not None:
            path = f"{kind}.{name}"
            # A nested field's path opens the message's end: "[0].image_url ...".
            return path + problem.partition(" ")[0], path + problem
    for rule in schema.rules:
        found = rule(data)
        if found is not None:
            return found
    return None
