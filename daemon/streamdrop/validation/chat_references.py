"""stream-cli's second pass: does what a chat item names exist? Checked as the file streams.

An item's references are checked as soon as it is indexed. The index
(`chat_index`) only grows, so a reference found now is found at the end; a
reference not found yet may point forward, so the check answers `DEFER` and
the item's facts are parked. Once the file is read the parked items are
checked again, in file order, and a reference still missing is reported.
Problems come out sorted by item, which is stream-cli's order: those found
as the file streams are in item order, and so are those of the parked items,
so the two are merged, not sorted. Each is counted whole but only its first
`max_errors` errors and warnings are kept, and parked items go to disk past a
few thousand (`spill`): memory does not grow with the problems.

A missing reference is an error in the array format; in JSON Lines it is a
warning (Stream resolves it against the app) unless references are strict.
Anything else wrong with a reference (an unknown role or channel type, a
team mismatch, ...) is always an error.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from typing import Any, Final

from streamdrop.validation import chat_fields as cf
from streamdrop.validation.chat_facts import Facts
from streamdrop.validation.chat_index import SEP, ChatIndex, channel_key
from streamdrop.validation.model import Options, Problem, Problems
from streamdrop.validation.spill import SpillList

UNKNOWN_TYPE_MAX_MESSAGE_LENGTH: Final = 20_000  # stream-cli's fallback
DEFER: Final = object()  # "a referenced item is not indexed yet"
EMPTY_REFERENCE: Final = cf.quote("") + " "  # `user "" doesn't exist`: an id left out

# A reference check yields these: an error (stop), a missing reference
# (error in the array format, warning in JSON Lines), or nothing.
Found = list[tuple[bool, str]]  # (is_missing_reference, message)
# What a check returns: None or an empty list (all is well), a Found, or DEFER.
Check = Callable[[Facts], Any]


def shortest_message_limit(options: Options) -> int:
    """Messages no longer than this need no lookup of their channel type's limit."""
    return min((*options.channel_types.values(), UNKNOWN_TYPE_MAX_MESSAGE_LENGTH))


class FoundLog:
    """The reference problems of one phase (streaming or parked), in item order."""

    __slots__ = ("errors", "warnings")

    def __init__(self, limit: int) -> None:
        self.errors = Problems(limit)
        self.warnings = Problems(limit)


def merge_in_item_order(logs: Iterable[Problems], limit: int) -> Problems:
    """Problems of several logs, each in item order: all counted, the first `limit` kept."""
    logs = list(logs)
    merged = Problems(limit)
    merged.count = sum(log.count for log in logs)
    merged.kept = list(itertools.islice(
        heapq.merge(*(log.kept for log in logs), key=_item_of), limit))
    return merged


def _item_of(problem: Problem) -> int:
    return problem.item or 0


_WARNING_TAIL: Final = (" in this file (Stream resolves it against the app; "
                        "--strict-references makes this an error)")


def _keep(problems: Problems, text: str, item: int, line: int, offset: int) -> None:
    """Count a problem; build it only while there is room to keep it."""
    problems.count += 1
    if len(problems.kept) < problems.limit:
        problems.kept.append(Problem(text, item, line, offset))


