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
- a user muted by a user before it, and a channel muted by a user (channels
  come after users), are pulled forward into the part of that user;
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
_USER: Final = KIND_CODES["user"]
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
    """One part: its bytes and item counts by kind (the manifest orders them)."""

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
        # Mutes (`_mute_groups`): the ids of channels and of users from the first that
        # mutes on, what each user mutes, who created each channel.
        self._user_at: dict[str, int] = {}
        self._channel_at: dict[str, int] = {}
        self._mutes: dict[int, tuple[list[str], list[str]]] = {}  # user -> users, channels
        self._creator: dict[int, str] = {}
        self._placed_with: dict[int, int] = {}  # pulled user or channel -> its group's user
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

    def user(self, size: int, user_id: str, channel_mutes: list[str],
             user_mutes: list[str]) -> int:
        item = self._add(_USER, size)
        if channel_mutes or user_mutes or self._mutes:
            # Users before the first that mutes never need pulling: not kept.
            self._user_at[user_id] = item
        if channel_mutes or user_mutes:
            keys = [channel_key(kind, name, ()) for kind, colon, name
                    in (cid.partition(":") for cid in channel_mutes) if colon and name]
            self._mutes[item] = (user_mutes, keys)
        return item

    def channel(self, size: int, channel_type: str, channel_id: str,
                member_ids: list[str], created_by: str = "") -> int:
        item = self._add(_CHANNEL, size)
        if channel_id:
            self._channel_at[channel_key(channel_type, channel_id, ())] = item
            if created_by:
                self._creator[item] = created_by
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
        groups = self._mute_groups()
        for code, kind in enumerate(ITEM_ORDER):
            if code == _USER and groups:
                self._pack_users(packer, groups)
            elif code == _CHANNEL:
                self._pack_channels(packer)
            elif code == _MEMBER:
                self._pack_members(packer)
            elif code == _MESSAGE:
                self._pack_messages(packer)
            else:
                packer.run(kind, self._items[code], self._sizes[code])
        return packer.parts

    def _mute_groups(self) -> dict[int, list[int]]:
        """Users and channels pulled forward into the part of a user before them.

        A user's mutes (users, channels) must be in its part or an earlier one; so must
        the creator of a channel pulled forward. Packing follows Stream's item order, so
        only what comes later in it breaks that: it joins the group of the item naming
        it, and a group is placed where its first item is (`_placed_with`). Returns each
        group's first user -> the others, and fills `_placed_with`.
        """
        groups: dict[int, list[int]] = {}
        if not self._mutes:
            return groups
        placed_with = self._placed_with
        kinds = self.kinds

        def first_of(item: int) -> int:
            while item in placed_with:
                item = placed_with[item]
            return item

        work = list(self._mutes)
        while work:
            item = work.pop()
            first = first_of(item)
            for named in self._named_by(item):
                other = first_of(named)
                if other == first or (kinds[other], other) < (kinds[first], first):
                    continue  # already placed with it, or before it
                placed_with[other] = first
                moved = [other, *groups.pop(other, [])]
                groups.setdefault(first, []).extend(moved)
                work.extend(moved)  # what they name must now come before `first` too
        return groups

    def _named_by(self, item: int) -> list[int]:
        """The users and channels an item names that must not be in a later part."""
        if self.kinds[item] == _CHANNEL:
            creator = self._user_at.get(self._creator.get(item, ""))
            return [] if creator is None else [creator]
        users, channels = self._mutes.get(item, ((), ()))
        named = [self._user_at.get(user_id) for user_id in users]
        named += [self._channel_at.get(key) for key in channels]
        return [n for n in named if n is not None]

    def _pack_users(self, packer: _Packer, groups: dict[int, list[int]]) -> None:
        """Each user with the users and channels pulled into its part (`_mute_groups`)."""
        sizes = {item: size for code in (_USER, _CHANNEL)
                 for item, size in zip(self._items[code], self._sizes[code], strict=True)
                 if item in self._placed_with}
        for item, size in zip(self._items[_USER], self._sizes[_USER], strict=True):
            if item in self._placed_with:
                continue
            group = groups.get(item, ())
            total = size + sum(sizes[other] for other in group)
            if total > self.max_bytes:
                raise SplitRefused(f"user item {item} and the users and channels it mutes "
                                   f"that come after it are {total:,} bytes together, more "
                                   f"than a part may hold ({self.max_bytes:,})", item)
            part = packer.place(item, "user", total)
            for other in group:
                self.part_of[other] = part
                packer.add_count(part, ITEM_ORDER[self.kinds[other]], 1)

    def _pack_channels(self, packer: _Packer) -> None:
        units = {unit.channel: unit for unit in self._unit_list if unit.channel >= 0}
        if not units and not self._placed_with:
            packer.run("channel", self._items[_CHANNEL], self._sizes[_CHANNEL])
            return
        for item, size in zip(self._items[_CHANNEL], self._sizes[_CHANNEL], strict=True):
            if item in self._placed_with:
                continue  # placed with the user who mutes it
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
