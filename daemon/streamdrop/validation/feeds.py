"""The feeds import file (JSON Lines of instructions), checked rule by rule (pure).

Each line is `{"instruction": ..., "feedId": "group:id", "data": [...]}`; the
rules are Stream's (its documentation of the feeds import file). Choices made where
Stream's documentation is silent:

- `follow` lines take at most 10,000 targets, the per-line maximum Stream
  documents for every other list but activities.
- Only follow *targets* must be flat feeds: in Stream any feed (a flat
  timeline, an aggregated or notification feed) may follow a flat feed, so
  the source `feedId` may be of any kind; it must still be a known group.
- Feed groups match `^\\w+$` and feed ids `^[\\w-]+$` (ASCII), as Stream's
  SDKs enforce before any request.
- A reaction's `time` and `activity_time` must be RFC 3339, like an
  activity's `time`; `activity_foreign_id` + `activity_time` match an activity
  by foreign id and *instant*, so "…Z" and "…+00:00" name the same activity.
- Within one entry the checks run in a fixed order and the first failure is
  that entry's one error, as in the chat validator.
- Stats count entries that would be imported: an entry is counted when
  neither it nor its line has an error (also a reaction whose activity is
  never found, which is known only at `finish`).
- Without the app's feed groups, one warning says they were not checked; it
  points at the first line that names a feed group, and is not given for a
  file that names none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from streamdrop.validation.model import FEED_GROUP_KINDS, Options, Problem, Problems, Result
from streamdrop.validation.timestamps import instant_key, is_rfc3339

INSTRUCTIONS = ("add_activities", "follow", "reactions", "users", "collections")
MAX_ENTRIES_PER_LINE: Mapping[str, int] = {
    "add_activities": 3_600,
    "follow": 10_000,
    "reactions": 10_000,
    "users": 10_000,
    "collections": 10_000,
}
NEEDS_FEED_ID = frozenset({"add_activities", "follow"})
FEED_GROUPS_NOT_CHECKED = (
    "feed groups were not checked: pass --feed-groups (or --from-app) to check them"
)

_FEED_ID = re.compile(r"(\w+):[\w-]+", re.ASCII)
_FEED_GROUP_NAME = re.compile(r"\w+", re.ASCII)
_FEED_ID_RULE = r'"group:id" allowed, group ^\w+$, id ^[\w-]+$'
_TIME_RULE = 'RFC 3339 required, e.g. "2022-02-14T12:34:30Z"'
_ACTIVITY_STRINGS = ("actor", "verb", "object", "foreign_id")
_REACTION_STRINGS = ("id", "kind", "user_id")
_COLLECTION_STRINGS = ("collection", "id")
_SHOWN_CHARS = 80  # how much of a bad value a message repeats
# The kind of every feed group when the app's feed groups are not known.
_UNCHECKED = "unchecked"
# Joins a foreign id and an instant into one compact key. An instant never
# contains NUL, so the key's last NUL splits it back even if the id has one.
_KEY_SEPARATOR = "\x00"
_CANONICAL_TIME_LENGTH = len("2022-02-14T12:34:30Z")


def parse_feed_groups(text: str) -> dict[str, str]:
    """Read `--feed-groups`: "user,timeline,notify:notification" -> {name: kind}.

    A name without a kind is flat. Raises ValueError for an empty list, a
    malformed name, an unknown kind, or one name given two kinds.
    """
    groups: dict[str, str] = {}
    for part in text.split(","):
        name, _, kind = (piece.strip() for piece in part.partition(":"))
        kind = kind or "flat"
        if not _FEED_GROUP_NAME.fullmatch(name):
            raise ValueError(f"feed group {part.strip()!r}: name must match ^\\w+$ (ASCII)")
        if kind not in FEED_GROUP_KINDS:
            allowed = ", ".join(FEED_GROUP_KINDS)
            raise ValueError(f"feed group {name!r}: kind {kind!r} invalid ({allowed} allowed)")
        if groups.setdefault(name, kind) != kind:
            raise ValueError(f"feed group {name!r} given twice with different kinds")
    return groups


class FeedsValidator:
    """Checks a feeds JSON Lines file fed one decoded line at a time."""

    def __init__(self, options: Options) -> None:
        self._feed_groups = options.feed_groups
        self._errors = Problems(options.max_errors)
        self._warnings = Problems(options.max_errors)
        self._stats = dict.fromkeys(INSTRUCTIONS, 0)
        # "foreign_id\0instant" of every activity added, for reactions to name.
        self._activities: set[str] = set()
        # Reactions naming an activity not seen yet: (key, item, line, offset,
        # index, countable), resolved at finish. Empty when activities come first.
        self._pending: list[tuple[str, int, int, int, int, bool]] = []
        self._first_unchecked_group: Problem | None = None
        self._result: Result | None = None
        # Where the line being checked is, and whether its entries may count.
        self._item = self._line = self._offset = 0
        self._line_ok = True
        self._check_entries: Mapping[str, Callable[[list[Any]], int]] = {
            "add_activities": self._check_activities,
            "follow": self._check_follows,
            "reactions": self._check_reactions,
            "users": self._check_users,
            "collections": self._check_collections,
        }

    # -- the ItemValidator protocol -------------------------------------------------

    def feed(self, item: int, line: int, offset: int, value: Any) -> None:
        self._item, self._line, self._offset = item, line, offset
        if type(value) is not dict:
            self._error(f"validation error: line must be a JSON object, got {_json_type(value)}")
            return
        instruction = self._instruction(value)
        if instruction is None:
            return
        self._line_ok = self._feed_id_ok(instruction, value)
        data = self._data(instruction, value)
        if data is None:
            return
        counted = self._check_entries[instruction](data)
        if self._line_ok:
            self._stats[instruction] += counted

    def parse_error(self, problem: Problem) -> None:
        self._errors.add(problem)

    def finish(self) -> Result:
        if self._result is None:  # a second call must not report anything twice
            self._resolve_pending_reactions()
            if self._first_unchecked_group is not None:
                self._warnings.add(self._first_unchecked_group)
            self._result = Result(
                format="feeds",
                stats=dict(self._stats),
                errors=list(self._errors.kept),
                warnings=list(self._warnings.kept),
                error_count=self._errors.count,
                warning_count=self._warnings.count,
            )
        return self._result

    # -- line-level checks ----------------------------------------------------------

    def _instruction(self, line: dict[str, Any]) -> str | None:
        """The line's instruction, or None once its problem is reported."""
        instruction = line.get("instruction")
        if type(instruction) is str and instruction in MAX_ENTRIES_PER_LINE:
            return instruction
        if instruction is None or instruction == "":
            self._error("validation error: instruction required")
        elif type(instruction) is not str:
            self._error(f"validation error: instruction must be a string, got "
                        f"{_json_type(instruction)}")
        else:
            allowed = ", ".join(INSTRUCTIONS)
            self._error(f"validation error: invalid instruction {_shown(instruction)} "
                        f"({allowed} allowed)")
        return None

    def _feed_id_ok(self, instruction: str, line: dict[str, Any]) -> bool:
        """Check feedId where the instruction needs one (others ignore it)."""
        if instruction not in NEEDS_FEED_ID:
            return True
        feed_id: Any = line.get("feedId")
        if _missing(feed_id):
            self._error(f"validation error: feedId required for {instruction}")
            return False
        problem = _feed_id_problem(feed_id, "feedId")
        if problem is not None:
            self._error(problem)
            return False
        return self._feed_group_known(feed_id, "feedId", None) is not None

    def _data(self, instruction: str, line: dict[str, Any]) -> list[Any] | None:
        """The line's entries (None once a missing or non-array `data` is reported)."""
        data = line.get("data")
        if type(data) is not list:
            self._error("validation error: data required" if data is None else
                        f"validation error: data must be an array, got {_json_type(data)}")
            return None
        limit = MAX_ENTRIES_PER_LINE[instruction]
        if len(data) > limit:
            # Reported once for the line; its entries are still checked.
            self._error(f"validation error: data has {len(data)} entries, at most {limit} "
                        f"allowed for {instruction}")
            self._line_ok = False
        return data

    # -- entries: each returns how many passed ----------------------------------------

    def _check_activities(self, data: list[Any]) -> int:
        passed = 0
        for index, activity in enumerate(data):
            problem = activity_problem(activity)
            if problem is not None:
                self._error(problem, index)
                continue
            # Indexed even when only its `to` is wrong: a reaction naming it is right.
            self._activities.add(_activity_key(activity["foreign_id"], activity["time"]))
            if self._targets_known(activity.get("to"), index):
                passed += 1
        return passed

    def _targets_known(self, targets: list[str] | None, index: int) -> bool:
        if not targets:
            return True
        known = True
        for target in targets:
            if self._feed_group_known(target, "activity.to", index) is None:
                known = False  # and go on: every unknown group is reported
        return known

    def _check_follows(self, data: list[Any]) -> int:
        passed = 0
        for index, target in enumerate(data):
            problem = _feed_id_problem(target, "follow target")
            if problem is not None:
                self._error(problem, index)
                continue
            kind = self._feed_group_known(target, "follow target", index)
            if kind is None:
                continue
            if kind not in ("flat", _UNCHECKED):
                self._error(f"validation error: follow target {_shown(target)} is not a flat "
                            f"feed (feed group {_shown(_group(target))} is {kind})", index)
                continue
            passed += 1
        return passed

    def _check_reactions(self, data: list[Any]) -> int:
        passed = 0
        for index, reaction in enumerate(data):
            problem = reaction_problem(reaction)
            if problem is not None:
                self._error(problem, index)
                continue
            if reaction.get("activity_id"):
                passed += 1
                continue
            key = _activity_key(reaction["activity_foreign_id"], reaction["activity_time"])
            if key in self._activities:
                passed += 1
            else:  # the activity may still come later in the file
                self._pending.append(
                    (key, self._item, self._line, self._offset, index, self._line_ok))
        return passed

    def _check_users(self, data: list[Any]) -> int:
        return self._count_passing(data, user_problem)

    def _check_collections(self, data: list[Any]) -> int:
        return self._count_passing(data, collection_problem)

    def _count_passing(self, data: list[Any], problem_of: Callable[[Any], str | None]) -> int:
        passed = 0
        for index, entry in enumerate(data):
            problem = problem_of(entry)
            if problem is None:
                passed += 1
            else:
                self._error(problem, index)
        return passed

    # -- references -------------------------------------------------------------------

    def _feed_group_known(self, feed_id: str, role: str, index: int | None) -> str | None:
        """The group's kind ("unchecked" without the app's groups), None once reported."""
        group = _group(feed_id)
        if self._feed_groups is None:
            if self._first_unchecked_group is None:
                self._first_unchecked_group = Problem(
                    FEED_GROUPS_NOT_CHECKED, self._item, self._line, self._offset)
            return _UNCHECKED
        kind = self._feed_groups.get(group)
        if kind is None:
            self._error(f"reference error: feed group {_shown(group)} doesn't exist "
                        f"({role} {_shown(feed_id)})", index)
        return kind

    def _resolve_pending_reactions(self) -> None:
        for key, item, line, offset, index, countable in self._pending:
            if key in self._activities:
                self._stats["reactions"] += countable
                continue
            foreign_id, _, instant = key.rpartition(_KEY_SEPARATOR)
            self._errors.add(Problem(
                f"reference error: activity with foreign_id {_shown(foreign_id)} and time "
                f"{_shown(instant)} doesn't exist in the file (reaction.activity_foreign_id)",
                item, line, offset, index))
        self._pending.clear()

    def _error(self, message: str, index: int | None = None) -> None:
        self._errors.add(Problem(message, self._item, self._line, self._offset, index))


