"""Oracle: our verdict on a chat JSON Lines item's fields against Stream's JSON Schemas.

Hypothesis generates items `{"type": T, "data": {...}}`, valid and subtly broken.
Each item's `data` is checked by the `jsonschema` library against Stream's schema
for T (`spec/stream-jsonschemas/chat/` of the reference tier, tests/references.py),
with its format checker and `rfc3339-validator`, so that `date-time` is really
checked. Our verdict (does the item get a "validation error:" or "parse error:")
must be the schema's, adjusted by the deliberate divergences in DIVERGENCES (the last section of
chat-validation-rules.md, and what chat.py adds): each one is a named predicate
that says why, and has an example test below.

Reference problems are not about fields: a lone item's references are warnings
in JSON Lines, and a role or channel type outside the app's lists is a
reference error; both are left out of the comparison.

The oracle found three shapes where "empty counts as missing" made us accept
what the schema refuses (an empty id beside member ids, an empty member list
beside an id, an empty pinned_by_id alone); they are fixed, and kept below as
examples both sides must reject.

The ground both describe: ASCII ids, no trailing newlines, no surrogates.
Outside it (Unicode `\\w`, characters vs bytes, a trailing newline that Python's
`$` lets through) the divergences are shown by examples only.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from tests.references import reference_dir
from tests.schema_oracle import (
    DROP,
    FORMAT_CHECKER,
    URLS,
    Divergence,
    SchemaOracle,
    Twist,
    apply_twist,
    as_json,
    date_time_fields,
    drop,
    ids,
    json_scalars,
    json_values,
    lower_case_time,
    mostly,
    odd_strings,
    one,
    stream_time,
    strings_of_lengths,
    time_edges,
    timestamps,
    together,
    valid_timestamps,
)

from streamdrop.validation.chat import ChatValidator
from streamdrop.validation.model import DEFAULT_CHANNEL_TYPES, DEFAULT_ROLES, Options

# -- the oracle: Stream's schemas under jsonschema ---------------------------------

pytestmark = pytest.mark.reference
ORACLE = SchemaOracle(reference_dir("spec", "stream-jsonschemas", "chat"))
SCHEMAS = ORACLE.schemas

# Our kind of item -> its schema ("channel_member" and "member" are one kind).
KIND_SCHEMA = {
    "user": "user.schema.json", "device": "device.schema.json",
    "future_channel_ban": "future_channel_ban.schema.json", "channel": "channel.schema.json",
    "member": "channel_member.schema.json", "message": "message.schema.json",
    "reaction": "reaction.schema.json",
}
ITEM_TYPES = {"user": "user", "device": "device", "future_channel_ban": "future_channel_ban",
              "channel": "channel", "member": "member", "channel_member": "member",
              "message": "message", "reaction": "reaction"}
PROPERTIES = {kind: SCHEMAS[name]["properties"] for kind, name in KIND_SCHEMA.items()}
REQUIRED = {kind: tuple(SCHEMAS[name].get("required", ())) for kind, name in KIND_SCHEMA.items()}
ATTACHMENT_PROPERTIES = SCHEMAS["attachment.schema.json"]["properties"]

def schema_errors(kind: str, data: Any) -> list[str]:
    return ORACLE.errors(KIND_SCHEMA[kind], data)

# -- our verdict ---------------------------------------------------------------------

OPTIONS = Options()  # Stream's built-in roles and channel types
FIELD_PROBLEMS = ("validation error:", "parse error:")


def our_field_errors(item_type: str, data: Any) -> list[str]:
    """Our errors about one item's fields, the item alone in a JSON Lines file."""
    validator = ChatValidator(OPTIONS, jsonl=True)
    validator.feed(0, 1, 0, {"type": item_type, "data": data})
    result = validator.finish()
    return [p.message for p in result.errors if p.message.startswith(FIELD_PROBLEMS)]


# -- what the rules add to the schemas -----------------------------------------------

def _push_notifications_ok(value: Any) -> bool:
    if type(value) is not dict:
        return False
    disabled, until = value.get("disabled"), value.get("disabled_until")
    # stream-cli's rules: null and "" count as absent inside this Go-only object.
    return (disabled is None or type(disabled) is bool) and (
        until is None or until == "" or stream_time(until))


def _is_str(value: Any) -> bool:
    return type(value) is str


def _is_bool(value: Any) -> bool:
    return type(value) is bool


def _is_int(value: Any) -> bool:
    return type(value) is int


