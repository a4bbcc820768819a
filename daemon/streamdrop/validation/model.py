"""The values validation works with: options in, problems and a result out (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# chat: stream-cli's JSON array; chat-jsonl: Stream's chat JSON Lines; feeds: the older
# feeds instruction lines (no API); feeds-v3: Feeds v3 JSON Lines (Import V2, product feeds).
Format = Literal["chat", "chat-jsonl", "feeds", "feeds-v3"]
FORMATS: tuple[Format, ...] = ("chat", "chat-jsonl", "feeds", "feeds-v3")

# Stream's built-ins, used when the app's own lists are not known.
DEFAULT_ROLES: frozenset[str] = frozenset({"user", "admin", "guest", "anonymous"})
DEFAULT_MAX_MESSAGE_LENGTH = 5_000
DEFAULT_CHANNEL_TYPES: Mapping[str, int] = dict.fromkeys(
    ("livestream", "messaging", "team", "gaming", "commerce"), DEFAULT_MAX_MESSAGE_LENGTH
)
FEED_GROUP_KINDS = ("flat", "aggregated", "notification")
MAX_FILE_SIZE = 300_000_000  # Stream's upload limit, in bytes
DEFAULT_MAX_ERRORS = 1_000
# Past Stream's own limits (20,000 characters of text, 5 KiB of custom data,
# 30 attachments) by far: an item this long is refused without being held.
DEFAULT_MAX_ITEM_BYTES = 4 * 1024 * 1024


def parse_roles(text: str) -> tuple[str, ...]:
    """`user,admin,editor` -> the role names, in order, without blanks or repeats."""
    roles = tuple(dict.fromkeys(name for name in (p.strip() for p in text.split(",")) if name))
    if not roles:
        raise ValueError("no role names given")
    return roles


def parse_channel_types(text: str) -> dict[str, int]:
    """`messaging,support:2000` -> {name: max_message_length}, Stream's 5,000 when not given."""
    types: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, length = (piece.strip() for piece in part.partition(":"))
        if not name:
            raise ValueError(f"bad channel type {part!r}: want NAME or NAME:MAXLEN")
        try:
            types[name] = int(length) if length else DEFAULT_MAX_MESSAGE_LENGTH
        except ValueError:
            types[name] = 0
        if types[name] < 1:
            raise ValueError(f"bad channel type {part!r}: max_message_length must be a whole "
                             "number of 1 or more")
    if not types:
        raise ValueError("no channel types given")
    return types


@dataclass(frozen=True, slots=True)
class Options:
    """What the file is checked against; every field has Stream's default."""

    roles: frozenset[str] = DEFAULT_ROLES
    channel_types: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CHANNEL_TYPES))
    # feed group name -> "flat" | "aggregated" | "notification"; None: not checked.
    feed_groups: Mapping[str, str] | None = None
    lighter_validation_id: bool = False
    strict_references: bool = False
    max_errors: int = DEFAULT_MAX_ERRORS
    max_size: int = MAX_FILE_SIZE  # 0 turns the size check off
    max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES  # one item (array element, line)


@dataclass(frozen=True, slots=True)
class Problem:
    """One error or warning and where it is.

    `item` is the 0-based index of the item (for feeds: of the line's
    instruction), `line` is 1-based, `offset` is the byte offset of the item's
    first byte, `index` is the position inside a feeds instruction's `data`,
    `field` the path of the field at fault (`activity.attachments[0].image_url`)
    where a validator names one.
    """

    message: str
    item: int | None = None
    line: int | None = None
    offset: int | None = None
    index: int | None = None
    field: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message, "item": self.item, "line": self.line,
                               "offset": self.offset}
        if self.index is not None:
            out["index"] = self.index
        if self.field is not None:
            out["field"] = self.field
        return out


class Problems:
    """Counts every problem, keeps the first `limit` in the order they are added."""

    __slots__ = ("count", "kept", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.kept: list[Problem] = []

    def add(self, problem: Problem) -> None:
        self.count += 1
        if len(self.kept) < self.limit:
            self.kept.append(problem)

    def __bool__(self) -> bool:
        return self.count > 0


@dataclass(slots=True)
class Result:
    """The verdict on one file."""

    format: Format | None
    stats: dict[str, int]
    errors: list[Problem]
    warnings: list[Problem]
    error_count: int
    warning_count: int
    size: int = 0

    @property
    def valid(self) -> bool:
        return self.error_count == 0

    def to_json(self) -> dict[str, Any]:
        """The shape stream-cli printed, plus counts and warnings."""
        out: dict[str, Any] = {
            "Stats": dict(sorted(self.stats.items())),
            "Errors": [p.to_json() for p in self.errors] or None,
        }
        if self.warnings:
            out["Warnings"] = [p.to_json() for p in self.warnings]
        out["ErrorCount"] = self.error_count
        out["WarningCount"] = self.warning_count
        out["Format"] = self.format
        return out
