"""Stream's chat import rules, item by item, in one streaming pass: the validator's public face.

stream-cli checked a file in three passes (its `pkg/cmd/chat/imports/validator`):
fields (indexing the items that pass), references (over every decodable
item), completeness of distinct channels. Reading a 300 MB file three times
is slow, so this validator makes one pass and gives the same answer:

- the field checks and the index are exactly stream-cli's first pass;
- an item's references are checked as soon as it is indexed, or parked
  until the file is read when they may point forward (`chat_references`);
- reference problems are then sorted by item, which is stream-cli's order.

The JSON Lines format (`{"type", "data"}`) adds Stream's current rules: item
order, future channel bans, 5 KiB of custom data, 30 attachments, https
URLs, the JSON Schemas' field rules; a reference to something not in the
file is a warning there (Stream resolves it in the app) unless references
are strict.

This module feeds items to the checks, one step after another, and words
what they find ("validation error: ..."); each check lives in a module of
its own:

- `chat_envelope`: the `{"type", ...}` wrapper and JSON Lines' item order;
- `chat_rules`: decoding and the field rules of one item on its own;
- `chat_facts`: the few values of an item the checks below use;
- `chat_index`: the ids seen so far, and duplicates;
- `chat_references`: what an item names exists (and parking);
- `chat_plain`: the fast paths' inline settling of ordinary items;
- `chat_verdict`: completeness of distinct channels and the Result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec
import orjson

from streamdrop.validation import chat_fields as cf
from streamdrop.validation import fastpath, fastpath_jsonl
from streamdrop.validation.chat_envelope import (
    ARRAY_TYPE_NAMES,
    ITEM_ORDER,
    JSONL_TYPE_NAMES,
    UNPUBLISHED_KINDS,
    ItemOrder,
    NoEnvelope,
    extra_key_error,
    open_envelope,
)
from streamdrop.validation.chat_facts import FACTS, Facts
from streamdrop.validation.chat_index import ChatIndex
from streamdrop.validation.chat_plain import PlainSettlers
from streamdrop.validation.chat_references import (
    DEFER,
    UNKNOWN_TYPE_MAX_MESSAGE_LENGTH,
    Found,
    ReferenceChecks,
)
from streamdrop.validation.chat_rules import (
    MESSAGE_TYPES,
    NESTED_KINDS,
    PUSH_PROVIDERS,
    ItemRules,
)
from streamdrop.validation.chat_verdict import Findings, chat_result, completeness_findings
from streamdrop.validation.model import Options, Problem, Problems, Result
from streamdrop.validation.reader import describe_json_error
from streamdrop.validation.unpublished import UnpublishedItems

__all__ = [
    "ITEM_ORDER",
    "MESSAGE_TYPES",
    "PUSH_PROVIDERS",
    "UNKNOWN_TYPE_MAX_MESSAGE_LENGTH",
    "ChatValidator",
    "Found",
    "Locate",
]

_REGION_RETRIES: Final = 4

# `locate(k)` gives (line, offset) of the k-th item of what was fed.
Locate = Callable[[int], tuple[int, int]]


def _decode_envelopes(raws: list[msgspec.Raw]) -> list[Any]:
    return fastpath.REGION_DECODER.decode(b"[" + b",".join(map(bytes, raws)) + b"]")


def _no_position(_: int) -> tuple[int, int]:
    return (0, 0)


class ChatValidator:
    """Checks chat items fed in file order; `finish()` gives the verdict."""

    def __init__(self, options: Options, *, jsonl: bool) -> None:
        self.options = options
        self.jsonl = jsonl
        self.strict = options.strict_references or not jsonl
        self.index = ChatIndex()
        self.rules = ItemRules(options, jsonl=jsonl)
        self.references = ReferenceChecks(self.index, options, strict=self.strict)
        self.plain = PlainSettlers(self.index, options)
        self.order = ItemOrder()
        self.unpublished = UnpublishedItems("chat", UNPUBLISHED_KINDS, ids=True)
        self.schema_warnings: list[tuple[bool, Problem]] = []
        self.field_errors = Problems(options.max_errors)
        self.parse_errors = 0
        # Positions are worked out only for items with something to report:
        # `_locate(k)` gives (line, offset) of the k-th item after `_first`.
        self._first = 0
        self._locate: Locate = _no_position
        self.type_names = JSONL_TYPE_NAMES if jsonl else ARRAY_TYPE_NAMES
        self.body_key = "data" if jsonl else "item"
        index = self.index
        # A channel is indexed with its position (see `_accept`), the other kinds by these.
        self._add: dict[str, Callable[[Facts], str | None]] = {
            "user": index.add_user, "device": index.add_device, "member": index.add_member,
            "message": index.add_message, "reaction": index.add_reaction,
            "future_channel_ban": index.add_future_ban,
        }
        self._field_rules = self.rules.field_rules
        self._references = self.references.by_kind

    # -- the stream of items ---------------------------------------------------

    def parse_error(self, problem: Problem) -> None:
        self.parse_errors += 1
        self.field_errors.add(problem)

    def feed(self, item: int, line: int, offset: int, value: Any) -> None:
        self._first = item
        self._locate = lambda _: (line, offset)
        self._check(item, value)

    def feed_many(self, first: int, values: list[Any], locate: Locate) -> None:
        """Check consecutive items; `locate(k)` gives (line, offset) of values[k]."""
        self._first = first
        self._locate = locate
        check = self._check
        for item, value in enumerate(values, first):
            check(item, value)

    def feed_lines(self, lines: list[bytes], start: int, item: int, locate: Locate) -> int:
        """Check JSON Lines `lines[start:]` while they are ordinary; return where it stopped.

        `item` is the number of lines[start], `locate(k)` the (line, offset)
        of lines[k]. Stops, having changed nothing for it, at the first line
        the fast path refuses (`fastpath_jsonl`), which the reader then takes
        the precise way; returns its index (len(lines) when there is none).
        """
        if not self.jsonl:
            return start
        self._first, self._locate = item - start, locate
        decode = fastpath_jsonl.LINE_DECODER.decode
        astuple = msgspec.structs.astuple
        keys = fastpath_jsonl.keys
        settlers = self.plain.by_kind_jsonl
        order = self.order
        for n in range(start, len(lines)):
            raw = lines[n]
            try:
                envelope = decode(raw)
            except fastpath_jsonl.REFUSED:
                return n
            body = envelope.data
            # The reader's duplicate-key check, which only ever speaks when a line has
            # more `":` than keys (a cheaper count of the envelope's and body's first).
            colons = raw.count(b'":')
            if colons > envelope.most_keys - astuple(body).count(None) and colons > keys(envelope):
                return n
            kind = envelope.kind
            if kind != order.highest_kind:
                late = order.error(kind)
                if late is not None:
                    self._field_error(late, item)
            settle = settlers.get(kind)
            if settle is None or not settle(body):
                self._accept(item, kind, fastpath_jsonl.as_item_dict(body), None)
            item += 1
        return len(lines)

    def feed_region(self, first: int, region: bytes, locate: Locate) -> int:
        """Check the items of `[region]`, fast where ordinary; return how many there were.

        Raises msgspec.DecodeError, having checked nothing, when `[region]` is
        not well-formed JSON (the reader then takes its items one by one).
        """
        wrapped = b"[" + region + b"]"
        try:
            envelopes = fastpath.REGION_DECODER.decode(wrapped)
        except msgspec.ValidationError as refusal:  # some item is not ordinary
            raws = fastpath.RAWS_DECODER.decode(wrapped)
            self._first, self._locate = first, locate
            self._feed_raws(first, raws, fastpath.failed_element(refusal))
            return len(raws)
        self._first, self._locate = first, locate
        self._feed_envelopes(first, envelopes)
        return len(envelopes)

    def _where(self, item: int) -> tuple[int, int]:
        return self._locate(item - self._first)

    # -- the fast path: decoded structs (see fastpath.py) ------------------------

    def _feed_envelopes(self, first: int, envelopes: list[Any]) -> None:
        plain = self.plain.by_kind
        for item, envelope in enumerate(envelopes, first):
            kind = envelope.kind
            settle = plain.get(kind)
            if settle is None or not settle(envelope.item):
                self._accept(item, kind, fastpath.as_item_dict(envelope.item), None)

    def _feed_raws(self, first: int, raws: list[msgspec.Raw], refused: int | None) -> None:
        """A region with unusual items: decode the ordinary runs between them together.

        `refused` is the first unusual element; after a few of them the rest
        is taken one by one (each retry decodes the rest of the region again).
        """
        start = 0
        for _ in range(_REGION_RETRIES):
            if refused is None:
                break
            if refused:  # the elements before the refused one decode (msgspec goes in order)
                self._feed_envelopes(first + start, _decode_envelopes(raws[start:start + refused]))
            self._feed_raw(first + start + refused, raws[start + refused])
            start += refused + 1
            rest = raws[start:]
            if not rest:
                return
            try:
                envelopes = _decode_envelopes(rest)
            except msgspec.ValidationError as refusal:
                refused = fastpath.failed_element(refusal)
                continue
            self._feed_envelopes(first + start, envelopes)
            return
        for item, raw in enumerate(raws[start:], first + start):
            self._feed_raw(item, raw)

    def _feed_raw(self, item: int, raw: msgspec.Raw) -> None:
        try:
            envelope = fastpath.ITEM_DECODER.decode(raw)
        except fastpath.FastError:
            self._check_raw(item, bytes(raw))
            return
        kind = envelope.kind
        settle = self.plain.by_kind.get(kind)
        if settle is None or not settle(envelope.item):
            self._accept(item, kind, fastpath.as_item_dict(envelope.item), None)

    # -- the precise path: decoded values ----------------------------------------

    def _check_raw(self, item: int, raw: bytes) -> None:
        """The precise path for an item the fast path passed on."""
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            message, where = describe_json_error(raw, exc)
            line, offset = self._where(item)
            self.parse_error(Problem(f"parse error: {message} at byte offset {offset + where}",
                                     item, line, offset))
            return
        self._check(item, value)

    def _check(self, item: int, value: Any) -> None:
        """Envelope, (JSON Lines) its keys and order, decoding; then `_accept`."""
        try:
            kind, body = open_envelope(value, self.type_names, self.body_key)
        except NoEnvelope as why:
            self._parse_problem(str(why), item)
            return
        if self.jsonl:
            if len(value) > 2:  # a key beside "type" and "data"
                self._field_error(extra_key_error(value), item)
            late = self.order.error(kind)
            if late is not None:
                self._field_error(late, item)
            if kind in UNPUBLISHED_KINDS:
                self._unpublished(item, kind, body)
                return
        problem, unknown = cf.check_fields(kind, body, self.rules.tables[kind], jsonl=self.jsonl)
        if problem is None and kind in NESTED_KINDS:
            problem = self.rules.nested_decode_error(kind, body)
        if problem is not None:  # stream-cli could not decode it: no further check
            self._field_error(problem, item)
            return
        self._accept(item, kind, body, unknown)

    # -- one item of known kind, whose fields have their JSON types ---------------

    def _accept(self, item: int, kind: str, body: Any, unknown: list[str] | None) -> None:
        """Field rules, index and references of an item whose fields have their JSON types.

        `unknown`: its fields no rule names (None from the fast path: there are none).
        """
        facts = FACTS[kind](body)
        problem = self._field_rules[kind](body, facts)
        if problem is None and (unknown or self.jsonl):
            problem = self.rules.beyond_fields_error(kind, body, unknown)
        if problem is None:
            # A distinct channel keeps where it is, for the completeness pass.
            problem = (self.index.add_channel(facts, item, self._where) if kind == "channel"
                       else self._add[kind](facts))
        if problem is not None:
            self._field_error(problem, item)
        found = self._references[kind](facts)
        if found is DEFER:  # it may name an item further on
            self.references.park(item, *self._where(item), kind, facts)
        elif found:
            self.references.record(item, *self._where(item), found)

    def _unpublished(self, item: int, kind: str, body: dict[str, Any]) -> None:
        """A poll or vote: no schema is published, so only its envelope and id are checked."""
        warning = self.unpublished.warning(kind)
        if warning is not None:
            self.schema_warnings.append((False, Problem(warning, item, *self._where(item))))
        found = self.unpublished.add(kind, body)
        if found is not None:
            self._field_error(found[1], item)

    def index_item(self, kind: str, facts: Facts) -> str | None:
        """Index an item of any kind but channel; the duplicate error, or None."""
        return self._add[kind](facts)

    def _field_error(self, message: str, item: int) -> None:
        self.field_errors.add(Problem(f"validation error: {message}", item, *self._where(item)))

    def _parse_problem(self, message: str, item: int) -> None:
        self.field_errors.add(Problem(f"parse error: {message}", item, *self._where(item)))

    # -- the end of the file ---------------------------------------------------

    def finish(self) -> Result:
        return chat_result(self.findings())

    def findings(self) -> Findings:
        """Check the parked items, then the distinct channels: what the whole file holds."""
        self.references.check_parked()
        logs = self.references.logs()
        errors, warnings = completeness_findings(self.index, strict=self.strict,
                                                 limit=self.options.max_errors,
                                                 before=self.schema_warnings)
        stats = self.index.stats(jsonl=self.jsonl)
        if self.jsonl:
            stats.update(self.unpublished.stats())
        return Findings(
            jsonl=self.jsonl, field_errors=self.field_errors,
            reference_errors=[log.errors for log in logs],
            reference_warnings=[log.warnings for log in logs],
            completeness_errors=errors, completeness_warnings=warnings, stats=stats,
        )
