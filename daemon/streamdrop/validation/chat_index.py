"""What stream-cli's first pass learns of a chat file: the ids of every kind, and duplicates.

An item that passes its field rules is indexed here; an id already indexed
is stream-cli's "duplicate" error. The index only ever grows, which is what
lets the reference checks (`chat_references`) and the fast path
(`chat_plain`) trust a lookup that succeeds at once. Keys that combine ids
join them with NUL, which no id may contain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from streamdrop.validation import chat_fields as cf

SEP: Final = "\x00"

# Where an item is: (line, offset) of the given item number.
Where = Callable[[int], tuple[int, int]]


def channel_key(channel_type: str, channel_id: str, member_ids: Sequence[str]) -> str:
    """One key per channel: type and id, or type and the sorted member ids (distinct)."""
    if channel_id:
        return f"{channel_type}{SEP}{channel_id}"
    return f"{channel_type}{SEP}\x01" + SEP.join(sorted(member_ids))


class ChatIndex:
    """Ids of every kind, teams, and the members each distinct channel still awaits.

    Each `add_*` takes the kind's facts (`chat_facts`), indexes the item and
    returns None, or returns the duplicate error and leaves the index as it was.
    """

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

    def add_user(self, facts: tuple[Any, ...]) -> str | None:
        user_id, _, _, _, teams = facts
        if user_id in self.users:
            return f"duplicate user found {cf.quote(user_id)}"
        self.users.add(user_id)
        if teams:
            self.user_teams[user_id] = tuple(dict.fromkeys(teams))
        return None

    def add_device(self, facts: tuple[Any, ...]) -> str | None:
        device_id = facts[0]
        if device_id in self.devices:
            return f"duplicate device id:{device_id}"
        self.devices.add(device_id)
        return None

    def add_channel(self, facts: tuple[Any, ...], item: int, where: Where) -> str | None:
        """Index a channel; a distinct one keeps its position for the completeness pass."""
        channel_type, channel_id, member_ids, _, team = facts
        key = channel_key(channel_type, channel_id, member_ids)
        if key in self.channels:
            shown = channel_id or cf.go_list(sorted(member_ids))
            return f"duplicate channel '{channel_type}:{shown}'"
        self.channels.add(key)
        if team:
            self.channel_team[key] = team
        if not channel_id:
            ordered = sorted(member_ids)
            self.distinct[key] = (ordered, set(ordered), (item, *where(item)))
        return None

    def add_member(self, facts: tuple[Any, ...]) -> str | None:
        channel_type, channel_id, member_ids, user_id = facts
        member_key = f"{channel_key(channel_type, channel_id, member_ids)}{SEP}{user_id}"
        if member_key in self.members:
            if member_ids:
                return (f"duplicate member {cf.quote(user_id)} (channel with type "
                        f"{cf.quote(channel_type)} and members:{cf.go_list(sorted(member_ids))})")
            return (f"duplicate member {cf.quote(user_id)} "
                    f'(channel "{channel_type}:{channel_id}")')
        self.members.add(member_key)
        return None

    def add_message(self, facts: tuple[Any, ...]) -> str | None:
        message_id, parent_id = facts[0], facts[1]
        if message_id in self.messages:
            return f"duplicate message {cf.quote(message_id)}"
        self.messages.add(message_id)
        if parent_id:
            self.replies.add(message_id)
        return None

    def add_reaction(self, facts: tuple[Any, ...]) -> str | None:
        message_id, user_id, reaction_type = facts
        key = f"{message_id}{SEP}{reaction_type}{SEP}{user_id}"
        if key in self.reactions:
            return f"duplicate reaction message:{message_id}:type:{reaction_type}:user:{user_id}"
        self.reactions.add(key)
        return None

    def add_future_ban(self, facts: tuple[Any, ...]) -> str | None:
        target_id, created_by = facts
        key = f"{target_id}{SEP}{created_by}"
        if key in self.future_bans:
            return (f"duplicate future_channel_ban for target_id {cf.quote(target_id)} "
                    f"by {cf.quote(created_by)}")
        self.future_bans.add(key)
        return None

    def stats(self, *, jsonl: bool) -> dict[str, int]:
        """How many items of each kind were indexed (the Result's stats)."""
        stats = {
            "users": len(self.users), "channels": len(self.channels),
            "members": len(self.members), "messages": len(self.messages),
            "reactions": len(self.reactions), "devices": len(self.devices),
        }
        if jsonl:
            stats["future_channel_bans"] = len(self.future_bans)
        return stats
