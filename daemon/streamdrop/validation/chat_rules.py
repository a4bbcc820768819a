"""What Stream requires of one chat item on its own, before any other item is consulted.

Two steps, as stream-cli took them. Decoding: every known field of its JSON
type (`chat_fields.check_fields` over `ItemRules.tables`), and the fields of
the objects an item holds (`nested_decode_error`); an item that fails goes
no further. Then the field rules of its kind, in stream-cli's order, first
failure only (`field_rules`), and `beyond_fields_error`: reserved names and,
in JSON Lines, the JSON Schemas' rules (custom data, closed schemas,
either/or fields by presence, attachments). Each rule takes the item's dict,
its facts (`chat_facts`) and the options it needs, and returns an error
message or None. The validator calls these steps itself, one call each: the
JSON Lines format takes every item this way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from streamdrop.validation import chat_fields as cf
from streamdrop.validation.chat_facts import Facts
from streamdrop.validation.model import Options
from streamdrop.validation.timestamps import utc_rfc3339

PUSH_PROVIDERS: Final = ("firebase", "huawei", "apn", "xiaomi")
MESSAGE_TYPES: Final = ("regular", "deleted", "system", "reply")
FIELDS: Final[Mapping[str, Mapping[str, cf.FieldSpec]]] = {
    "user": cf.USER_FIELDS, "device": cf.DEVICE_FIELDS, "channel": cf.CHANNEL_FIELDS,
    "member": cf.MEMBER_FIELDS, "message": cf.MESSAGE_FIELDS, "reaction": cf.REACTION_FIELDS,
    "future_channel_ban": cf.FUTURE_CHANNEL_BAN_FIELDS,
}
# Kinds holding objects whose fields are typed too (decoding checks them).
NESTED_KINDS: Final = frozenset({"user", "message"})

FieldRule = Callable[[dict[str, Any], Facts], "str | None"]


class ItemRules:
    """The rules of one format (array or JSON Lines) under one set of options."""

    def __init__(self, options: Options, *, jsonl: bool) -> None:
        self.jsonl = jsonl
        self.tables = {kind: cf.field_table(fields, jsonl=jsonl)
                       for kind, fields in FIELDS.items()}
        self.attachment_table = cf.field_table(cf.ATTACHMENT_FIELDS, jsonl=jsonl)
        self.channel_id_re = (cf.CHANNEL_ID_LIGHT_RE if options.lighter_validation_id
                              else cf.CHANNEL_ID_RE)
        self.channel_id_pattern = "^[\\w!-]*$" if options.lighter_validation_id else "^[\\w-]*$"
        # The rules that depend on the options are methods (a partial with keywords
        # builds a dict on every call, and JSON Lines calls them for every item).
        self.field_rules: dict[str, FieldRule] = {
            "user": user_fields,
            "device": device_fields,
            "channel": self.channel_fields,
            "member": self.member_fields,
            "message": self.message_fields,
            "reaction": reaction_fields,
            "future_channel_ban": future_ban_fields,
        }

    def nested_decode_error(self, kind: str, body: dict[str, Any]) -> str | None:
        """Wrong JSON types inside the objects an item holds (kinds in NESTED_KINDS)."""
        if kind == "message":
            return self._attachments_decode_error(body.get("attachments"))
        return cf.nested_objects_error(kind, body, self.tables[kind])

    def _attachments_decode_error(self, attachments: Any) -> str | None:
        if not attachments:
            return None
        for position, attachment in enumerate(attachments):
            where = f"message.attachments[{position}]"
            if type(attachment) is not dict:
                return f"{where} must be an object, got {cf.type_name(attachment)}"
            problem, _ = cf.check_fields(where, attachment, self.attachment_table,
                                         jsonl=self.jsonl)
            if problem:
                return problem
        return None

    def beyond_fields_error(self, kind: str, body: dict[str, Any],
                            unknown: list[str] | None) -> str | None:
        """After the field rules: reserved field names, then (JSON Lines) the schema's rules."""
        if unknown:
            problem = cf.reserved_error(kind, body, unknown)
            if problem is not None:
                return problem
        if not self.jsonl:
            return None
        if kind in cf.CLOSED_IN_SCHEMA:
            return cf.closed_schema_error(kind, body, FIELDS[kind])
        return _presence_error(kind, body) or cf.custom_size_error(kind, body, unknown)

    # -- the field rules that depend on the options (stream-cli's order) ---------

    def channel_fields(self, channel: dict[str, Any], facts: Facts) -> str | None:
        channel_type, channel_id, member_ids, created_by, _ = facts
        if bool(channel_id) == bool(member_ids):
            return "either channel.id or channel.member_ids required"
        if cf.byte_length(channel_id) > 64:
            return "channel.id max length exceeded (64)"
        if not self.channel_id_re.fullmatch(channel_id):
            return (f"channel.id {cf.quote(channel_id)} invalid "
                    f'("{self.channel_id_pattern}" allowed)')
        if not channel_type:
            return "channel.type required"
        if not created_by:
            return "channel.created_by required"
        if self.jsonl:
            if cf.byte_length(channel_type) > 64:
                return "channel.type max length exceeded (64)"
            if not cf.CHANNEL_TYPE_RE.fullmatch(channel_type):
                return f'channel.type {cf.quote(channel_type)} invalid ("^[\\w-]*$" allowed)'
        return None

    def member_fields(self, member: dict[str, Any], facts: Facts) -> str | None:
        channel_type, channel_id, member_ids, user_id = facts
        if not channel_type:
            return "member.channel_type required"
        if bool(channel_id) == bool(member_ids):
            return "either member.channel_id or member.channel_member_ids required"
        if not user_id:
            return "member.user_id required"
        if self.jsonl and member.get("invited") is not True:
            for name in ("invite_accepted_at", "invite_rejected_at"):
                if name in member:
                    return f"member.{name} is only allowed when member.invited is true"
        return None

    def message_fields(self, message: dict[str, Any], facts: Facts) -> str | None:
        message_id, _, channel_type, channel_id, member_ids, user_id, _, _ = facts
        if len(message_id) > 63 and cf.byte_length(message_id) > 255:
            return "message.id max length exceeded (255)"
        if self.jsonl and not message_id:
            return "message.id required"
        if not channel_type:
            return "message.channel_type required"
        if bool(channel_id) == bool(member_ids):
            return "either message.channel_id or message.channel_member_ids required"
        if not user_id:
            return "message.user required"
        problem = _message_type_error(message)
        if problem is None:
            problem = _message_pin_error(message)
        if problem is None:
            problem = _attachments_error(message.get("attachments"), self.jsonl)
        if problem is None and self.jsonl:
            problem = _message_thread_error(message)
        return problem