# -- pure field checks: the entry's one error message, or None ---------------------------


def activity_problem(activity: Any) -> str | None:
    if type(activity) is not dict:
        return f"validation error: activity must be a JSON object, got {_json_type(activity)}"
    return (_strings_problem(activity, "activity", _ACTIVITY_STRINGS)
            or _time_problem(activity, "activity", "time")
            or _to_problem(activity.get("to")))


def reaction_problem(reaction: Any) -> str | None:
    if type(reaction) is not dict:
        return f"validation error: reaction must be a JSON object, got {_json_type(reaction)}"
    problem = (_strings_problem(reaction, "reaction", _REACTION_STRINGS)
               or _time_problem(reaction, "reaction", "time"))
    if problem is not None:
        return problem
    if not _missing(reaction.get("activity_id")):
        return _required_string(reaction, "reaction", "activity_id")
    if _missing(reaction.get("activity_foreign_id")) and _missing(reaction.get("activity_time")):
        return ("validation error: either reaction.activity_id or "
                "reaction.activity_foreign_id and reaction.activity_time required")
    return (_required_string(reaction, "reaction", "activity_foreign_id")
            or _time_problem(reaction, "reaction", "activity_time"))


def user_problem(user: Any) -> str | None:
    if type(user) is not dict:
        return f"validation error: user must be a JSON object, got {_json_type(user)}"
    return _required_string(user, "user", "id")


