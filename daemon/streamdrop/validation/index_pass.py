"""The index a full check of part of a chat file would leave, built several times faster.

The parallel validation's helper needs, before it checks the second part of
a file, the index of ids the first part leaves. When no item of the first
part has a field or parse error (the only case its work is used), every item
is indexed, so the index follows from the ids alone: items are decoded into
structs of just the fields the index reads (msgspec, in C), and indexed by
the same `ChatIndex` methods the validator uses, messages and reactions
(most of a file) inline. Members of distinct channels are ticked off by the
validator's own reference check. Anything that cannot be taken as valid is
`trouble`, and the helper's work is then not used.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Final, Union

import msgspec

from streamdrop.validation.chat import ChatValidator
from streamdrop.validation.chat_envelope import (
    ARRAY_TYPE_NAMES,
    JSONL_TYPE_NAMES,
    UNPUBLISHED_KINDS,
    NoEnvelope,
    open_envelope,
)
from streamdrop.validation.chat_facts import FACTS
from streamdrop.validation.chat_index import SEP
from streamdrop.validation.model import Problem
from streamdrop.validation.reader import CHUNK_SIZE, Locate, Readable, Start

# The fields of each kind that its facts (chat_facts) read.
_FIELDS: Final = {
    "user": ("id", "role", "channel_mutes", "user_mutes", "teams"),
    "device": ("id", "user_id"),
    "channel": ("type", "id", "member_ids", "created_by", "team"),
    "member": ("channel_type", "channel_id", "channel_member_ids", "user_id"),
    "message": ("id", "parent_id"),
    "reaction": ("message_id", "user_id", "type"),
    "future_channel_ban": ("target_id", "created_by"),
}


def _decoder(type_names: dict[str, str], body_key: str) -> msgspec.json.Decoder[list[Any]]:
    envelopes = []
    for name, kind in type_names.items():
        body = msgspec.defstruct(f"{kind}_ids",
                                 [(f, Any, None) for f in _FIELDS.get(kind, ())], gc=False)
        envelope = msgspec.defstruct(f"{name}_envelope", [(body_key, body)], tag_field="type",
                                     tag=name, gc=False)
        envelope.kind = kind  # type: ignore[attr-defined]
        envelopes.append(envelope)
    return msgspec.json.Decoder(list[Union[tuple(envelopes)]])  # type: ignore[misc]  # noqa: UP007


_DECODERS: Final = {False: _decoder(ARRAY_TYPE_NAMES, "item"),
                    True: _decoder(JSONL_TYPE_NAMES, "data")}


class IndexOnly:
    """A consumer of the readers that only indexes (see the module's docstring)."""

    def __init__(self, validator: ChatValidator) -> None:
        self.validator = validator
        self.decoder = _DECODERS[validator.jsonl]
        self.body_key = validator.body_key
        self.trouble: str | None = None

    def parse_error(self, problem: Problem) -> None:
        self.trouble = f"a parse error: {problem.message}"

    # -- decoded values (items the reader took one by one) ------------------------

    def feed(self, item: int, line: int, offset: int, value: Any) -> None:
        self._index_value(item, value, lambda _: (line, offset))

    def feed_many(self, first: int, values: list[Any], locate: Locate) -> None:
        for k, value in enumerate(values):
            self._index_value(first + k, value, lambda _, k=k: locate(k))  # type: ignore[misc]

    def _index_value(self, item: int, value: Any, where: Locate) -> None:
        if self.trouble:
            return
        validator = self.validator
        try:
            kind, body = open_envelope(value, validator.type_names, validator.body_key)
        except NoEnvelope as exc:
            self.trouble = str(exc)
            return
        if validator.jsonl and validator.order.error(kind):
            self.trouble = f"item {item} is out of order"
            return
        self._index(item, kind, body, where)

    # -- regions decoded straight into structs ----------------------------------------

    def feed_region(self, first: int, region: bytes, locate: Locate) -> int:
        """Index a region's items; msgspec.DecodeError when it is not well-formed JSON."""
        try:
            envelopes = self.decoder.decode(b"[" + region + b"]")
        except msgspec.ValidationError as exc:
            self.trouble = f"an item that cannot be valid: {exc}"
            return len(msgspec.json.decode(b"[" + region + b"]"))
        self.index_envelopes(first, envelopes, locate)
        return len(envelopes)

    def index_envelopes(self, first: int, envelopes: list[Any], locate: Locate) -> None:
        if self.trouble:
            return
        validator = self.validator
        index = validator.index
        messages, replies, reactions = index.messages, index.replies, index.reactions
        order = validator.order if validator.jsonl else None
        body_key = self.body_key
        for item, envelope in enumerate(envelopes, first):
            kind = envelope.kind
            body = getattr(envelope, body_key)
            if order is not None and order.error(kind):
                self.trouble = f"item {item} is out of order"
                return
            if kind == "message":
                message_id = body.id or ""
                if message_id in messages:
                    self.trouble = f"item {item}: a duplicate message"
                    return
                messages.add(message_id)
                if body.parent_id:
                    replies.add(message_id)
            elif kind == "reaction":
                key = f"{body.message_id or ''}{SEP}{body.type or ''}{SEP}{body.user_id or ''}"
                if key in reactions:
                    self.trouble = f"item {item}: a duplicate reaction"
                    return
                reactions.add(key)
            else:
                self._index(item, kind, msgspec.structs.asdict(body),
                            lambda _, k=item - first: locate(k))  # type: ignore[misc]
                if self.trouble:
                    return

    def _index(self, item: int, kind: str, body: dict[str, Any], where: Locate) -> None:
        validator = self.validator
        if kind in UNPUBLISHED_KINDS:  # their own ids and warnings: not worth the handover
            self.trouble = f"item {item} is a {kind}"
            return
        try:
            facts = FACTS[kind](body)
            if kind == "channel":
                problem = validator.index.add_channel(facts, item, where)
            else:
                problem = validator.index_item(kind, facts)
            if problem is None and kind == "member":
                validator.references.member(facts)  # ticks off a distinct channel's member
        except (TypeError, AttributeError) as exc:  # a field of the wrong type
            problem = str(exc)
        if problem:
            self.trouble = f"item {item} cannot be indexed as valid: {problem}"


def index_lines(indexer: IndexOnly, file: Readable, start: Start) -> int:
    """Index a JSON Lines part a chunk of lines at a time; the number of the item after it."""
    item, line, offset = start.item, start.line, start.offset
    rest = b""
    while not indexer.trouble:
        chunk = file.read(CHUNK_SIZE)
        data = rest + chunk
        cut = data.rfind(b"\n") + 1 if chunk else len(data)
        lines = data[:cut].split(b"\n")
        if chunk:
            lines.pop()  # the empty string after the last newline
        rest = data[cut:]
        kept = [n for n, raw in enumerate(lines) if raw.strip()]
        try:
            envelopes = indexer.decoder.decode(b"[" + b",".join(lines[n] for n in kept) + b"]")
        except msgspec.DecodeError as exc:
            indexer.trouble = f"a line that cannot be valid: {exc}"
            break
        indexer.index_envelopes(item, envelopes, _line_locator(lines, kept, line, offset))
        item += len(kept)
        line += len(lines)
        offset += sum(map(len, lines)) + len(lines)
        if not chunk:
            break
    return item


def _line_locator(lines: list[bytes], kept: list[int], line: int,
                  offset: int) -> Callable[[int], tuple[int, int]]:
    """(line, offset) of the k-th kept line, worked out only when asked."""
    starts: list[int] = []

    def locate(k: int) -> tuple[int, int]:
        if not starts:
            starts.extend(itertools.accumulate((len(raw) + 1 for raw in lines), initial=offset))
        return line + kept[k], starts[kept[k]]

    return locate
