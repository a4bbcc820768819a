"""The fast path's last step: settle an ordinary chat item inline, from its decoded struct.

Most items of a real file are users, members, messages and reactions whose
every rule holds and whose every reference is already indexed. For such an
item the rules, the index and the references reduce to a few lookups, done
here straight on the msgspec struct (`fastpath`) without building its dict
or its facts. A settler answers True once it has indexed the item, False
when the item is not that simple; it may only say True where the shared
rules (`chat_rules`, `chat_index`, `chat_references`) would report nothing,
and it changes nothing when it says False. This is the validator's hot
loop: each settler is written for speed, one function per kind.

JSON Lines items (`fastpath_jsonl`: None means absent there) have rules of
their own first (`by_kind_jsonl`): the schemas decide some fields by their
presence, and threads, invitations and attachments have rules stream-cli's
array format did not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from streamdrop.validation import chat_fields as cf
from streamdrop.validation.chat_index import SEP, ChatIndex, channel_key
from streamdrop.validation.chat_references import shortest_message_limit
from streamdrop.validation.model import Options

_PLAIN_MESSAGE_TYPES: Final = frozenset({None, "", "regular", "system", "reply"})

Settle = Callable[[Any], bool]


class PlainSettlers:
    """The settlers of one validator: they index into its index."""

    __slots__ = ("by_kind", "by_kind_jsonl", "index", "reaction_types", "roles",
                 "shortest_limit")

    def __init__(self, index: ChatIndex, options: Options) -> None:
        self.index = index
        self.roles = options.roles
        self.shortest_limit = shortest_message_limit(options)
        self.reaction_types: set[str] = set()  # reaction types known to be well formed
        # Kinds without a settler (devices, channels, ...) are few in a file.
        self.by_kind: dict[str, Settle] = {
            "message": self.message, "reaction": self.reaction,
            "user": self.user, "member": self.member,
        }
        self.by_kind_jsonl: dict[str, Settle] = {
            "message": self.jsonl_message, "reaction": self.reaction,
            "user": self.user, "member": self.jsonl_member,
        }

    def user(self, u: Any) -> bool:
        """Index a user whose every rule and reference holds (see `message`)."""
        user_id = u.id
        if not user_id or cf.byte_length(user_id) > 255 or not cf.USER_ID_RE.fullmatch(user_id):
            return False
        if (u.role or "user") not in self.roles or u.channel_mutes or u.user_mutes:
            return False
        index = self.index
        if user_id in index.users:
            return False
        index.users.add(user_id)
        if u.teams:
            index.user_teams[user_id] = tuple(dict.fromkeys(u.teams))
        return True

    def member(self, m: Any) -> bool:
        """Index a member whose every rule and reference holds (see `message`)."""
        channel_type, channel_id, member_ids, user_id = (
            m.channel_type, m.channel_id, m.channel_member_ids, m.user_id)
        if not channel_type or not user_id or bool(channel_id) == bool(member_ids):
            return False
        index = self.index
        key = channel_key(channel_type, channel_id, member_ids)
        member_key = f"{key}{SEP}{user_id}"
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

    def message(self, m: Any) -> bool:
        """Index a message whose every rule and reference holds; False: not that simple."""
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
        key = (f"{channel_type}{SEP}{channel_id}" if channel_id
               else channel_key(channel_type, channel_id, member_ids))
        if key not in index.channels:
            return False
        messages.add(message_id)
        if parent_id:
            index.replies.add(message_id)
        return True

    def reaction(self, r: Any) -> bool:
        """Index a reaction whose every rule and reference holds (see `message`)."""
        message_id, reaction_type, user_id = r.message_id, r.type, r.user_id
        if not message_id or not user_id or not r.created_at:
            return False
        if reaction_type not in self.reaction_types:
            if not reaction_type or len(reaction_type) > 30 or not cf.REACTION_TYPE_RE.fullmatch(
                    reaction_type):
                return False
            self.reaction_types.add(reaction_type)
        index = self.index
        key = f"{message_id}{SEP}{reaction_type}{SEP}{user_id}"
        if key in index.reactions or message_id not in index.messages or (
                user_id not in index.users):
            return False
        index.reactions.add(key)
        return True

    # -- JSON Lines: the schemas' rules, then the shared ones --------------------------

    def jsonl_member(self, m: Any) -> bool:
        """A JSON Lines member: one of its channel's two fields present, no stray invitation."""
        if (m.channel_id is None) == (m.channel_member_ids is None):
            return False
        if m.invited is not True and (
                m.invite_accepted_at is not None or m.invite_rejected_at is not None):
            return False
        return self.member(m)

    def jsonl_message(self, m: Any) -> bool:
        """A JSON Lines message: presence, thread and attachment rules, then `message`."""
        if (m.channel_id is None) == (m.channel_member_ids is None):
            return False
        if m.pinned_by_id is not None:  # even "" needs pinned_at (which `message` refuses)
            return False
        if m.parent_id is None and (m.type == "reply" or m.show_in_channel is not None):
            return False
        attachments = m.attachments
        if attachments and (len(attachments) > cf.MAX_ATTACHMENTS
                            or not all(map(_https_only, attachments))):
            return False
        return self.message(m)


def _https_only(attachment: Any) -> bool:
    """Its URLs (those present) are https (`chat_rules._attachment_jsonl_error`)."""
    for url in (attachment.image_url, attachment.thumb_url, attachment.asset_url):
        if url is not None and not url.startswith("https://"):
            return False
    return True