# -- the other field rules, and what messages' rules share (stream-cli's order) --

def user_fields(user: dict[str, Any], facts: Facts) -> str | None:
    user_id = facts[0]
    if not user_id:
        return "user.id required"
    if cf.byte_length(user_id) > 255:
        return "user.id max length exceeded (255)"
    if not cf.USER_ID_RE.fullmatch(user_id):
        return 'user.id invalid ("^[@\\w-]*$" allowed)'
    return None


def device_fields(device: dict[str, Any], facts: Facts) -> str | None:
    device_id, user_id = facts
    if not device_id:
        return "device.id required"
    if cf.byte_length(device_id) > 255:
        return "device.id max length exceeded (255)"
    if not user_id:
        return "device.user_id required"
    if cf.byte_length(user_id) > 255:
        return "device.user_id max length exceeded (255)"
    if not device.get("created_at"):
        return "device.created_at required"
    provider = device.get("push_provider_type") or ""
    if not provider:
        return "device.push_provider_type required"
    if provider not in PUSH_PROVIDERS:
        return ("device.push_provider_type invalid, available options are: "
                + ",".join(PUSH_PROVIDERS))
    return None


def _message_type_error(message: dict[str, Any]) -> str | None:
    message_type = message.get("type") or "regular"
    if message_type not in MESSAGE_TYPES:
        return 'message.type invalid ("regular", "deleted", "system" and "reply" allowed)'
    deleted_at = message.get("deleted_at")
    if message_type == "deleted" and not deleted_at:
        return 'message.type "deleted" while message.deleted_at is null'
    if deleted_at and message_type != "deleted":
        return (f"message.deleted_at {cf.quote(utc_rfc3339(deleted_at))} while "
                f"message.type is {cf.quote(message_type)}")
    return None