# Fields of stream-cli's structs that Stream's schemas do not list: for the
# schema they are custom data; our rules type them (null counts as absent).
GO_ONLY: dict[str, dict[str, Callable[[Any], bool]]] = {
    "user": {"updated_at": stream_time, "push_notifications": _push_notifications_ok},
    "device": {"disabled": _is_bool, "disabled_reason": _is_str},  # closed schema anyway
    "future_channel_ban": {},
    "channel": {"updated_at": stream_time},
    "member": {"is_moderator": _is_bool},
    "message": {"updated_at": stream_time},
    "reaction": {},
}
ATTACHMENT_GO_ONLY: dict[str, Callable[[Any], bool]] = {
    **dict.fromkeys(("fallback", "color", "pretext", "author_name", "author_link",
                     "author_icon", "title", "title_link", "text", "footer", "footer_icon",
                     "og_scrape_url"), _is_str),
    **dict.fromkeys(("original_width", "original_height", "size"), _is_int),
}
RESERVED = {
    "user": ("app_pk", "online", "pk", "user_pk", "last_active"),
    "channel": ("last_message_at", "cid", "created_by_pk", "members", "config", "app_pk", "pk"),
    "message": ("tmp_id", "app_pk", "latest_reactions", "own_reactions", "reactions_count",
                "reply_count", "command", "pk", "quoted_message", "pinned_by"),
    "reaction": ("app_pk", "pk", "user", "user_pk"),
}
ATTACHMENT_RESERVED = ("actions", "fields")
# Required strings of our rules where "" counts as missing (the schemas accept "").
EMPTY_IS_MISSING = {
    "user": ("id",), "device": ("id", "user_id"),
    "future_channel_ban": ("target_id", "created_by"), "channel": ("type", "created_by"),
    "member": ("channel_type", "user_id"), "message": ("channel_type", "user"),
    "reaction": ("message_id", "type", "user_id"),
}
# Which channel an item names: an id, or the member ids of a distinct channel.
CHANNEL_REF = {"channel": ("id", "member_ids"), "member": ("channel_id", "channel_member_ids"),
               "message": ("channel_id", "channel_member_ids")}
REACTION_TYPE = re.compile(r"[\w\-+:.]*", re.ASCII)
MAX_CUSTOM_BYTES = 5 * 1024
DATE_TIME_FIELDS = {kind: date_time_fields(props) for kind, props in PROPERTIES.items()}