def collection_problem(entry: Any) -> str | None:
    if type(entry) is not dict:
        return f"validation error: collection must be a JSON object, got {_json_type(entry)}"
    problem = _strings_problem(entry, "collection", _COLLECTION_STRINGS)
    if problem is not None:
        return problem
    data = entry.get("data")
    if type(data) is dict:
        return None if data else "validation error: collection.data required"
    if data is None:
        return "validation error: collection.data required"
    return f"validation error: collection.data must be an object, got {_json_type(data)}"


def _missing(value: Any) -> bool:
    return value is None or value == ""


def _strings_problem(entry: dict[str, Any], kind: str, fields: tuple[str, ...]) -> str | None:
    """The first of `fields` that is not a non-empty string, as a message."""
    for field in fields:  # one loop, no call per field: this runs for every entry
        value = entry.get(field)
        if type(value) is not str or not value:
            return _not_a_string(kind, field, value)
    return None


def _required_string(entry: dict[str, Any], kind: str, field: str) -> str | None:
    return _strings_problem(entry, kind, (field,))


def _time_problem(entry: dict[str, Any], kind: str, field: str) -> str | None:
    value = entry.get(field)
    if type(value) is not str or not value:
        return _not_a_string(kind, field, value)
    if is_rfc3339(value):
        return None
    return f"validation error: {kind}.{field} {_shown(value)} invalid ({_TIME_RULE})"


