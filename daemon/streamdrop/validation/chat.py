"""Stream's chat import rules, item by item, in one streaming pass (pure).

stream-cli checked a file in three passes (see shared/spec/chat-validation-rules.md):
fields (indexing the items that pass), references (over every decodable
item), completeness of distinct channels. Reading a 300 MB file three times
is slow, so this validator makes one pass and gives the same answer:

- the field checks and the index are exactly stream-cli's first pass;
- an item's references are checked as soon as it is indexed. The index only
  grows, so a reference found now is found at the end; a reference not found
  yet (it may point forward) parks the item's few reference fields, and the
  parked items are checked again, in file order, once the file is read;
- reference problems are then sorted by item, which is stream-cli's order.

The JSON Lines format (`{"type", "data"}`) adds Stream's current rules: item
order, future channel bans, 5 KiB of custom data, 30 attachments, https
URLs, the JSON Schemas' field rules; a reference to something not in the
file is a warning there (Stream resolves it in the app) unless references
are strict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import msgspec
import orjson

from streamdrop.validation import chat_fields as cf
from streamdrop.validation import fastpath
from streamdrop.validation.model import Options, Problem, Problems, Result
from streamdrop.validation.reader import describe_json_error
from streamdrop.validation.timestamps import utc_rfc3339

ITEM_ORDER: Final = ("user", "device", "future_channel_ban", "channel", "member",
                     "message", "reaction")
_RANK: Final = {kind: rank for rank, kind in enumerate(ITEM_ORDER)}
_JSONL_TYPE_NAMES: Final = {**{kind: kind for kind in ITEM_ORDER}, "channel_member": "member"}
_ARRAY_TYPE_NAMES: Final = {kind: kind for kind in ITEM_ORDER if kind != "future_channel_ban"}
PUSH_PROVIDERS: Final = ("firebase", "huawei", "apn", "xiaomi")
MESSAGE_TYPES: Final = ("regular", "deleted", "system", "reply")
UNKNOWN_TYPE_MAX_MESSAGE_LENGTH: Final = 20_000  # stream-cli's fallback
STATS_KEYS: Final = ("users", "channels", "members", "messages", "reactions", "devices")

_DEFER: Final = object()  # "a referenced item is not indexed yet"
_REGION_RETRIES: Final = 4
_NESTED_KINDS: Final = frozenset({"user", "message"})
_PLAIN_MESSAGE_TYPES: Final = frozenset({None, "", "regular", "system", "reply"})
_SEP: Final = "\x00"

# A reference check yields these: an error (stop), a missing reference
# (error in the array format, warning in JSON Lines), or nothing.
Found = list[tuple[bool, str]]  # (is_missing_reference, message)
_KindRules = tuple[
    "cf.FieldTable",
    Callable[[dict[str, Any]], tuple[Any, ...]],
    Callable[[dict[str, Any], tuple[Any, ...]], "str | None"],
    Callable[[tuple[Any, ...]], "str | None"],
    Callable[[tuple[Any, ...]], Any],
]


Locate = Callable[[int], tuple[int, int]]


def _decode_envelopes(raws: list[msgspec.Raw]) -> list[Any]:
    return fastpath.REGION_DECODER.decode(b"[" + b",".join(map(bytes, raws)) + b"]")


def _no_position(_: int) -> tuple[int, int]:
    return (0, 0)


def _channel_key(channel_type: str, channel_id: str, member_ids: Sequence[str]) -> str:
    """One key per channel: type and id, or type and the sorted member ids (distinct)."""
    if channel_id:
        return f"{channel_type}{_SEP}{channel_id}"
    return f"{channel_type}{_SEP}\x01" + _SEP.join(sorted(member_ids))


def _strings(value: Any) -> tuple[str, ...]:
    """A list of strings from an already type-checked field (null items count as "")."""
    if not value:
        return ()
    return tuple(v if v is not None else "" for v in value)


class _Index:
    """What pass 1 learned: ids of every kind, teams, distinct channel members."""

    __slots__ = ("channel_team", "channels", "devices", "distinct", "future_bans", "members",
                 "messages", "reactions", "replies", "user_teams", "users")

    def __init__(self) -> None:
        self.users: set[str] = set()
        self.user_teams: dict[str, tuple[str, ...]] = {}
        self.channels: set[str] = set()
        self.channel_team: dict[str, str] = {}
        # distinct channel key -> (sorted member ids, members not yet seen, position)
        self.distinct: dict[str, tuple[list[str], set[str], tuple[int, int, int]]] = {}
        self.members: set[str] = set()
        self.messages: set[str] = set()
        self.replies: set[str] = set()
        self.reactions: set[str] = set()
        self.devices: set[str] = set()
        self.future_bans: set[str] = set()


class ChatValidator:
    """Checks chat items fed in file order; `finish()` gives the verdict."""

    def __init__(self, options: Options, *, jsonl: bool) -> None:
        self.options = options
        self.jsonl = jsonl
        self.strict = options.strict_references or not jsonl
        self.index = _Index()
        self.field_errors = Problems(options.max_errors)
        self.warnings = Problems(options.max_errors)
        self.parse_errors = 0
        # (item, line, offset, is_error, message) found by the reference checks.
        self.reference_problems: list[tuple[int, int, int, bool, str]] = []
        self.parked: list[tuple[int, int, int, str, tuple[Any, ...]]] = []
        self.final = False
        # Messages no longer than this need no lookup of their channel type's limit.
        self.shortest_limit = min(
            (*options.channel_types.values(), UNKNOWN_TYPE_MAX_MESSAGE_LENGTH))
        # Positions are worked out only for items with something to report:
        # `_locate(k)` gives (line, offset) of the k-th item after `_first`.
        self._first = 0
        self._locate: Locate = _no_position
        self.current_item = 0  # the channel being indexed
        self.plain_reaction_types: set[str] = set()  # reaction types known to be well formed
        self._plain: dict[str, Callable[[Any], bool]] = {
            "message": self._plain_message, "reaction": self._plain_reaction,
            "user": self._plain_user, "member": self._plain_member,
        }
        self.highest_rank = -1
        self.highest_kind = ""
        self.channel_id_re = (cf.CHANNEL_ID_LIGHT_RE if options.lighter_validation_id
                              else cf.CHANNEL_ID_RE)
        self.channel_id_pattern = "^[\\w!-]*$" if options.lighter_validation_id else "^[\\w-]*$"
        self.type_names = _JSONL_TYPE_NAMES if jsonl else _ARRAY_TYPE_NAMES
        self.body_key = "data" if jsonl else "item"
        self._tables = {kind: cf.field_table(fields, jsonl=jsonl)
                        for kind, fields in _FIELDS.items()}
        self._attachment_table = cf.field_table(cf.ATTACHMENT_FIELDS, jsonl=jsonl)
        # kind -> (field table, facts, field rules, indexer, reference checks)
        self._kinds: dict[str, _KindRules] = {
            "user": (self._tables["user"], _user_facts, self._user_fields, self._index_user,
                     self._user_references),
            "device": (self._tables["device"], _device_facts, self._device_fields,
                       self._index_device, self._device_references),
            "channel": (self._tables["channel"], _channel_facts, self._channel_fields,
                        self._index_channel, self._channel_references),
            "member": (self._tables["member"], _member_facts, self._member_fields,
                       self._index_member, self._member_references),
            "message": (self._tables["message"], _message_facts, self._message_fields,
                        self._index_message, self._message_references),
            "reaction": (self._tables["reaction"], _reaction_facts, self._reaction_fields,
                         self._index_reaction, self._reaction_references),
            "future_channel_ban": (self._tables["future_channel_ban"], _future_ban_facts,
                                   self._future_ban_fields, self._index_future_ban,
                                   self._future_ban_references),
        }

    # -- the stream of items ---------------------------------------------------

    def parse_error(self, problem: Problem) -> None:
        self.parse_errors += 1
        self.field_errors.add(problem)

    def feed(self, item: int, line: int, offset: int, value: Any) -> None:
        self._first = item
        self._locate = lambda _: (line, offset)
        self._check(item, value)

    def feed_many(self, first: int, values: list[Any], locate: Locate) -> None:
        """Check consecutive items; `locate(k)` gives (line, offset) of values[k]."""
        self._first = first
        self._locate = locate
        check = self._check
        for item, value in enumerate(values, first):
            check(item, value)

    def _where(self, item: int) -> tuple[int, int]:
        return self._locate(item - self._first)

    def _check(self, item: int, value: Any) -> None:
        envelope = self._envelope(item, value)
        if envelope is None:
            return
        kind, body = envelope
        table = self._kinds[kind][0]
        problem, unknown = cf.check_fields(kind, body, table, jsonl=self.jsonl)
        if problem is None and kind in _NESTED_KINDS:
            problem = self._nested_decode_error(kind, body, table)
        if problem is not None:  # stream-cli could not decode it: no further check
            self._field_error(problem, item)
            return
        self._accept(item, kind, body, unknown)

    def feed_region(self, first: int, region: bytes, locate: Locate) -> int:
        """Check the items of `[region]`, fast where ordinary; return how many there were.

        Raises msgspec.DecodeError, having checked nothing, when `[region]` is
        not well-formed JSON (the reader then takes its items one by one).
        """
        wrapped = b"[" + region + b"]"
        try:
            envelopes = fastpath.REGION_DECODER.decode(wrapped)
        except msgspec.ValidationError as refusal:  # some item is not ordinary
            raws = fastpath.RAWS_DECODER.decode(wrapped)
            self._first, self._locate = first, locate
            self._feed_raws(first, raws, fastpath.failed_element(refusal))
            return len(raws)
        self._first, self._locate = first, locate
        self._feed_envelopes(first, envelopes)
        return len(envelopes)

    def _feed_envelopes(self, first: int, envelopes: list[Any]) -> None:
        plain = self._plain
        for item, envelope in enumerate(envelopes, first):
            kind = envelope.kind
            settle = plain.get(kind)
            if settle is None or not settle(envelope.item):
                self._accept(item, kind, fastpath.as_item_dict(envelope.item), None)

    def _feed_raws(self, first: int, raws: list[msgspec.Raw], refused: int | None) -> None:
        """A region with unusual items: decode the ordinary runs between them together.

        `refused` is the first unusual element; after a few of them the rest
        is taken one by one (each retry decodes the rest of the region again).
        """
        start = 0
        for _ in range(_REGION_RETRIES):
            if refused is None:
                break
            if refused:  # the elements before the refused one decode (msgspec goes in order)
                self._feed_envelopes(first + start, _decode_envelopes(raws[start:start + refused]))
            self._feed_raw(first + start + refused, raws[start + refused])
            start += refused + 1
            rest = raws[start:]
            if not rest:
                return
            try:
                envelopes = _decode_envelopes(rest)
            except msgspec.ValidationError as refusal:
                refused = fastpath.failed_element(refusal)
                continue
            self._feed_envelopes(first + start, envelopes)
            return
        for item, raw in enumerate(raws[start:], first + start):
            self._feed_raw(item, raw)

    def _feed_raw(self, item: int, raw: msgspec.Raw) -> None:
        try:
            envelope = fastpath.ITEM_DECODER.decode(raw)
        except fastpath.FastError:
            self._check_raw(item, bytes(raw))
            return
        kind = envelope.kind
        settle = self._plain.get(kind)
        if settle is None or not settle(envelope.item):
            self._accept(item, kind, fastpath.as_item_dict(envelope.item), None)

    # -- the usual items, settled inline (see fastpath.py) -----------------------

    def _plain_user(self, u: Any) -> bool:
        """Index a user whose every rule and reference holds (see `_plain_message`)."""
        user_id = u.id
        if not user_id or cf.byte_length(user_id) > 255 or not cf.USER_ID_RE.fullmatch(user_id):
            return False
        if (u.role or "user") not in self.options.roles or u.channel_mutes or u.user_mutes:
            return False
        index = self.index
        if user_id in index.users:
            return False
        index.users.add(user_id)
        if u.teams:
            index.user_teams[user_id] = tuple(dict.fromkeys(u.teams))
        return True

    def _plain_member(self, m: Any) -> bool:
        """Index a member whose every rule and reference holds (see `_plain_message`)."""
        channel_type, channel_id, member_ids, user_id = (
            m.channel_type, m.channel_id, m.channel_member_ids, m.user_id)
        if not channel_type or not user_id or bool(channel_id) == bool(member_ids):
            return False
        index = self.index
        key = _channel_key(channel_type, channel_id, member_ids)
        member_key = f"{key}{_SEP}{user_id}"
        if member_key in index.members or key not in index.channels or (
                user_id not in index.users):
            return False
        user_teams = index.user_teams.get(user_id)
        channel_team = index.channel_team.get(key)
        if (user_teams is not None or channel_team is not None) and (
                user_teams is None or channel_team not in user_teams):
            return False
        if member_ids:
            distinct = index.distinct.get(key)
            if distinct is None or user_id not in distinct[1]:
                return False
            distinct[1].discard(user_id)
        index.members.add(member_key)
        return True

    def _plain_message(self, m: Any) -> bool:
        """Index a message whose every rule and reference holds; False: not that simple.

        Whatever this does not settle goes to the shared rules, so it may only
        say True where they would report nothing; it changes nothing otherwise.
        """
        message_id = m.id
        if not message_id or (len(message_id) > 63 and cf.byte_length(message_id) > 255):
            return False
        channel_type, channel_id, user_id = m.channel_type, m.channel_id, m.user
        member_ids = m.channel_member_ids
        if not channel_type or not user_id or bool(channel_id) == bool(member_ids):
            return False
        if m.type not in _PLAIN_MESSAGE_TYPES or m.deleted_at is not None:
            return False
        if m.pinned_at is not None or m.pinned_by_id or m.pin_expires is not None:
            return False
        if m.attachments and not all(attachment.type for attachment in m.attachments):
            return False
        index = self.index
        messages = index.messages
        parent_id = m.parent_id
        if message_id in messages or (parent_id and (
                parent_id in index.replies or parent_id not in messages)):
            return False
        users = index.users
        mentioned = m.mentioned_users_ids
        if user_id not in users or (mentioned and not all(u in users for u in mentioned)):
            return False
        text = m.text
        if text and len(text) > self.shortest_limit:
            return False
        key = (f"{channel_type}{_SEP}{channel_id}" if channel_id
               else _channel_key(channel_type, channel_id, member_ids))
        if key not in index.channels:
            return False
        messages.add(message_id)
        if parent_id:
            index.replies.add(message_id)
        return True

    def _plain_reaction(self, r: Any) -> bool:
        """Index a reaction whose every rule and reference holds (see `_plain_message`)."""
        message_id, reaction_type, user_id = r.message_id, r.type, r.user_id
        if not message_id or not user_id or not r.created_at:
            return False
        if reaction_type not in self.plain_reaction_types:
            if not reaction_type or len(reaction_type) > 30 or not cf.REACTION_TYPE_RE.fullmatch(
                    reaction_type):
                return False
            self.plain_reaction_types.add(reaction_type)
        index = self.index
        key = f"{message_id}{_SEP}{reaction_type}{_SEP}{user_id}"
        if key in index.reactions or message_id not in index.messages or (
                user_id not in index.users):
            return False
        index.reactions.add(key)
        return True

    def _check_raw(self, item: int, raw: bytes) -> None:
        """The precise path for an item the fast path passed on."""
        data = raw
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            message, where = describe_json_error(data, exc)
            line, offset = self._where(item)
            self.parse_error(Problem(f"parse error: {message} at byte offset {offset + where}",
                                     item, line, offset))
            return
        self._check(item, value)

    def _accept(self, item: int, kind: str, body: Any, unknown: list[str] | None) -> None:
        """Field rules, index and references of an item whose fields have their JSON types."""
        _, facts_of, field_rules, indexer, references = self._kinds[kind]
        facts = facts_of(body)
        problem = field_rules(body, facts)
        if problem is None and unknown:
            problem = cf.reserved_error(kind, body, unknown)
        if problem is None and self.jsonl:
            problem = self._jsonl_object_error(kind, body, unknown)
        if problem is None:
            if kind == "channel":
                self.current_item = item
            problem = indexer(facts)
        if problem is not None:
            self._field_error(problem, item)
        found = references(facts)
        if found is _DEFER:
            self.parked.append((item, *self._where(item), kind, facts))
        elif found:
            self._record_references(item, *self._where(item), found)

    def _envelope(self, item: int, value: Any) -> tuple[str, dict[str, Any]] | None:
        """The item's kind and body, or None after reporting why there is none."""
        if type(value) is not dict:
            self._parse_problem(f"item must be a JSON object, got {cf.type_name(value)}", item)
            return None
        raw_type = value.get("type")
        kind = self.type_names.get(raw_type) if type(raw_type) is str else None
        if kind is None:
            shown = raw_type if type(raw_type) is str else ""
            self._parse_problem(f"invalid item type {cf.quote(shown)}", item)
            return None
        body = value.get(self.body_key)
        if type(body) is not dict:
            got = "nothing" if body is None else cf.type_name(body)
            self._parse_problem(f"{kind} item needs an object in {cf.quote(self.body_key)}, "
                                f"got {got}", item)
            return None
        if self.jsonl:
            self._check_jsonl_envelope(kind, value, item)
        return kind, body

    def _check_jsonl_envelope(self, kind: str, value: dict[str, Any], item: int) -> None:
        if len(value) > 2:
            extra = next(key for key in value if key not in ("type", "data"))
            self._field_error(f"item field {cf.quote(extra)} is not allowed (only \"type\" "
                              "and \"data\")", item)
        rank = _RANK[kind]
        if rank < self.highest_rank:
            self._field_error(
                f"{kind} item after {self.highest_kind} items: Stream requires the order "
                + ", ".join(ITEM_ORDER), item)
        elif rank > self.highest_rank:
            self.highest_rank, self.highest_kind = rank, kind

    def _field_error(self, message: str, item: int) -> None:
        self.field_errors.add(Problem(f"validation error: {message}", item, *self._where(item)))

    def _parse_problem(self, message: str, item: int) -> None:
        self.field_errors.add(Problem(f"parse error: {message}", item, *self._where(item)))

    # -- decoding: JSON types of known fields ---------------------------------

    def _nested_decode_error(self, kind: str, body: dict[str, Any],
                             table: cf.FieldTable) -> str | None:
        """Wrong JSON types inside the objects an item holds."""
        if kind == "message":
            return self._attachments_decode_error(body.get("attachments"))
        return cf.nested_objects_error(kind, body, table)

    def _attachments_decode_error(self, attachments: Any) -> str | None:
        if not attachments:
            return None
        for position, attachment in enumerate(attachments):
            where = f"message.attachments[{position}]"
            if type(attachment) is not dict:
                return f"{where} must be an object, got {cf.type_name(attachment)}"
            problem, _ = cf.check_fields(where, attachment, self._attachment_table,
                                         jsonl=self.jsonl)
            if problem:
                return problem
        return None

    def _jsonl_object_error(self, kind: str, body: dict[str, Any],
                            unknown: list[str] | None) -> str | None:
        if kind in cf.CLOSED_IN_SCHEMA:
            return cf.closed_schema_error(kind, body, _FIELDS[kind])
        problem = _presence_error(kind, body)
        return problem or cf.custom_size_error(kind, body, unknown)

    # -- pass 1: fields, in stream-cli's order --------------------------------

    def _user_fields(self, user: dict[str, Any], facts: tuple[Any, ...]) -> str | None:
        user_id = facts[0]
        if not user_id:
            return "user.id required"
        if cf.byte_length(user_id) > 255:
            return "user.id max length exceeded (255)"
        if not cf.USER_ID_RE.fullmatch(user_id):
            return 'user.id invalid ("^[@\\w-]*$" allowed)'
        return None

    def _device_fields(self, device: dict[str, Any], facts: tuple[Any, ...]) -> str | None:
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

    def _channel_fields(self, channel: dict[str, Any], facts: tuple[Any, ...]) -> str | None:
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

    def _member_fields(self, member: dict[str, Any], facts: tuple[Any, ...]) -> str | None:
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

    def _message_fields(self, message: dict[str, Any], facts: tuple[Any, ...]) -> str | None:
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
        problem = self._message_type_error(message)
        if problem is None:
            problem = self._message_pin_error(message)
        if problem is None:
            problem = self._attachments_error(message.get("attachments"))
        if problem is None and self.jsonl:
            problem = self._message_thread_error(message)
        return problem

    def _message_type_error(self, message: dict[str, Any]) -> str | None:
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

    def _message_pin_error(self, message: dict[str, Any]) -> str | None:
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

    def _attachments_error(self, attachments: list[Any] | None) -> str | None:
        if not attachments:
            return None
        for attachment in attachments:
            if not attachment.get("type"):
                return "attachment.type required"
            for name in cf.RESERVED["attachment"]:
                if name in attachment:
                    return f"attachment.{name} is a reserved field"
        if self.jsonl:
            if len(attachments) > cf.MAX_ATTACHMENTS:
                return (f"message.attachments has {len(attachments)} attachments, "
                        f"more than {cf.MAX_ATTACHMENTS}")
            for position, attachment in enumerate(attachments):
                problem = _attachment_jsonl_error(position, attachment)
                if problem:
                    return problem
        return None

    def _message_thread_error(self, message: dict[str, Any]) -> str | None:
        has_parent = "parent_id" in message
        if message.get("type") == "reply" and not has_parent:
            return 'message.type "reply" needs message.parent_id'
        if "show_in_channel" in message and not has_parent:
            return "message.show_in_channel needs message.parent_id"
        return None

    def _reaction_fields(self, reaction: dict[str, Any], facts: tuple[Any, ...]) -> str | None:
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

    def _future_ban_fields(self, ban: dict[str, Any], facts: tuple[Any, ...]) -> str | None:
        target_id, created_by = facts
        if not target_id:
            return "future_channel_ban.target_id required"
        if not created_by:
            return "future_channel_ban.created_by required"
        return None

    # -- pass 1: the index (duplicates are found here) --------------------------

    def _index_user(self, facts: tuple[Any, ...]) -> str | None:
        user_id, _, _, _, teams = facts
        if user_id in self.index.users:
            return f"duplicate user found {cf.quote(user_id)}"
        self.index.users.add(user_id)
        if teams:
            self.index.user_teams[user_id] = tuple(dict.fromkeys(teams))
        return None

    def _index_device(self, facts: tuple[Any, ...]) -> str | None:
        device_id = facts[0]
        if device_id in self.index.devices:
            return f"duplicate device id:{device_id}"
        self.index.devices.add(device_id)
        return None

    def _index_channel(self, facts: tuple[Any, ...]) -> str | None:
        channel_type, channel_id, member_ids, _, team = facts
        key = _channel_key(channel_type, channel_id, member_ids)
        index = self.index
        if key in index.channels:
            shown = channel_id or cf.go_list(sorted(member_ids))
            return f"duplicate channel '{channel_type}:{shown}'"
        index.channels.add(key)
        if team:
            index.channel_team[key] = team
        if not channel_id:
            ordered = sorted(member_ids)
            item = self.current_item
            index.distinct[key] = (ordered, set(ordered), (item, *self._where(item)))
        return None

    def _index_member(self, facts: tuple[Any, ...]) -> str | None:
        channel_type, channel_id, member_ids, user_id = facts
        key = _channel_key(channel_type, channel_id, member_ids)
        member_key = f"{key}{_SEP}{user_id}"
        if member_key in self.index.members:
            if member_ids:
                return (f"duplicate member {cf.quote(user_id)} (channel with type "
                        f"{cf.quote(channel_type)} and members:{cf.go_list(sorted(member_ids))})")
            return (f"duplicate member {cf.quote(user_id)} "
                    f'(channel "{channel_type}:{channel_id}")')
        self.index.members.add(member_key)
        return None

    def _index_message(self, facts: tuple[Any, ...]) -> str | None:
        message_id, parent_id = facts[0], facts[1]
        index = self.index
        if message_id in index.messages:
            return f"duplicate message {cf.quote(message_id)}"
        index.messages.add(message_id)
        if parent_id:
            index.replies.add(message_id)
        return None

    def _index_reaction(self, facts: tuple[Any, ...]) -> str | None:
        message_id, user_id, reaction_type = facts
        key = f"{message_id}{_SEP}{reaction_type}{_SEP}{user_id}"
        if key in self.index.reactions:
            return f"duplicate reaction message:{message_id}:type:{reaction_type}:user:{user_id}"
        self.index.reactions.add(key)
        return None

    def _index_future_ban(self, facts: tuple[Any, ...]) -> str | None:
        target_id, created_by = facts
        key = f"{target_id}{_SEP}{created_by}"
        if key in self.index.future_bans:
            return (f"duplicate future_channel_ban for target_id {cf.quote(target_id)} "
                    f"by {cf.quote(created_by)}")
        self.index.future_bans.add(key)
        return None

    # -- pass 2: references ----------------------------------------------------

    def _record_references(self, item: int, line: int, offset: int, found: Found) -> None:
        for missing, message in found:
            as_error = self.strict or not missing
            self.reference_problems.append((item, line, offset, as_error, message))

    def _missing(self, found: Found, message: str) -> bool:
        """Note a reference not in the file; True when checking should stop here."""
        found.append((True, message))
        return self.strict

    def _user_references(self, refs: tuple[Any, ...]) -> Any:
        user_id, role, channel_mutes, user_mutes, _ = refs
        if role not in self.options.roles:
            return [(False, f"user.role {cf.quote(role)} doesn't exist (user {cf.quote(user_id)})")]
        found: Found = []
        for cid in channel_mutes:
            parts = cid.split(":")
            if len(parts) != 2:
                found.append((False, f'channel {cf.quote(cid)} should have the following format '
                                     '"type:id"'))
                return found
            if f"{parts[0]}{_SEP}{parts[1]}" not in self.index.channels:
                if not self.final:
                    return _DEFER
                if self._missing(found, f"muted channel {cf.quote(cid)} by user "
                                        f"{cf.quote(user_id)} doesn't exist"):
                    return found
        for muted in user_mutes:
            if muted not in self.index.users:
                if not self.final:
                    return _DEFER
                if self._missing(found, f"muted user {cf.quote(muted)} by user "
                                        f"{cf.quote(user_id)} doesn't exist"):
                    return found
        return found

    def _device_references(self, refs: tuple[Any, ...]) -> Any:
        user_id = refs[1]
        if user_id and user_id not in self.index.users:
            if not self.final:
                return _DEFER
            return [(True, f"device.user_id {cf.quote(user_id)} doesn't exist")]
        return None

    def _channel_references(self, refs: tuple[Any, ...]) -> Any:
        channel_type, channel_id, member_ids, created_by, _ = refs
        shown = f"{channel_type}:{channel_id or cf.go_list(member_ids)}"
        if channel_type not in self.options.channel_types:
            return [(False, f"channel.type {cf.quote(channel_type)} doesn't exist "
                            f"(channel {cf.quote(shown)})")]
        if created_by not in self.index.users:
            if not self.final:
                return _DEFER
            return [(True, f"channel.created_by {cf.quote(created_by)} doesn't exist "
                           f"(channel {cf.quote(shown)})")]
        return None

    def _channel_exists(self, found: Found, channel_type: str, channel_id: str,
                        member_ids: tuple[str, ...], key: str) -> Any:
        """True if the channel is indexed, _DEFER, or False after noting it missing."""
        if key in self.index.channels:
            return True
        if not self.final:
            return _DEFER
        if channel_id:
            message = f'channel "{channel_type}:{channel_id}" doesn\'t exist'
        else:
            message = (f"distinct channel with type {cf.quote(channel_type)} and "
                       f"members:{cf.go_quoted_list(sorted(member_ids))} doesn't exist")
        self._missing(found, message)
        return False

    def _member_references(self, refs: tuple[Any, ...]) -> Any:
        channel_type, channel_id, member_ids, user_id = refs
        key = _channel_key(channel_type, channel_id, member_ids)
        found: Found = []
        channel_known = self._channel_exists(found, channel_type, channel_id, member_ids, key)
        if channel_known is _DEFER:
            return _DEFER
        if self.strict and not channel_known:
            return found
        user_known = user_id in self.index.users
        if not user_known:
            if not self.final:
                return _DEFER
            if self._missing(found, f"user {cf.quote(user_id)} doesn't exist"):
                return found
        if channel_known and user_known:
            problem = self._team_problem(user_id, channel_type, channel_id, member_ids, key)
            if problem:
                found.append((False, problem))
                return found
        if channel_known and member_ids:
            problem = self._distinct_member_problem(key, user_id, member_ids)
            if problem:
                found.append((False, problem))
        return found

    def _team_problem(self, user_id: str, channel_type: str, channel_id: str,
                      member_ids: tuple[str, ...], key: str) -> str | None:
        user_teams = self.index.user_teams.get(user_id)
        channel_team = self.index.channel_team.get(key)
        if user_teams is None and channel_team is None:
            return None
        if user_teams is not None and channel_team in user_teams:
            return None
        shown = channel_id or cf.go_list(sorted(member_ids))
        return (f"user {cf.quote(user_id)} with teams {cf.go_quoted_list(user_teams or ())} "
                f"cannot be a member of channel {channel_type}:{shown} with team "
                f"{cf.quote(channel_team or '')}")

    def _distinct_member_problem(self, key: str, user_id: str,
                                 member_ids: tuple[str, ...]) -> str | None:
        distinct = self.index.distinct.get(key)
        shown = cf.go_list(sorted(member_ids))
        if distinct is None:
            return (f"user {cf.quote(user_id)} specified as a distinct channel member, but no "
                    f"distinct channel declared with members: {shown}")
        remaining = distinct[1]
        if user_id in remaining:
            remaining.discard(user_id)  # stream-cli's completeness check counts these
            return None
        return (f"user {cf.quote(user_id)} specified as channel member but not present in "
                f"channel_members_ids: {shown}")

    def _message_references(self, refs: tuple[Any, ...]) -> Any:
        (message_id, parent_id, channel_type, channel_id, member_ids, user_id, mentioned,
         text_length) = refs
        index = self.index
        if (not parent_id and not mentioned and channel_id and text_length <= self.shortest_limit
                and user_id in index.users
                and f"{channel_type}{_SEP}{channel_id}" in index.channels):
            return None  # the usual message: every reference resolves
        found: Found = []
        if parent_id:
            if parent_id in index.replies:
                return [(False, "only one level thread is supported")]
            if parent_id not in index.messages:
                if not self.final:
                    return _DEFER
                if self._missing(found, f"message parent_id {cf.quote(parent_id)} doesn't exist"):
                    return found
        key = _channel_key(channel_type, channel_id, member_ids)
        channel_known = self._channel_exists(found, channel_type, channel_id, member_ids, key)
        if channel_known is _DEFER:
            return _DEFER
        if self.strict and not channel_known:
            return found
        if user_id not in index.users:
            if not self.final:
                return _DEFER
            if self._missing(found, f"user {cf.quote(user_id)} doesn't exist "
                                    f"(message_id {message_id})"):
                return found
        for mentioned_id in mentioned:
            if mentioned_id not in index.users:
                if not self.final:
                    return _DEFER
                if self._missing(found, f"mentioned user {cf.quote(mentioned_id)} doesn't exist "
                                        f"(message_id {cf.quote(message_id)})"):
                    return found
        limit = self.options.channel_types.get(channel_type, UNKNOWN_TYPE_MAX_MESSAGE_LENGTH)
        if text_length > limit:
            found.append((False, f"message.text max length exceeded ({limit})"))
        return found

    def _reaction_references(self, refs: tuple[Any, ...]) -> Any:
        message_id, user_id, _ = refs
        if message_id in self.index.messages and user_id in self.index.users:
            return None
        found: Found = []
        if message_id not in self.index.messages:
            if not self.final:
                return _DEFER
            if self._missing(found, f"message_id {cf.quote(message_id)} doesn't exist"):
                return found
        if user_id not in self.index.users:
            if not self.final:
                return _DEFER
            self._missing(found, f"user {cf.quote(user_id)} doesn't exist")
        return found

    def _future_ban_references(self, refs: tuple[Any, ...]) -> Any:
        found: Found = []
        for field, user_id in zip(("target_id", "created_by"), refs, strict=True):
            if user_id not in self.index.users:
                if not self.final:
                    return _DEFER
                if self._missing(found, f"future_channel_ban.{field} {cf.quote(user_id)} "
                                        "doesn't exist"):
                    return found
        return found

    # -- the end of the file ---------------------------------------------------

    def finish(self) -> Result:
        self.final = True
        for item, line, offset, kind, refs in self.parked:
            found = self._kinds[kind][4](refs)
            if found:
                self._record_references(item, line, offset, found)
        self.parked = []
        completeness = self._completeness_problems()
        return self._result(completeness)

    def _completeness_problems(self) -> list[tuple[bool, Problem]]:
        out = []
        for members, remaining, (item, line, offset) in self.index.distinct.values():
            if not remaining:
                continue
            missing = [m for m in members if m in remaining]
            message = (f"distinct channel: {cf.go_quoted_list(members)} is missing members: "
                       f"{cf.go_quoted_list(missing)}. Please include all members as separate "
                       "member entries")
            if self.strict:
                out.append((True, Problem(f"validation error: {message}", item, line, offset)))
            else:
                out.append((False, Problem(f"reference warning: {message} (they may already "
                                           "exist in the app)", item, line, offset)))
        return out

    def _result(self, completeness: list[tuple[bool, Problem]]) -> Result:
        errors = Problems(self.options.max_errors)
        errors.count = self.field_errors.count
        errors.kept = list(self.field_errors.kept)
        self.reference_problems.sort(key=lambda found: found[0])
        for item, line, offset, as_error, message in self.reference_problems:
            if as_error:
                errors.add(Problem(f"reference error: {message}", item, line, offset))
            else:
                self.warnings.add(Problem(
                    f"reference warning: {message} in this file (Stream resolves it against "
                    "the app; --strict-references makes this an error)", item, line, offset))
        for as_error, problem in completeness:
            (errors if as_error else self.warnings).add(problem)
        return Result(
            format="chat-jsonl" if self.jsonl else "chat",
            stats=self._stats(),
            errors=errors.kept, warnings=self.warnings.kept,
            error_count=errors.count, warning_count=self.warnings.count,
        )

    def _stats(self) -> dict[str, int]:
        index = self.index
        stats = {
            "users": len(index.users), "channels": len(index.channels),
            "members": len(index.members), "messages": len(index.messages),
            "reactions": len(index.reactions), "devices": len(index.devices),
        }
        if self.jsonl:
            stats["future_channel_bans"] = len(index.future_bans)
        return stats


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