def _attachments(kind: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    value = data.get("attachments") if kind == "message" else None
    if type(value) is not list:
        return []
    return [a for a in value if type(a) is dict]


# -- the deliberate divergences: each True when our rules reject what the schema accepts

def empty_required_string(kind: str, data: dict[str, Any]) -> bool:
    """stream-cli's rule: an empty string counts as missing (Go's zero value); the
    schemas only ask that a required string be present, so "" passes there."""
    return any(data.get(name) == "" for name in EMPTY_IS_MISSING[kind])


def empty_channel_id_is_no_id(kind: str, data: dict[str, Any]) -> bool:
    """Same rule for "exactly one of id or member_ids": an empty id is no id, while the
    schema's anyOf is content with the key being there."""
    if kind not in CHANNEL_REF:
        return False
    id_key, members_key = CHANNEL_REF[kind]
    return data.get(id_key) == "" and members_key not in data


def empty_pinned_by_id_is_no_pin(kind: str, data: dict[str, Any]) -> bool:
    """Same rule for pins: pinned_at or pin_expires with pinned_by_id "" is a pin without
    its author for us; the schema's if/then only asks for the key."""
    return (kind == "message" and data.get("pinned_by_id") == ""
            and ("pinned_at" in data or "pin_expires" in data))


def device_created_at_required(kind: str, data: dict[str, Any]) -> bool:
    """stream-cli requires device.created_at; the device schema does not."""
    return kind == "device" and "created_at" not in data


def reserved_field(kind: str, data: dict[str, Any]) -> bool:
    """Stream's reserved names are refused as custom data; the schemas know nothing of them."""
    return any(name in data for name in RESERVED.get(kind, ()))


def attachment_reserved_field(kind: str, data: dict[str, Any]) -> bool:
    """Same for an attachment's reserved `actions` and `fields`."""
    return any(name in a for a in _attachments(kind, data) for name in ATTACHMENT_RESERVED)


def attachment_without_type(kind: str, data: dict[str, Any]) -> bool:
    """stream-cli: each attachment needs a non-empty type; the schema's is optional."""
    return any(not a.get("type") for a in _attachments(kind, data))


def reaction_type_rule(kind: str, data: dict[str, Any]) -> bool:
    """stream-cli: reaction.type at most 30 bytes, matching ^[\\w-+:.]*$; no such schema rule."""
    value = data.get("type")
    return (kind == "reaction" and type(value) is str
            and (len(value.encode()) > 30 or not REACTION_TYPE.fullmatch(value)))


def message_id_max_length(kind: str, data: dict[str, Any]) -> bool:
    """stream-cli: message.id at most 255 bytes; the schema has only minLength 1."""
    value = data.get("id")
    return kind == "message" and type(value) is str and len(value.encode()) > 255


def deleted_at_without_type(kind: str, data: dict[str, Any]) -> bool:
    """Our type defaults to "regular", so deleted_at without a type is a regular message
    with deleted_at; the schema's if/then constrains `type` only when it is there."""
    return kind == "message" and "deleted_at" in data and "type" not in data


def stream_cli_field_typed(kind: str, data: dict[str, Any]) -> bool:
    """stream-cli's struct fields the schema does not list (user.updated_at, ...) keep
    their type for us (JSON Lines is checked against both); for the schema they are
    free custom data. null counts as absent, as in Go."""
    for name, fits in GO_ONLY[kind].items():
        if data.get(name) is not None and not fits(data[name]):
            return True
    return any(a.get(name) is not None and not fits(a[name])
               for a in _attachments(kind, data) for name, fits in ATTACHMENT_GO_ONLY.items())


def custom_data_over_5kib(kind: str, data: dict[str, Any]) -> bool:
    """Stream's limit of 5 KiB of custom data per object (item or attachment) is in the
    import docs, not in the schemas."""
    if kind in ("device", "future_channel_ban"):
        return False  # closed schemas: no custom data at all
    known = PROPERTIES[kind].keys() | GO_ONLY[kind].keys()
    objects = [(data, known)] + [
        (a, ATTACHMENT_PROPERTIES.keys() | ATTACHMENT_GO_ONLY.keys())
        for a in _attachments(kind, data)]
    for obj, names in objects:
        custom = {name: value for name, value in obj.items() if name not in names}
        if custom and len(orjson.dumps(custom)) > MAX_CUSTOM_BYTES:
            return True
    return False


def lower_case_t_or_z(kind: str, data: dict[str, Any]) -> bool:
    """jsonschema upper-cases a date-time before rfc3339-validator sees it, so "…t…z" passes;
    Go's time.Parse (Stream) and our rules want upper-case T and Z."""
    values = [data.get(name) for name in DATE_TIME_FIELDS[kind]]
    preferences = data.get("push_preferences") if kind == "user" else None
    if type(preferences) is dict:
        values.append(preferences.get("disabled_until"))
    return any(lower_case_time(v) for v in values)


DIVERGENCES: tuple[Divergence, ...] = (
    empty_required_string, empty_channel_id_is_no_id, empty_pinned_by_id_is_no_pin,
    device_created_at_required, reserved_field, attachment_reserved_field,
    attachment_without_type, reaction_type_rule, message_id_max_length,
    deleted_at_without_type, stream_cli_field_typed, custom_data_over_5kib, lower_case_t_or_z,
)


def expected_valid(kind: str, data: dict[str, Any]) -> bool:
    """The schema's verdict, adjusted by the deliberate divergences (all stricter)."""
    return not schema_errors(kind, data) and not any(d(kind, data) for d in DIVERGENCES)


# -- generating items ----------------------------------------------------------------

REACTION_CHARS = string.ascii_letters + string.digits + "_-+:."
ROLES = sorted(DEFAULT_ROLES)
CHANNEL_TYPES = sorted(DEFAULT_CHANNEL_TYPES)

# Lengths around every limit of either side (30, 64, 255).
long_strings = strings_of_lengths([29, 30, 31, 63, 64, 65, 254, 255, 256])


def good_value(kind: str, name: str, prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value this field may take on both sides."""
    if prop.get("format") == "date-time":
        return valid_timestamps()
    if name == "role" and kind == "user":
        return st.sampled_from(ROLES)
    if name in ("type", "channel_type") and kind in ("channel", "member", "message"):
        return (st.sampled_from(CHANNEL_TYPES) if name == "channel_type" or kind == "channel"
                else st.sampled_from(["regular", "system", ""]))
    if kind == "reaction" and name == "type":
        return st.text(REACTION_CHARS, min_size=1, max_size=12)
    if "enum" in prop:
        return st.sampled_from([v for v in prop["enum"] if v])
    if name == "attachments":
        return st.lists(good_attachments(), max_size=3)
    if name in OBJECT_VALUES:
        return OBJECT_VALUES[name][0]
    kind_of = prop.get("type")
    if kind_of == "boolean":
        return st.booleans()
    if kind_of == "array":
        return st.lists(ids, min_size=1, max_size=3)
    return ids


def any_value(kind: str, name: str, prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value, right or subtly wrong, for this field."""
    good = good_value(kind, name, prop)
    if prop.get("format") == "date-time":
        return mostly(timestamps, st.just(None))
    if name == "attachments":
        return mostly(good, attachment_lists())
    if name in OBJECT_VALUES:
        return mostly(good, OBJECT_VALUES[name][1])
    kind_of = prop.get("type")
    if kind_of == "boolean":
        return mostly(good, st.just(None), st.sampled_from(["true", 1, 0]))
    if kind_of == "array":
        return mostly(good, st.just([]), st.lists(json_scalars, min_size=1, max_size=2),
                      st.lists(st.just(""), min_size=1, max_size=2))
    return mostly(good, st.just(""), st.just(None), odd_strings, long_strings,
                  st.sampled_from(["Regular", "deleted", "reply", "firebase", "fcm", "apns"]))


OBJECT_VALUES: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "push_preferences": (
        st.fixed_dictionaries({}, optional={
            "chat_level": st.sampled_from(["all", "none", "mentions"]),
            "disabled_until": valid_timestamps()}),
        st.fixed_dictionaries({}, optional={
            "chat_level": st.sampled_from(["some", "", "ALL"]) | json_scalars,
            "disabled_until": timestamps | json_scalars,
            "extra": json_scalars}),
    ),
    "privacy_settings": (
        st.dictionaries(st.sampled_from(["typing_indicators", "read_receipts",
                                         "delivery_receipts"]),
                        st.fixed_dictionaries({"enabled": st.booleans()}), max_size=3),
        st.dictionaries(
            st.sampled_from(["typing_indicators", "read_receipts", "delivery_receipts", "x"]),
            st.sampled_from([{}, {"enabled": "yes"}, {"enabled": True, "x": 1}, None, True]),
            min_size=1, max_size=2),
    ),
    "teams_role": (st.dictionaries(ids, ids, max_size=2),
                   st.dictionaries(ids, json_scalars, min_size=1, max_size=2)),
    "push_notifications": (
        st.fixed_dictionaries({}, optional={"disabled": st.booleans(),
                                            "disabled_until": valid_timestamps() | st.just("")}),
        st.fixed_dictionaries({}, optional={"disabled": json_scalars,
                                            "disabled_until": timestamps | json_scalars}),
    ),
}

# Go-only fields, described like schema properties so that one generator serves both.
GO_ONLY_PROPS: dict[str, dict[str, dict[str, Any]]] = {
    "user": {"updated_at": {"format": "date-time"}, "push_notifications": {"type": "object"}},
    "device": {"disabled": {"type": "boolean"}, "disabled_reason": {"type": "string"}},
    "future_channel_ban": {},
    "channel": {"updated_at": {"format": "date-time"}},
    "member": {"is_moderator": {"type": "boolean"}},
    "message": {"updated_at": {"format": "date-time"}},
    "reaction": {},
}


@st.composite
def good_attachments(draw: st.DrawFn) -> dict[str, Any]:
    attachment: dict[str, Any] = {
        "type": draw(st.sampled_from(["image", "file", "video", "giphy", "custom"]))}
    for name in draw(st.sets(st.sampled_from(
            ["image_url", "thumb_url", "asset_url", "migrate_resources", "title",
             "original_width", "color"]), max_size=3)):
        if name.endswith("_url"):
            attachment[name] = draw(st.sampled_from(URLS[:2]))
        elif name == "migrate_resources":
            attachment[name] = draw(st.booleans())
        elif name == "original_width":
            attachment[name] = draw(st.integers(0, 4000))
        else:
            attachment[name] = draw(ids)
    return attachment


@st.composite
def attachments(draw: st.DrawFn) -> Any:
    """An attachment, usually with one thing wrong."""
    attachment = draw(good_attachments())
    change = draw(st.sampled_from(["none", "drop_type", "empty_type", "url", "url", "reserved",
                                   "reserved", "go_field", "schema_field", "custom", "big",
                                   "not_object"]))
    if change == "drop_type":
        del attachment["type"]
    elif change == "empty_type":
        attachment["type"] = ""
    elif change == "url":
        name = draw(st.sampled_from(["image_url", "thumb_url", "asset_url"]))
        attachment[name] = draw(st.sampled_from(URLS) | json_scalars)
    elif change == "reserved":
        attachment[draw(st.sampled_from(ATTACHMENT_RESERVED))] = draw(json_values)
    elif change == "go_field":
        attachment[draw(st.sampled_from(sorted(ATTACHMENT_GO_ONLY)))] = draw(json_scalars)
    elif change == "schema_field":
        attachment[draw(st.sampled_from(sorted(ATTACHMENT_PROPERTIES)))] = draw(json_scalars)
    elif change == "custom":
        attachment[draw(ids)] = draw(json_values)
    elif change == "big":
        attachment["blob"] = "x" * draw(st.sampled_from([5000, 5200]))
    elif change == "not_object":
        return draw(json_scalars)
    return attachment


def attachment_lists() -> st.SearchStrategy[list[Any]]:
    # Valid attachments and one that is usually wrong in one way.
    few = st.tuples(st.lists(good_attachments(), max_size=2), attachments()).map(
        lambda t: [*t[0], t[1]])
    # Around Stream's limit of 30: copies of one valid attachment.
    many = st.tuples(good_attachments(), st.sampled_from([29, 30, 31, 35])).map(
        lambda t: [t[0]] * t[1])
    return st.sampled_from([few, many]).flatmap(lambda strategy: strategy)


@st.composite
def valid_data(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """Data both sides accept (our divergences included), with some optional fields."""
    props = PROPERTIES[kind]
    data: dict[str, Any] = {name: draw(good_value(kind, name, props[name]))
                            for name in REQUIRED[kind]}
    if kind == "device":
        data["created_at"] = draw(valid_timestamps())
    # Fields tied by rules to others are added below, not at random.
    tied = {"id", "member_ids", "channel_id", "channel_member_ids", "invited",
            "invite_accepted_at", "invite_rejected_at", "type", "deleted_at", "parent_id",
            "show_in_channel", "pinned_at", "pinned_by_id", "pin_expires"}
    free = sorted(set(props) - set(data) - tied)
    for name in draw(st.sets(st.sampled_from(free), max_size=4)) if free else ():
        data[name] = draw(good_value(kind, name, props[name]))
    if kind in CHANNEL_REF:
        id_key, members_key = CHANNEL_REF[kind]
        if draw(st.booleans()):
            data[id_key] = draw(ids)
        else:
            data[members_key] = draw(st.lists(ids, min_size=1, max_size=3))
    if kind == "member" and draw(st.booleans()):
        data["invited"] = True
        for name in draw(st.sets(st.sampled_from(["invite_accepted_at", "invite_rejected_at"]))):
            data[name] = draw(valid_timestamps())
    elif kind == "message":
        shape = draw(st.sampled_from(["plain", "deleted", "reply", "pinned", "typed"]))
        if shape == "deleted":
            data["type"] = "deleted"
            data["deleted_at"] = draw(valid_timestamps())
        elif shape == "reply":
            data["type"] = draw(st.sampled_from(["reply", "regular"]))
            data["parent_id"] = draw(ids)
            if draw(st.booleans()):
                data["show_in_channel"] = draw(st.booleans())
        elif shape == "pinned":
            data["pinned_by_id"] = draw(ids)
            data["pinned_at"] = draw(valid_timestamps())
            if draw(st.booleans()):
                data["pin_expires"] = draw(valid_timestamps())
        elif shape == "typed":
            data["type"] = draw(st.sampled_from(["regular", "system", ""]))
    return data


def _twists() -> dict[str, list[Twist]]:
    """Per kind, changes aimed at the edges of the rules."""
    empty_or_long = st.just("") | long_strings
    maybe_ts = st.one_of(drop, valid_timestamps())

    def channel_ref(id_key: str, members_key: str) -> Twist:
        return together(**{id_key: st.sampled_from([DROP, "", "c1"]),
                           members_key: st.sampled_from([DROP, [], ["u1", "u2"]])})

    return {
        "user": [
            one("id", empty_or_long, odd_strings, st.sampled_from(["@admin", "a.b", "a:b"])),
            one("updated_at", timestamps, json_scalars), one("created_at", time_edges),
            one("deactivated_at", time_edges),
            one("push_notifications", OBJECT_VALUES["push_notifications"][1]),
            one("push_preferences", OBJECT_VALUES["push_preferences"][1]),
            one("privacy_settings", OBJECT_VALUES["privacy_settings"][1]),
            one("role", odd_strings, st.just("")), one("teams", st.lists(json_scalars, max_size=2)),
        ],
        "device": [
            one("created_at", drop), one("created_at", timestamps), one("id", empty_or_long),
            one("user_id", empty_or_long),
            *[one("push_provider_type", st.sampled_from(
                ["firebase", "apn", "huawei", "xiaomi", "", "fcm", "APN", "apns"]))] * 2,
            one("push_provider_name", json_scalars), one("disabled", st.booleans()),
            one("platform", json_values),
        ],
        "future_channel_ban": [
            one("target_id", st.just(""), json_scalars), one("created_by", drop, ids),
            one("created_at", time_edges), one("shadow", json_scalars),
            one("reason", json_scalars), one("channel_cid", ids),
        ],
        "channel": [
            channel_ref("id", "member_ids"), channel_ref("id", "member_ids"),
            one("id", odd_strings, long_strings), one("type", empty_or_long, odd_strings),
            one("created_by", drop, st.just("")), one("updated_at", timestamps),
            one("truncated_at", time_edges), one("cid", ids),
        ],
        "member": [
            channel_ref("channel_id", "channel_member_ids"),
            together(invited=st.sampled_from([DROP, True, False, "true", None]),
                     invite_accepted_at=maybe_ts, invite_rejected_at=maybe_ts),
            together(invited=st.just(True), invite_accepted_at=st.one_of(drop, timestamps)),
            one("is_moderator", json_scalars), one("user_id", drop, st.just("")),
            one("last_read", time_edges),
        ],
        "message": [
            channel_ref("channel_id", "channel_member_ids"),
            together(type=st.sampled_from([DROP, DROP, "deleted", "regular", "", "system",
                                           "Deleted"]),
                     deleted_at=st.sampled_from([drop, valid_timestamps(), valid_timestamps(),
                                                 timestamps]).flatmap(lambda value: value)),
            together(type=st.sampled_from([DROP, "reply", "regular", "ephemeral"]),
                     parent_id=st.sampled_from([DROP, "p1", ""]),
                     show_in_channel=st.sampled_from([DROP, True, False])),
            together(pinned_by_id=st.sampled_from([DROP, "p1", ""]), pinned_at=maybe_ts,
                     pin_expires=maybe_ts),
            *[one("attachments", attachment_lists())] * 3,
            one("type", st.sampled_from(["regular", "system", "", "Regular", "ephemeral",
                                         "error", "reply", "deleted"])),
            one("id", st.sampled_from(["", "m" * 255, "m" * 256, "m" * 300])),
            one("updated_at", timestamps, json_scalars), one("created_at", time_edges),
        ],
        "reaction": [
            one("type", st.text(REACTION_CHARS, min_size=1, max_size=12), odd_strings,
                empty_or_long),
            one("created_at", drop, timestamps), one("created_at", time_edges), one("user", ids),
        ],
    }


TWISTS = _twists()
KINDS = sorted(KIND_SCHEMA)


@st.composite
def items(draw: st.DrawFn, kind: str) -> tuple[str, dict[str, Any]]:
    """(item type, data) of one kind: a valid item with zero to three subtle changes."""
    item_type = draw(st.sampled_from(["member", "channel_member"])) if kind == "member" else kind
    data = draw(valid_data(kind))
    fields = {**PROPERTIES[kind], **GO_ONLY_PROPS[kind]}
    extra_names = [*RESERVED.get(kind, ()), "name", "image", "color", "nested"]
    # Often exactly one change, so that it alone decides the verdict.
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 1, 2, 3]))):
        change = draw(st.sampled_from(["drop", "set", "twist", "twist", "twist", "twist",
                                       "twist", "twist", "extra", "big"]))
        if change == "drop" and data:
            del data[draw(st.sampled_from(sorted(data)))]
        elif change == "set":
            name = draw(st.sampled_from(sorted(fields)))
            data[name] = draw(any_value(kind, name, fields[name]))
        elif change == "twist":
            apply_twist(data, draw(st.sampled_from(TWISTS[kind]).flatmap(lambda t: t)))
        elif change == "extra":
            data[draw(st.sampled_from(extra_names))] = draw(json_values)
        elif change == "big":  # custom data around Stream's 5 KiB
            data["blob"] = "x" * draw(st.sampled_from([4000, 5109, 5110, 5200]))
    return item_type, as_json(data)


