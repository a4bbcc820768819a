"""Planning the parts of a chat file too big for one import: which part each item goes to.

Stream imports at most 300 MB per file, and resolves what a file refers to
against the app, so a big file can go in as several JSON Lines parts
imported in order, as long as each part is valid alone and everything a
part refers to sits in an earlier part or the same one. The planner is fed
each item's kind, size and the few ids that tie items together, in file
order, and packs them greedily into parts in Stream's item order (users,
devices, future channel bans, channels, members, messages, reactions, polls,
poll votes: `ITEM_ORDER`):

- a distinct channel (members instead of an id) and all its member items
  are one unit, placed together in one part;
- a thread parent that comes after some of its replies is pulled forward to
  the first of them (the replies are then written after it: `late`);
- reactions come after every message, so after the one they name.

It keeps a few bytes per item (arrays, not objects) and the ids of thread
parents and distinct channels; the bytes themselves are never held. Pure:
the file's reading and writing are `parts.py`.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Final

from streamdrop.validation.chat_envelope import ITEM_ORDER
from streamdrop.validation.chat_index import channel_key

DEFAULT_MAX_PART_BYTES: Final = 300_000_000
# Item sizes are kept as 32-bit unsigned numbers.
MAX_PART_BYTES: Final = 2**32 - 1
KIND_CODES: Final = {kind: code for code, kind in enumerate(ITEM_ORDER)}
_CHANNEL: Final = KIND_CODES["channel"]
_MEMBER: Final = KIND_CODES["member"]
_MESSAGE: Final = KIND_CODES["message"]


class SplitRefused(ValueError):
    """The file cannot be split as asked; `item` is the item at fault (None: the file)."""

    def __init__(self, message: str, item: int | None = None) -> None:
        super().__init__(message)
        self.item = item


@dataclass(slots=True)
class PartPlan:
    """One part: its bytes and item counts by kind (in Stream's item order)."""

    number: int
    bytes: int = 0
    items: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Unit:
    """A distinct channel and its members: placed as one."""

    channel: int = -1  # item number of the channel, -1 while (or if never) seen
    size: int = 0
    part: int = -1


class PartPlanner:
    """Fed every item in file order; `plan()` assigns each to a part of at most `max_bytes`."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_PART_BYTES) -> None:
        if not 1 <= max_bytes <= MAX_PART_BYTES:
            raise ValueError(f"the part size must be between 1 and {MAX_PART_BYTES:,} bytes")
        self.max_bytes = max_bytes
        self.count = 0
        self.kinds = array("B")  # kind code of each item
        # Per kind: item numbers and sizes, in file order.
        self._items = [array("I") for _ in ITEM_ORDER]
        self._sizes = [array("I") for _ in ITEM_ORDER]
        self._member_units = array("i")  # per member item: its unit, -1 for none
        self._units: dict[str, int] = {}  # distinct channel key -> unit number
        self._unit_list: list[_Unit] = []
        # parent id -> the first reply naming it before the parent was seen
        self._awaited: dict[str, int] = {}
        self._hoist: dict[int, int] = {}  # first early reply -> its parent's item number
        self.forward_parents: set[str] = set()  # parents that come after some reply
        self.part_of = array("H")

    # -- feeding, in file order ------------------------------------------------

    def _add(self, code: int, size: int) -> int:
        item = self.count
        if size > self.max_bytes:
            raise SplitRefused(f"{ITEM_ORDER[code]} item {item} is {size:,} bytes as a JSON "
                               f"Lines line, more than a part may hold ({self.max_bytes:,})",
                               item)
        self.count += 1
        self.kinds.append(code)
        self._items[code].append(item)
        self._sizes[code].append(size)
        return item

    def add(self, kind: str, size: int) -> int:
        """An item placed by its kind alone (user, device, ban, reaction, poll, vote)."""
        return self._add(KIND_CODES[kind], size)

    def channel(self, size: int, channel_type: str, channel_id: str,
                member_ids: list[str]) -> int:
        item = self._add(_CHANNEL, size)
        if not channel_id and member_ids:
            unit = self._unit(channel_type, member_ids)
            unit.channel = item
            unit.size += size
        return item

    def member(self, size: int, channel_type: str, channel_id: str,
               member_ids: list[str]) -> int:
        item = self._add(_MEMBER, size)
        number = -1
        if not channel_id and member_ids:
            key = channel_key(channel_type, "", member_ids)
            self._unit(channel_type, member_ids).size += size
            number = self._units[key]
        self._member_units.append(number)
        return item

    def message(self, size: int, message_id: str, parent_id: str) -> int:
        item = self._add(_MESSAGE, size)
        if parent_id:
            self._awaited.setdefault(parent_id, item)
        if message_id:
            early = self._awaited.pop(message_id, None)
            if early is not None and early != item:
                self._hoist[early] = item
                self.forward_parents.add(message_id)
        return item

    def _unit(self, channel_type: str, member_ids: list[str]) -> _Unit:
        key = channel_key(channel_type, "", member_ids)
        number = self._units.get(key)
        if number is None:
            number = self._units[key] = len(self._unit_list)
            self._unit_list.append(_Unit())
        return self._unit_list[number]

    # -- packing -----------------------------------------------------------------

    def plan(self) -> list[PartPlan]:
        """Assign every item to a part (`part_of`); returns the parts, in order."""
        self._awaited.clear()  # what remains named parents already seen, or absent
        self.part_of = array("H", bytes(2 * self.count))
        packer = _Packer(self.max_bytes, self.part_of)
        for code, kind in enumerate(ITEM_ORDER):
            if code == _CHANNEL:
                self._pack_channels(packer)
            elif code == _MEMBER:
                self._pack_members(packer)
            elif code == _MESSAGE:
                self._pack_messages(packer)
            else:
                packer.run(kind, self._items[code], self._sizes[code])
        return packer.parts

    def _pack_channels(self, packer: _Packer) -> None:
        units = {unit.channel: unit for unit in self._unit_list if unit.channel >= 0}
        if not units:
            packer.run("channel", self._items[_CHANNEL], self._sizes[_CHANNEL])
            return
        for item, size in zip(self._items[_CHANNEL], self._sizes[_CHANNEL], strict=True):
            unit = units.get(item)
            if unit is None:
                packer.place(item, "channel", size)
                continue
            if unit.size > self.max_bytes:
                raise SplitRefused(f"distinct channel item {item} and its members are "
                                   f"{unit.size:,} bytes together, more than a part may "
                                   f"hold ({self.max_bytes:,})", item)
            unit.part = packer.place(item, "channel", unit.size)

    def _pack_members(self, packer: _Packer) -> None:
        units = self._unit_list
        if not any(unit.part >= 0 for unit in units):
            packer.run("member", self._items[_MEMBER], self._sizes[_MEMBER])
            return
        for item, size, number in zip(self._items[_MEMBER], self._sizes[_MEMBER],
                                      self._member_units, strict=True):
            part = units[number].part if number >= 0 else -1
            if part < 0:
                packer.place(item, "member", size)
            else:  # its bytes were counted with its channel
                self.part_of[item] = part
                packer.add_count(part, "member", 1)

    def _pack_messages(self, packer: _Packer) -> None:
        hoist = self._hoist
        if not hoist:
            packer.run("message", self._items[_MESSAGE], self._sizes[_MESSAGE])
            return
        hoisted = set(hoist.values())
        sizes = {item: size for item, size in zip(self._items[_MESSAGE], self._sizes[_MESSAGE],
                                                   strict=True) if item in hoisted}
        for item, size in zip(self._items[_MESSAGE], self._sizes[_MESSAGE], strict=True):
            parent = hoist.get(item)
            if parent is not None:  # the parent goes first, into the same part
                part = packer.place(parent, "message", sizes[parent] + size)
                self.part_of[item] = part
                packer.add_count(part, "message", 1)
            elif item not in hoisted:
                packer.place(item, "message", size)


class _Packer:
    """Greedy: items in placement order fill a part until the next one would not fit."""

    def __init__(self, max_bytes: int, part_of: array[int]) -> None:
        self.max_bytes = max_bytes
        self.part_of = part_of
        self.parts: list[PartPlan] = []

    def place(self, item: int, kind: str, size: int) -> int:
        parts = self.parts
        if not parts or (parts[-1].bytes + size > self.max_bytes and parts[-1].bytes):
            if len(parts) >= 0xFFFF:
                raise SplitRefused("the file would need more than 65,535 parts")
            parts.append(PartPlan(len(parts) + 1))
        part = parts[-1]
        part.bytes += size
        part.items[kind] = part.items.get(kind, 0) + 1
        index = len(parts) - 1
        self.part_of[item] = index
        return index

    def add_count(self, index: int, kind: str, count: int) -> None:
        items = self.parts[index].items
        items[kind] = items.get(kind, 0) + count

    def run(self, kind: str, items: array[int], sizes: array[int]) -> None:
        """`place` each item in turn, a part's worth at a time (cut points by bisection)."""
        sums = list(accumulate(sizes))
        start, before = 0, 0  # first item not placed; bytes of the items before it
        while start < len(sums):
            parts = self.parts
            room = self.max_bytes - parts[-1].bytes if parts else 0
            end = bisect_right(sums, before + room, lo=start)
            if end == start:  # not even the next item fits: a new part
                self.place(items[start], kind, sizes[start])
                start, before = start + 1, sums[start]
                continue
            part = parts[-1]
            part.bytes += sums[end - 1] - before
            part.items[kind] = part.items.get(kind, 0) + end - start
            self._assign(items, start, end, len(parts) - 1)
            start, before = end, sums[end - 1]

    def _assign(self, items: array[int], start: int, end: int, index: int) -> None:
        first, last = items[start], items[end - 1]
        if last - first == end - 1 - start:  # consecutive item numbers: one slice
            self.part_of[first:last + 1] = array("H", [index]) * (end - start)
            return
        part_of = self.part_of
        for item in items[start:end]:
            part_of[item] = index
