"""What wraps each chat item: its type and body, and in JSON Lines the keys and order allowed.

The array format wraps an item as `{"type", "item"}` and ignores other keys,
as stream-cli did; JSON Lines wraps it as `{"type", "data"}`, nothing else,
and Stream requires the kinds in `ITEM_ORDER`. Pure, but for the highest
kind seen so far, which `ItemOrder` keeps.
"""

from __future__ import annotations

from typing import Any, Final

from streamdrop.validation import chat_fields as cf

# The official CLI's order; polls and votes have no published schema (`unpublished`).
ITEM_ORDER: Final = ("user", "device", "future_channel_ban", "channel", "member",
                     "message", "reaction", "poll", "poll_vote")
UNPUBLISHED_KINDS: Final = ("poll", "poll_vote")
_RANK: Final = {kind: rank for rank, kind in enumerate(ITEM_ORDER)}
JSONL_TYPE_NAMES: Final = {**{kind: kind for kind in ITEM_ORDER}, "channel_member": "member"}
# stream-cli's array format knows neither future channel bans nor polls.
ARRAY_TYPE_NAMES: Final = {kind: kind for kind in ITEM_ORDER
                           if kind not in ("future_channel_ban", *UNPUBLISHED_KINDS)}



class NoEnvelope(ValueError):
    """The item is no `{"type": known kind, body key: object}`; the message says why."""


def open_envelope(value: Any, type_names: dict[str, str], body_key: str) -> tuple[str, Any]:
    """The item's kind and body (an object); raises NoEnvelope (a parse error) if it has none."""
    if type(value) is not dict:
        raise NoEnvelope(f"item must be a JSON object, got {cf.type_name(value)}")
    raw_type = value.get("type")
    kind = type_names.get(raw_type) if type(raw_type) is str else None
    if kind is None:
        shown = raw_type if type(raw_type) is str else ""
        raise NoEnvelope(f"invalid item type {cf.quote(shown)}")
    body = value.get(body_key)
    if type(body) is not dict:
        got = "nothing" if body is None else cf.type_name(body)
        raise NoEnvelope(f"{kind} item needs an object in {cf.quote(body_key)}, got {got}")
    return kind, body


def extra_key_error(value: dict[str, Any]) -> str:
    """JSON Lines: the first key beside "type" and "data" (there must be one)."""
    extra = next(key for key in value if key not in ("type", "data"))
    return f"item field {cf.quote(extra)} is not allowed (only \"type\" and \"data\")"


class ItemOrder:
    """JSON Lines: each kind after the kinds it may follow (see `ITEM_ORDER`)."""

    __slots__ = ("highest_kind", "highest_rank")

    def __init__(self) -> None:
        self.highest_rank = -1
        self.highest_kind = ""

    def error(self, kind: str) -> str | None:
        """An error when `kind` comes too late; otherwise note it as the highest so far."""
        rank = _RANK[kind]
        if rank < self.highest_rank:
            return (f"{kind} item after {self.highest_kind} items: Stream requires the order "
                    + ", ".join(ITEM_ORDER))
        if rank > self.highest_rank:
            self.highest_rank, self.highest_kind = rank, kind
        return None