# -- the property ---------------------------------------------------------------------

def _explain(item_type: str, data: dict[str, Any], ours: list[str]) -> str:
    kind = ITEM_TYPES[item_type]
    return (f"\nitem: {json.dumps({'type': item_type, 'data': data})[:2000]}"
            f"\nschema errors: {schema_errors(kind, data)}"
            f"\ndivergences: {[d.__name__ for d in DIVERGENCES if d(kind, data)]}"
            f"\nour field errors: {ours}")


# Messages have the most rules, channels and members the channel reference shapes.
EXAMPLES_PER_KIND = {"message": 400, "channel": 150, "member": 150, "reaction": 150}


@pytest.mark.parametrize("kind", KINDS)
def test_our_verdict_on_fields_is_the_schemas_adjusted_by_the_divergences(kind: str) -> None:
    @settings(max_examples=EXAMPLES_PER_KIND.get(kind, 100), deadline=None)
    @given(items(kind))
    def check(item: tuple[str, dict[str, Any]]) -> None:
        item_type, body = item
        expected = expected_valid(kind, body)
        ours = our_field_errors(item_type, body)
        event("valid" if expected else "invalid")
        for divergence in DIVERGENCES:
            if divergence(kind, body):
                event(divergence.__name__)
        assert (not ours) == expected, _explain(item_type, body, ours)

    check()