class ReferenceChecks:
    """The reference checks of each kind, over the index, and what they found or parked.

    `by_kind[kind](facts)` answers None or an empty list (all is well), a
    `Found`, or `DEFER`; the caller `record`s the first and `park`s the item
    on the second.
    """

    def __init__(self, index: ChatIndex, options: Options, *, strict: bool) -> None:
        self.index = index
        self.roles = options.roles
        self.channel_types = options.channel_types
        self.strict = strict
        self.shortest_limit = shortest_message_limit(options)
        self.final = False  # the file is read: a reference not found now is missing
        self.now = FoundLog(options.max_errors)  # found as the file streams
        self.late = FoundLog(options.max_errors)  # found checking the parked items
        self.parked = SpillList()  # (item, line, offset, kind, facts)
        self.by_kind: dict[str, Check] = {
            "user": self.user, "device": self.device, "channel": self.channel,
            "member": self.member, "message": self.message, "reaction": self.reaction,
            "future_channel_ban": self.future_ban,
        }

    # -- as the file streams, and at its end ----------------------------------------

    def park(self, item: int, line: int, offset: int, kind: str, facts: Facts) -> None:
        """An item whose check answered DEFER: check it again once the file is read."""
        self.parked.append((item, line, offset, kind, facts))

    def check_parked(self) -> None:
        """The file is read: check the parked items again, in file order."""
        self.final = True
        for item, line, offset, kind, facts in self.parked:
            found = self.by_kind[kind](facts)
            if found:
                self.record(item, line, offset, found)

    def logs(self) -> tuple[FoundLog, FoundLog]:
        """What was found as the file streamed, and checking the parked items."""
        return self.now, self.late

    def record(self, item: int, line: int, offset: int, found: Found) -> None:
        """Count what a check found about an item; keep the first few of each phase."""
        log = self.late if self.final else self.now
        for missing, message in found:
            if self.strict or not missing:
                _keep(log.errors, "reference error: " + message, item, line, offset)
            elif EMPTY_REFERENCE not in message:  # an empty id: its field check reported it
                _keep(log.warnings, "reference warning: " + message + _WARNING_TAIL,
                      item, line, offset)

    def _missing(self, found: Found, message: str) -> bool:
        """Note a reference not in the file; True when checking should stop here."""
        found.append((True, message))
        return self.strict

    # -- each kind's references --------------------------------------------------

    def user(self, facts: Facts) -> Any:
        user_id, role, channel_mutes, user_mutes, _ = facts
        if role not in self.roles:
            return [(False, f"user.role {cf.quote(role)} doesn't exist (user {cf.quote(user_id)})")]
        found: Found = []
        for cid in channel_mutes:
            parts = cid.split(":")
            if len(parts) != 2:
                found.append((False, f'channel {cf.quote(cid)} should have the following format '
                                     '"type:id"'))
                return found
            if f"{parts[0]}{SEP}{parts[1]}" not in self.index.channels:
                if not self.final:
                    return DEFER
                if self._missing(found, f"muted channel {cf.quote(cid)} by user "
                                        f"{cf.quote(user_id)} doesn't exist"):
                    return found
        for muted in user_mutes:
            if muted not in self.index.users:
                if not self.final:
                    return DEFER
                if self._missing(found, f"muted user {cf.quote(muted)} by user "
                                        f"{cf.quote(user_id)} doesn't exist"):
                    return found
        return found

    def device(self, facts: Facts) -> Any:
        user_id = facts[1]
        if user_id and user_id not in self.index.users:
            if not self.final:
                return DEFER
            return [(True, f"device.user_id {cf.quote(user_id)} doesn't exist")]
        return None

    def channel(self, facts: Facts) -> Any:
        channel_type, channel_id, member_ids, created_by, _ = facts
        shown = f"{channel_type}:{channel_id or cf.go_list(member_ids)}"
        if channel_type not in self.channel_types:
            return [(False, f"channel.type {cf.quote(channel_type)} doesn't exist "
                            f"(channel {cf.quote(shown)})")]
        if created_by not in self.index.users:
            if not self.final:
                return DEFER
            return [(True, f"channel.created_by {cf.quote(created_by)} doesn't exist "
                           f"(channel {cf.quote(shown)})")]
        return None

    def member(self, facts: Facts) -> Any:
        channel_type, channel_id, member_ids, user_id = facts
        key = channel_key(channel_type, channel_id, member_ids)
        found: Found = []
        channel_known = self._channel_exists(found, channel_type, channel_id, member_ids, key)
        if channel_known is DEFER:
            return DEFER
        if self.strict and not channel_known:
            return found
        user_known = user_id in self.index.users
        if not user_known:
            if not self.final:
                return DEFER
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

    def message(self, facts: Facts) -> Any:
        (message_id, parent_id, channel_type, channel_id, member_ids, user_id, mentioned,
         text_length) = facts
        index = self.index
        if (not parent_id and not mentioned and channel_id and text_length <= self.shortest_limit
                and user_id in index.users
                and f"{channel_type}{SEP}{channel_id}" in index.channels):
            return None  # the usual message: every reference resolves
        found: Found = []
        if parent_id:
            if parent_id in index.replies:
                return [(False, "only one level thread is supported")]
            if parent_id not in index.messages:
                if not self.final:
                    return DEFER
                if self._missing(found, f"message parent_id {cf.quote(parent_id)} doesn't exist"):
                    return found
        key = channel_key(channel_type, channel_id, member_ids)
        channel_known = self._channel_exists(found, channel_type, channel_id, member_ids, key)
        if channel_known is DEFER:
            return DEFER
        if self.strict and not channel_known:
            return found
        if user_id not in index.users:
            if not self.final:
                return DEFER
            if self._missing(found, f"user {cf.quote(user_id)} doesn't exist "
                                    f"(message_id {message_id})"):
                return found
        for mentioned_id in mentioned:
            if mentioned_id not in index.users:
                if not self.final:
                    return DEFER
                if self._missing(found, f"mentioned user {cf.quote(mentioned_id)} doesn't exist "
                                        f"(message_id {cf.quote(message_id)})"):
                    return found
        limit = self.channel_types.get(channel_type, UNKNOWN_TYPE_MAX_MESSAGE_LENGTH)
        if text_length > limit:
            found.append((False, f"message.text max length exceeded ({limit})"))
        return found

    def reaction(self, facts: Facts) -> Any:
        message_id, user_id, _ = facts
        if message_id in self.index.messages and user_id in self.index.users:
            return None
        found: Found = []
        if message_id not in self.index.messages:
            if not self.final:
                return DEFER
            if self._missing(found, f"message_id {cf.quote(message_id)} doesn't exist"):
                return found
        if user_id not in self.index.users:
            if not self.final:
                return DEFER
            self._missing(found, f"user {cf.quote(user_id)} doesn't exist")
        return found

    def future_ban(self, facts: Facts) -> Any:
        found: Found = []
        for field, user_id in zip(("target_id", "created_by"), facts, strict=True):
            if user_id not in self.index.users:
                if not self.final:
                    return DEFER
                if self._missing(found, f"future_channel_ban.{field} {cf.quote(user_id)} "
                                        "doesn't exist"):
                    return found
        return found

    # -- what members and messages share -------------------------------------------

    def _channel_exists(self, found: Found, channel_type: str, channel_id: str,
                        member_ids: tuple[str, ...], key: str) -> Any:
        """True if the channel is indexed, DEFER, or False after noting it missing."""
        if key in self.index.channels:
            return True
        if not self.final:
            return DEFER
        if channel_id:
            message = f'channel "{channel_type}:{channel_id}" doesn\'t exist'
        else:
            message = (f"distinct channel with type {cf.quote(channel_type)} and "
                       f"members:{cf.go_quoted_list(sorted(member_ids))} doesn't exist")
        self._missing(found, message)
        return False

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
