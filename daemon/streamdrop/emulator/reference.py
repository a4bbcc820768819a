"""The app's reference data as `GET /roles` and `GET /channeltypes` return it (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streamdrop.emulator.config import BUILTIN_CHANNEL_TYPES, BUILTIN_ROLES

# Built-ins predate any app; the date only needs to be stable.
BUILTIN_CREATED_AT = "2021-01-01T00:00:00Z"

# Feature flags of a ChannelTypeConfig (spec §3.2), as on Stream's `messaging` type.
_FEATURES: dict[str, Any] = {
    "typing_events": True, "read_events": True, "connect_events": True,
    "delivery_events": True, "search": True, "reactions": True, "replies": True,
    "quotes": True, "mutes": True, "uploads": True, "url_enrichment": True,
    "custom_events": True, "push_notifications": True, "reminders": False,
    "mark_messages_pending": False, "polls": False, "user_message_reminders": False,
    "shared_locations": False, "count_messages": False,
    "skip_last_msg_update_for_system_msgs": False,
    "message_retention": "infinite", "automod": "disabled", "automod_behavior": "flag",
}


def roles_body(names: Iterable[str], created_at: str) -> list[dict[str, Any]]:
    """Role objects; custom roles carry the emulator's start time."""
    out = []
    for name in names:
        builtin = name in BUILTIN_ROLES
        stamp = BUILTIN_CREATED_AT if builtin else created_at
        out.append({"name": name, "custom": not builtin, "scopes": [".app"] if builtin else [],
                    "created_at": stamp, "updated_at": stamp})
    return out


def channel_types_body(types: Mapping[str, int], created_at: str) -> dict[str, dict[str, Any]]:
    """A map keyed by type name (not a list), as Stream returns it."""
    out = {}
    for name, max_length in types.items():
        stamp = BUILTIN_CREATED_AT if name in BUILTIN_CHANNEL_TYPES else created_at
        out[name] = {"name": name, "max_message_length": max_length, **_FEATURES,
                     "commands": [], "permissions": [], "grants": {},
                     "created_at": stamp, "updated_at": stamp}
    return out