EXAMPLES = [
    ("reaction", {"message_id": "m", "type": "like", "user_id": "u",
                  "created_at": "2022-02-30T00:00:00Z"}),
    ("member", {"channel_type": "messaging", "channel_id": "c", "user_id": "u",
                "invite_accepted_at": "2022-02-14T12:34:30Z"}),
    ("device", {"id": "d", "user_id": "u", "push_provider_type": "apn",
                "created_at": "2022-02-14T12:34:30Z", "platform": "ios"}),
    ("message", {"id": "m", "channel_type": "messaging", "channel_id": "c", "user": "u",
                 "attachments": [{"type": "image"}] * 31}),
    ("message", {"id": "m", "channel_type": "messaging", "channel_id": "c", "user": "u",
                 "type": "reply"}),
]


@pytest.mark.parametrize(("item_type", "body"), EXAMPLES)
def test_fixed_examples_agree_with_the_oracle(item_type: str, body: dict[str, Any]) -> None:
    kind = ITEM_TYPES[item_type]
    assert (not our_field_errors(item_type, body)) == expected_valid(kind, body)


# -- the oracle itself ---------------------------------------------------------------

def test_the_oracle_checks_date_time_and_resolves_refs() -> None:
    assert "date-time" in FORMAT_CHECKER.checkers  # see tests/schema_oracle.py
    reaction = {"message_id": "m", "type": "like", "user_id": "u",
                "created_at": "2022-02-30T00:00:00Z"}
    assert schema_errors("reaction", reaction)
    assert not schema_errors("reaction", {**reaction, "created_at": "2024-02-29T00:00:00Z"})
    message = {"id": "m", "channel_type": "messaging", "channel_id": "c", "user": "u"}
    assert not schema_errors("message", {**message, "attachments": [{"type": "image"}]})
    # Only through attachment.schema.json's $ref:
    assert schema_errors("message", {**message, "attachments": [{"type": 1}]})


