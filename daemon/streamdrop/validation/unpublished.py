"""Item types Stream's docs list but publishes no schema for (polls, votes, interests).

Chat JSON Lines gained `poll` and `poll_vote`, Feeds v3 `poll`, `poll_vote`
and `user_interest`; nobody outside Stream knows their fields. Such an item
passes with its envelope checked (by the format's validator) and, where
`ids` is asked for, an `id` that is a non-empty string unique among items of
its type (a guess: a vote must name its poll somehow, so polls have ids).
The first item of each such type gets one warning saying that nothing else
was checked. Pure.
"""

from __future__ import annotations

from typing import Any

from streamdrop.validation.chat_fields import quote, type_name


class UnpublishedItems:
    """The items of types without a schema: their ids, counts, and the types already warned of."""

    __slots__ = ("counts", "ids", "product", "warned", "with_ids")

    def __init__(self, product: str, kinds: tuple[str, ...], *, ids: bool) -> None:
        self.product = product
        self.with_ids = ids
        self.ids: dict[str, set[str]] = {kind: set() for kind in kinds}
        self.counts: dict[str, int] = dict.fromkeys(kinds, 0)
        self.warned: set[str] = set()

    def warning(self, kind: str) -> str | None:
        """The one warning for the first item of `kind`; None for the others."""
        if kind in self.warned:
            return None
        self.warned.add(kind)
        checked = "their envelope and id" if self.with_ids else "their envelope"
        return (f"schema warning: {kind} items are checked only for {checked}: Stream "
                f"publishes no schema for {self.product} {kind} items (first of them here)")

    def add(self, kind: str, data: dict[str, Any]) -> tuple[str, str] | None:
        """Count an item; (field, error) when its id is missing, not a string or repeated."""
        if not self.with_ids:
            self.counts[kind] += 1
            return None
        field = f"{kind}.id"
        value = data.get("id")
        if value is None and "id" not in data:
            return field, f"{field} required"
        if type(value) is not str:
            return field, f"{field} must be a string, got {type_name(value)}"
        if not value:
            return field, f"{field} must not be empty"
        seen = self.ids[kind]
        if value in seen:
            return field, f"duplicate {kind} {quote(value)}"
        seen.add(value)
        self.counts[kind] += 1
        return None

    def stats(self) -> dict[str, int]:
        return {f"{kind}s": count for kind, count in self.counts.items()}
