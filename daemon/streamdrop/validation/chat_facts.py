"""The few values of a chat item its rules, its index entry and its references use.

Each extractor reads one item's dict (fields already of their JSON types;
absent, null and "" alike become "" or ()) into a small tuple. The tuple is
what an item parked for a forward reference keeps, so it stays compact;
`chat_rules`, `chat_index` and `chat_references` unpack it by position, in
the order written here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

Facts = tuple[Any, ...]


def strings(value: Any) -> tuple[str, ...]:
    """A list of strings from an already type-checked field (null items count as "")."""
    if not value:
        return ()
    return tuple(v if v is not None else "" for v in value)


def user_facts(user: dict[str, Any]) -> Facts:
    """(id, role, channel_mutes, user_mutes, teams)"""
    get = user.get
    return (get("id") or "", get("role") or "user", strings(get("channel_mutes")),
            strings(get("user_mutes")), strings(get("teams")))


def device_facts(device: dict[str, Any]) -> Facts:
    """(id, user_id)"""
    return (device.get("id") or "", device.get("user_id") or "")


def channel_facts(channel: dict[str, Any]) -> Facts:
    """(type, id, member_ids, created_by, team)"""
    get = channel.get
    return (get("type") or "", get("id") or "", strings(get("member_ids")),
            get("created_by") or "", get("team") or "")


def member_facts(member: dict[str, Any]) -> Facts:
    """(channel_type, channel_id, channel_member_ids, user_id)"""
    get = member.get
    return (get("channel_type") or "", get("channel_id") or "",
            strings(get("channel_member_ids")), get("user_id") or "")


def message_facts(message: dict[str, Any]) -> Facts:
    """(id, parent_id, channel_type, channel_id, channel_member_ids, user, mentioned
    user ids, length of text)"""
    get = message.get
    text = get("text")
    return (get("id") or "", get("parent_id") or "", get("channel_type") or "",
            get("channel_id") or "", strings(get("channel_member_ids")), get("user") or "",
            strings(get("mentioned_users_ids")), len(text) if text else 0)


def reaction_facts(reaction: dict[str, Any]) -> Facts:
    """(message_id, user_id, type)"""
    get = reaction.get
    return (get("message_id") or "", get("user_id") or "", get("type") or "")


def future_ban_facts(ban: dict[str, Any]) -> Facts:
    """(target_id, created_by)"""
    return (ban.get("target_id") or "", ban.get("created_by") or "")


FACTS: Final[Mapping[str, Callable[[dict[str, Any]], Facts]]] = {
    "user": user_facts, "device": device_facts, "channel": channel_facts,
    "member": member_facts, "message": message_facts, "reaction": reaction_facts,
    "future_channel_ban": future_ban_facts,
}