def test_generated_valid_data_is_valid_on_both_sides() -> None:
    """The base of every generated item passes both, so each change is what breaks it."""
    @settings(max_examples=150, deadline=None)
    @given(st.sampled_from(sorted(ITEM_TYPES)).flatmap(
        lambda t: st.tuples(st.just(t), valid_data(ITEM_TYPES[t]))))
    def check(item: tuple[str, dict[str, Any]]) -> None:
        item_type, data = item
        assert not schema_errors(ITEM_TYPES[item_type], data), data
        assert our_field_errors(item_type, data) == [], data

    check()


# -- one example per divergence: the schema accepts, our rules reject ---------------

TS = "2022-02-14T12:34:30Z"
MESSAGE = {"id": "m1", "channel_type": "messaging", "channel_id": "c1", "user": "u1"}
REACTION = {"message_id": "m1", "type": "like", "user_id": "u1", "created_at": TS}
DEVICE = {"id": "d1", "user_id": "u1", "push_provider_type": "apn", "created_at": TS}

DIVERGENCE_EXAMPLES: list[tuple[Divergence, str, dict[str, Any], str]] = [
    (empty_required_string, "user", {"id": ""}, "user.id required"),
    (empty_channel_id_is_no_id, "channel",
     {"type": "messaging", "created_by": "u1", "id": ""},
     "either channel.id or channel.member_ids required"),
    (empty_pinned_by_id_is_no_pin, "message", {**MESSAGE, "pinned_by_id": "", "pinned_at": TS},
     "message.pinned_at"),
    (device_created_at_required, "device",
     {k: v for k, v in DEVICE.items() if k != "created_at"}, "device.created_at required"),
    (reserved_field, "channel",
     {"type": "messaging", "id": "c1", "created_by": "u1", "cid": "messaging:c1"},
     "channel.cid is a reserved field"),
    (attachment_reserved_field, "message",
     {**MESSAGE, "attachments": [{"type": "image", "actions": []}]},
     "attachment.actions is a reserved field"),
    (attachment_without_type, "message",
     {**MESSAGE, "attachments": [{"image_url": "https://cdn.example.com/a.png"}]},
     "attachment.type required"),
    (reaction_type_rule, "reaction", {**REACTION, "type": "thumbs up"}, "reaction.type invalid"),
    (message_id_max_length, "message", {**MESSAGE, "id": "m" * 256},
     "message.id max length exceeded (255)"),
    (deleted_at_without_type, "message", {**MESSAGE, "deleted_at": TS},
     'while message.type is "regular"'),
    (stream_cli_field_typed, "user", {"id": "u1", "updated_at": "2022-02-30T00:00:00Z"},
     "user.updated_at"),
    (custom_data_over_5kib, "user", {"id": "u1", "bio": "x" * 5200}, "5 KiB"),
    (lower_case_t_or_z, "reaction", {**REACTION, "created_at": "2022-02-14t12:34:30z"},
     "reaction.created_at"),
]