def _not_a_string(kind: str, field: str, value: Any) -> str:
    if _missing(value):  # null counts as missing, as an empty string does
        return f"validation error: {kind}.{field} required"
    return f"validation error: {kind}.{field} must be a string, got {_json_type(value)}"


def _to_problem(targets: Any) -> str | None:
    """An activity's optional `to`: an array of feed ids."""
    if targets is None:
        return None
    if type(targets) is not list:
        return f"validation error: activity.to must be an array, got {_json_type(targets)}"
    for position, target in enumerate(targets):
        problem = _feed_id_problem(target, f"activity.to[{position}]")
        if problem is not None:
            return problem
    return None


def _feed_id_problem(feed_id: Any, role: str) -> str | None:
    if type(feed_id) is not str:
        if feed_id is None:
            return f"validation error: {role} required"
        return f"validation error: {role} must be a string, got {_json_type(feed_id)}"
    if _FEED_ID.fullmatch(feed_id) is None:
        return f"validation error: {role} {_shown(feed_id)} invalid ({_FEED_ID_RULE})"
    return None


def _activity_key(foreign_id: str, time: str) -> str:
    """The compact key an activity is found by; `time` must be RFC 3339."""
    # A valid time of 20 characters is "YYYY-MM-DDTHH:MM:SSZ", the canonical
    # spelling already: the common case skips a second parse.
    instant = time if len(time) == _CANONICAL_TIME_LENGTH else instant_key(time)
    return f"{foreign_id}{_KEY_SEPARATOR}{instant}"


def _group(feed_id: str) -> str:
    return feed_id.partition(":")[0]


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else type(value).__name__


def _shown(value: str) -> str:
    """`value` quoted for a message, cut short so that huge values stay readable."""
    if len(value) > _SHOWN_CHARS:
        value = value[:_SHOWN_CHARS] + "…"
    return orjson.dumps(value).decode()