# -- the facts each kind's checks use (kept compact for parked items) -------------

def _user_facts(user: dict[str, Any]) -> tuple[Any, ...]:
    get = user.get
    return (get("id") or "", get("role") or "user", _strings(get("channel_mutes")),
            _strings(get("user_mutes")), _strings(get("teams")))


def _device_facts(device: dict[str, Any]) -> tuple[Any, ...]:
    return (device.get("id") or "", device.get("user_id") or "")


def _channel_facts(channel: dict[str, Any]) -> tuple[Any, ...]:
    get = channel.get
    return (get("type") or "", get("id") or "", _strings(get("member_ids")),
            get("created_by") or "", get("team") or "")


def _member_facts(member: dict[str, Any]) -> tuple[Any, ...]:
    get = member.get
    return (get("channel_type") or "", get("channel_id") or "",
            _strings(get("channel_member_ids")), get("user_id") or "")


def _message_facts(message: dict[str, Any]) -> tuple[Any, ...]:
    get = message.get
    text = get("text")
    return (get("id") or "", get("parent_id") or "", get("channel_type") or "",
            get("channel_id") or "", _strings(get("channel_member_ids")), get("user") or "",
            _strings(get("mentioned_users_ids")), len(text) if text else 0)


def _reaction_facts(reaction: dict[str, Any]) -> tuple[Any, ...]:
    get = reaction.get
    return (get("message_id") or "", get("user_id") or "", get("type") or "")


def _future_ban_facts(ban: dict[str, Any]) -> tuple[Any, ...]:
    return (ban.get("target_id") or "", ban.get("created_by") or "")


_FIELDS: Final[Mapping[str, Mapping[str, cf.FieldSpec]]] = {
    "user": cf.USER_FIELDS, "device": cf.DEVICE_FIELDS, "channel": cf.CHANNEL_FIELDS,
    "member": cf.MEMBER_FIELDS, "message": cf.MESSAGE_FIELDS, "reaction": cf.REACTION_FIELDS,
    "future_channel_ban": cf.FUTURE_CHANNEL_BAN_FIELDS,
}