@pytest.mark.parametrize(("divergence", "item_type", "data", "message"), DIVERGENCE_EXAMPLES,
                         ids=[d.__name__ for d, *_ in DIVERGENCE_EXAMPLES])
def test_divergence_example(divergence: Divergence, item_type: str, data: dict[str, Any],
                            message: str) -> None:
    kind = ITEM_TYPES[item_type]
    assert schema_errors(kind, data) == []
    assert [d for d in DIVERGENCES if d(kind, data)] == [divergence]
    ours = our_field_errors(item_type, data)
    assert len(ours) == 1
    assert message in ours[0]


def test_every_divergence_has_an_example() -> None:
    assert {d for d, *_ in DIVERGENCE_EXAMPLES} == set(DIVERGENCES)


# Outside the generated ground: the schema (Python's re and len) accepts, we reject.
OUT_OF_GROUND = [
    # Python's \w is Unicode; Go's (and ours) ASCII.
    pytest.param("user", {"id": "é"}, 'user.id invalid ("^[@\\w-]*$" allowed)', id="unicode-w"),
    pytest.param("channel", {"type": "messaging", "id": "٣", "created_by": "u1"},
                 "channel.id", id="unicode-digit"),
    # maxLength counts characters; our limits count UTF-8 bytes.
    pytest.param("device", {**DEVICE, "id": "é" * 200}, "device.id max length exceeded (255)",
                 id="bytes-not-characters"),
    # Python's `$` matches before a final newline (the pattern's and rfc3339-validator's).
    pytest.param("user", {"id": "u1\n"}, "user.id invalid", id="pattern-trailing-newline"),
    pytest.param("reaction", {**REACTION, "created_at": TS + "\n"}, "reaction.created_at",
                 id="date-time-trailing-newline"),
]