def _message_pin_error(message: dict[str, Any]) -> str | None:
    pinned_by = message.get("pinned_by_id") or ""
    pinned_at = message.get("pinned_at")
    if pinned_by and pinned_at is None:
        return f"message.pinned_by_id {cf.quote(pinned_by)} while pinned_at is null"
    if not pinned_by and pinned_at is not None:
        return f"message.pinned_at {cf.quote(pinned_at)} while pinned_by_id is null"
    expires = message.get("pin_expires")
    if expires is not None and (pinned_at is None or not pinned_by):
        return f"message.pin_expires {cf.quote(expires)} while pinned_at/pinned_by_id is null"
    return None


def _attachments_error(attachments: list[Any] | None, jsonl: bool) -> str | None:
    if not attachments:
        return None
    for attachment in attachments:
        if not attachment.get("type"):
            return "attachment.type required"
        for name in cf.RESERVED["attachment"]:
            if name in attachment:
                return f"attachment.{name} is a reserved field"
    if jsonl:
        if len(attachments) > cf.MAX_ATTACHMENTS:
            return (f"message.attachments has {len(attachments)} attachments, "
                    f"more than {cf.MAX_ATTACHMENTS}")
        for position, attachment in enumerate(attachments):
            problem = _attachment_jsonl_error(position, attachment)
            if problem:
                return problem
    return None


def _message_thread_error(message: dict[str, Any]) -> str | None:
    has_parent = "parent_id" in message
    if message.get("type") == "reply" and not has_parent:
        return 'message.type "reply" needs message.parent_id'
    if "show_in_channel" in message and not has_parent:
        return "message.show_in_channel needs message.parent_id"
    return None


def reaction_fields(reaction: dict[str, Any], facts: Facts) -> str | None:
    message_id, user_id, reaction_type = facts
    if not message_id:
        return "reaction.message_id required"
    if not reaction_type:
        return "reaction.type required"
    if cf.byte_length(reaction_type) > 30:
        return "reaction.type max length exceeded (30)"
    if not cf.REACTION_TYPE_RE.fullmatch(reaction_type):
        return 'reaction.type invalid ("^[\\w-+:.]*$" allowed)'
    if not user_id:
        return "reaction.user_id required"
    if not reaction.get("created_at"):
        return "reaction.created_at required"
    return None


def future_ban_fields(ban: dict[str, Any], facts: Facts) -> str | None:
    target_id, created_by = facts
    if not target_id:
        return "future_channel_ban.target_id required"
    if not created_by:
        return "future_channel_ban.created_by required"
    return None


# -- what JSON Lines adds: the JSON Schemas ---------------------------------------

# The schemas decide by presence where stream-cli's rules treat "" as absent:
# an item must satisfy both, so in JSON Lines a present-but-empty value counts.
_EITHER_OR: Final = {
    "channel": ("id", "member_ids"),
    "member": ("channel_id", "channel_member_ids"),
    "message": ("channel_id", "channel_member_ids"),
}


def _presence_error(kind: str, body: dict[str, Any]) -> str | None:
    pair = _EITHER_OR.get(kind)
    if pair is None:
        return None
    one, other = pair
    if (one in body) == (other in body):
        return f"either {kind}.{one} or {kind}.{other} required (not both, even empty)"
    if body.get(other) == []:
        return f"{kind}.{other} must name at least one member"
    if kind == "message" and "pinned_by_id" in body and "pinned_at" not in body:
        return f"message.pinned_by_id {cf.quote(body['pinned_by_id'])} while pinned_at is null"
    return None


def _attachment_jsonl_error(position: int, attachment: dict[str, Any]) -> str | None:
    where = f"message.attachments[{position}]"
    for name in cf.ATTACHMENT_URL_FIELDS:
        url = attachment.get(name)
        if url is not None and not url.startswith("https://"):
            return f"{where}.{name} {cf.quote(url)} must be an https:// URL"
    custom = [name for name in attachment if name not in cf.ATTACHMENT_FIELDS]
    return cf.custom_size_error(where, attachment, custom)
