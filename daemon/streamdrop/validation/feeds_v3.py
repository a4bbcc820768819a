"""The Feeds v3 import file (JSON Lines of `{"type", "data"}`), checked as it streams (pure).

The file is what Stream's Import V2 API takes with `product: "feeds"`
(Stream's OpenAPI spec and feeds import docs). Each line goes through:

1. the envelope (`item.schema.json`): an object with `type` among the
   known types and an object in `data`, nothing else beside them;
2. the schema of its own type (`feeds_v3_fields`): the envelope's `anyOf`
   would let an activity without `fids` through because it also fits the
   bookmark schema, while Stream's importer picks the schema by `type`;
3. its index entry and references (`feeds_v3_index`): a repeated id is an
   error; a user, feed, activity or comment named but not in the file is a
   warning, because the import checks references against the app unless it
   is created with `skip_references_check` (an error with strict
   references); a feed group outside the file and the app's known groups is
   an error.

`poll`, `poll_vote` and `user_interest` have no published schema: their
envelope is checked, the first of each gets a warning (`unpublished`). Each
item gets at most one field error, the first, as in the chat validator; a
line that is not JSON is one parse error. No item order is required (the
docs name none), so references may point forward.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any, Final

from streamdrop.validation.chat_envelope import NoEnvelope, extra_key_error, open_envelope
from streamdrop.validation.chat_fields import quote
from streamdrop.validation.feeds_v3_fields import SCHEMAS, item_problem
from streamdrop.validation.feeds_v3_index import KEY_FIELDS, REFERENCED, FeedsV3Index
from streamdrop.validation.model import Options, Problem, Problems, Result
from streamdrop.validation.unpublished import UnpublishedItems

SCHEMA_TYPES: Final = tuple(SCHEMAS)  # user, feed, feed_group, ... in the envelope's enum order
UNPUBLISHED_TYPES: Final = ("poll", "poll_vote", "user_interest")
TYPES: Final = (*SCHEMA_TYPES, *UNPUBLISHED_TYPES)
_TYPE_NAMES: Final = {kind: kind for kind in TYPES}
_UNPUBLISHED: Final = frozenset(UNPUBLISHED_TYPES)
_MISSING_SUFFIX: Final = ("doesn't exist in this file (the import checks it against the app "
                          "unless it is created with skip_references_check; "
                          "--strict-references makes this an error)")


class FeedsV3Validator:
    """Checks a Feeds v3 JSON Lines file fed one decoded line at a time."""

    def __init__(self, options: Options) -> None:
        self.strict = options.strict_references
        self.errors = Problems(options.max_errors)
        self.warnings = Problems(options.max_errors)
        self.index = FeedsV3Index(options.feed_groups)
        self.unpublished = UnpublishedItems("Feeds v3", UNPUBLISHED_TYPES, ids=False)
        # One per type without a schema; merged with the reference warnings by item.
        self.schema_warnings: list[Problem] = []
        self._result: Result | None = None

    # -- the ItemValidator protocol -------------------------------------------------

    def feed(self, item: int, line: int, offset: int, value: Any) -> None:
        # The usual line, {"type": a type with a schema, "data": {...}}, without a call.
        if type(value) is dict and len(value) == 2:
            kind = value.get("type")
            data = value.get("data")
            if type(kind) is not str or kind not in SCHEMAS or type(data) is not dict:
                kind, data = self._envelope(value, item, line, offset)
        else:
            kind, data = self._envelope(value, item, line, offset)
        if kind is None:
            return
        if kind in _UNPUBLISHED:
            self._unpublished(kind, data, item, line, offset)
            return
        found = item_problem(kind, data)
        if found is None:
            duplicate = self.index.add(kind, data, item, line, offset)
            if duplicate is None:
                return
            found = (KEY_FIELDS[kind], duplicate)
        field, message = found
        self.errors.add(Problem(f"validation error: {message}", item, line, offset,
                                field=field))

    def parse_error(self, problem: Problem) -> None:
        self.errors.add(problem)

    def finish(self) -> Result:
        if self._result is None:  # a second call must not report anything twice
            self._report_references()
            self._result = Result(
                format="feeds-v3",
                stats={**self.index.stats(), **self.unpublished.stats()},
                errors=list(self.errors.kept), warnings=list(self.warnings.kept),
                error_count=self.errors.count, warning_count=self.warnings.count,
            )
        return self._result

    # -- parts ------------------------------------------------------------------------

    def _envelope(self, value: Any, item: int, line: int, offset: int) -> tuple[Any, Any]:
        """(type, data) of a line, or (None, None) once its broken envelope is reported."""
        try:
            kind, data = open_envelope(value, _TYPE_NAMES, "data")
        except NoEnvelope as why:
            self.errors.add(Problem(f"parse error: {why}", item, line, offset))
            return None, None
        if len(value) > 2:  # a key beside "type" and "data"; the item is still checked
            self.errors.add(Problem(f"validation error: {extra_key_error(value)}",
                                    item, line, offset))
        return kind, data

    def _unpublished(self, kind: str, data: dict[str, Any], item: int, line: int,
                     offset: int) -> None:
        warning = self.unpublished.warning(kind)
        if warning is not None:
            self.schema_warnings.append(Problem(warning, item, line, offset))
        self.unpublished.add(kind, data)

    def _report_references(self) -> None:
        """Every reference still open, and the schema warnings, in item order."""
        for is_error, problem in heapq.merge(
                self._reference_problems(), ((False, p) for p in self.schema_warnings),
                key=lambda found: found[1].item or 0):
            (self.errors if is_error else self.warnings).add(problem)

    def _reference_problems(self) -> Iterator[tuple[bool, Problem]]:
        for item, line, offset, field, target, name in self.index.missing():
            named = f"{field} names {REFERENCED[target]} {quote(name)}, which"
            if target == "feed_group":
                yield True, Problem(f"reference error: {named} is neither in this file nor "
                                    "among the app's feed groups", item, line, offset,
                                    field=field)
            elif self.strict:
                yield True, Problem(f"reference error: {named} doesn't exist in this file",
                                    item, line, offset, field=field)
            else:
                yield False, Problem(f"reference warning: {named} {_MISSING_SUFFIX}",
                                     item, line, offset, field=field)