@pytest.mark.parametrize(("item_type", "data", "message"), OUT_OF_GROUND)
def test_out_of_ground_divergence(item_type: str, data: dict[str, Any], message: str) -> None:
    assert schema_errors(ITEM_TYPES[item_type], data) == []
    ours = our_field_errors(item_type, data)
    assert len(ours) == 1
    assert message in ours[0]


# -- once bugs: present-but-empty values the schema rejects, and so must we ----------

PRESENCE_EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("channel", {"type": "messaging", "created_by": "u1", "id": "", "member_ids": ["u1"]}),
    ("message", {**MESSAGE, "channel_id": "", "channel_member_ids": ["u1"]}),
    ("channel", {"type": "messaging", "created_by": "u1", "id": "c1", "member_ids": []}),
    ("member", {"channel_type": "messaging", "user_id": "u1", "channel_id": "c1",
                "channel_member_ids": []}),
    ("message", {**MESSAGE, "pinned_by_id": ""}),
]


@pytest.mark.parametrize(("item_type", "data"), PRESENCE_EXAMPLES)
def test_present_but_empty_values_are_rejected_by_both(item_type: str,
                                                       data: dict[str, Any]) -> None:
    assert schema_errors(ITEM_TYPES[item_type], data)
    assert our_field_errors(item_type, data)
