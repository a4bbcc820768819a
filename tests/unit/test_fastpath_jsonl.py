"""The JSON Lines fast path changes speed, never verdicts: same file, same result without it.

`ChatValidator.feed_lines` (msgspec structs, `fastpath_jsonl`, and the
settlers of `chat_plain`) takes ordinary lines; the precise path (the
reader's `_line`: orjson, the duplicate-key check, `ChatValidator.feed`)
takes the rest. Refusing every line (`feed_lines` returning where it
started) gives the precise path's verdict, which the fast one must equal:
errors with their lines and offsets, warnings, counts and stats.

The files are a small valid export (`bench.generate`, every kind of item)
changed a little, as JSON (fields set to values the rules care about, or
dropped; items copied, moved, retyped) and as bytes (duplicate keys, blank
lines, CRLF, a BOM, spaces before colons, broken lines), and items drawn
from scratch (`test_fastpath.ITEMS`) as JSON Lines.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.test_fastpath import ITEMS

from streamdrop.validation import Options, reader
from streamdrop.validation.chat import ChatValidator
from streamdrop.validation.run import validate_file


def _base_items() -> list[dict[str, Any]]:
    """A small valid JSON Lines file with every kind of item: teams, distinct channels, threads."""
    from bench.generate import ChatFile

    return [{"type": kind, "data": body} for kind, body in ChatFile(60_000, seed=5).items()]


BASE = _base_items()
USERS_IN_BASE = sorted({i["data"]["id"] for i in BASE if i["type"] == "user"})[:12]
TIMES = ["2024-01-01T00:00:00Z", "2024-02-29T12:00:00.25Z", "2024-02-30T00:00:00Z",
         "2024-01-01T00:00:00+01:00", "2024-01-01t00:00:00z", "", "yesterday"]
ATTACHMENT = {"type": "image", "image_url": "https://cdn.example.com/a.png"}
POOLS: dict[str, list[Any]] = {
    "user": [*USERS_IN_BASE, "user-9999999", "", "bad id", "x" * 256],
    "ids": ["message-000000000", "message-000000007", "message-000000010", "message-9",
            "channel-000000", "channel-000001", "channel-999999", "", "x" * 256, "c@1"],
    "parents": ["message-000000000", "message-000000008", "message-000000019", "", "nope"],
    "teams": [["team-0"], ["team-1", "team-0"], [], "team-0", [None]],
    "members": [USERS_IN_BASE[:2], USERS_IN_BASE[1:3], ["user-9999999"], [], [USERS_IN_BASE[0]]],
    "words": ["messaging", "livestream", "", "regular", "reply", "deleted", "system", "error",
              "like", "a+b:c.d-e", "bad type", "x" * 31, "x" * 65, "team-0", "user", "admin"],
    "times": TIMES,
    "text": ["hi", "long " * 40, "é" * 151, 'he said "no": fine'],
    "flags": [True, False, "yes", 1],
    "urls": ["https://cdn.example.com/x.png", "http://cdn.example.com/x.png", ""],
    "attachments": [[ATTACHMENT], [{**ATTACHMENT, "image_url": "http://x"}],
                    [ATTACHMENT] * 31, [{"type": ""}], [{**ATTACHMENT, "size": 2**64}],
                    [{**ATTACHMENT, "size": 12, "custom": "x" * 5200}], [None], [{"type": None}]],
    "custom": ["x" * 5100, "x" * 5108, "x" * 5109, "x" * 5110, "é" * 2555, {"deep": {"er": 1}},
               1e15, 2**70, [1, 2]],
    "objects": [{}, {"chat_level": "all"}, {"chat_level": "some"}, {"a": "b"}, {"a": 1}],
    "junk": [None, 1, True, {}, ["x"], 1.5],
}
FIELD_POOLS = {
    "user": "user", "user_id": "user", "created_by": "user", "target_id": "user",
    "pinned_by_id": "user", "id": "ids", "parent_id": "parents", "channel_id": "ids",
    "message_id": "ids", "quoted_message_id": "ids", "teams": "teams", "team": "words",
    "member_ids": "members", "channel_member_ids": "members", "mentioned_users_ids": "members",
    "channel_mutes": "teams", "user_mutes": "members", "blocked_user_ids": "members",
    "channel_type": "words", "type": "words", "role": "words", "channel_role": "words",
    "created_at": "times", "deleted_at": "times", "pinned_at": "times", "pin_expires": "times",
    "last_read": "times", "invite_accepted_at": "times", "invite_rejected_at": "times",
    "updated_at": "times", "truncated_at": "times", "archived_at": "times", "text": "text",
    "invited": "flags", "show_in_channel": "flags", "frozen": "flags", "invisible": "flags",
    "hide_channel": "flags", "is_moderator": "flags", "disabled": "flags",
    "attachments": "attachments", "name": "custom", "extra": "custom",
    "push_preferences": "objects", "teams_role": "objects", "privacy_settings": "objects",
    "push_provider_type": "words", "pk": "junk", "online": "junk",
}
TYPES = ["user", "device", "channel", "member", "channel_member", "message", "reaction",
         "future_channel_ban", "poll", "poll_vote", "nope", 7, None]


def verdict(data: bytes, *, fast: bool, max_item_bytes: int | None = None) -> dict[str, Any]:
    options = Options(roles=frozenset({"user"}), channel_types={"messaging": 150},
                      **({} if max_item_bytes is None else {"max_item_bytes": max_item_bytes}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "CHUNK_SIZE", 4096)  # many chunks, lines cut by their ends
        if not fast:
            patch.setattr(ChatValidator, "feed_lines", None)  # the reader's line-by-line loop
        result = validate_file(io.BytesIO(data), len(data), options, "chat-jsonl").to_json()
    _assert_true_positions(data, result)
    return result


def _assert_true_positions(data: bytes, result: dict[str, Any]) -> None:
    """Each problem's line and offset are where its line starts (or the file's content)."""
    text = data.removeprefix(b"\xef\xbb\xbf")
    start = len(data) - len(text.lstrip(b" \t\r\n"))  # where reading starts (`sniff`)
    for problem in [*(result["Errors"] or ()), *result.get("Warnings", ())]:
        line, offset = problem["line"], problem["offset"]
        if (line, offset) in ((0, 0), (1, 0)):
            continue
        assert offset == start or data[offset - 1:offset] == b"\n", problem
        assert line == data.count(b"\n", 0, offset) + 1, problem


def encode(item: Any, *, twin: str | None = None, spaced: bool = False) -> bytes:
    """One line; `twin`: that key of "data" written twice (its value, or junk, first)."""
    if twin is None or type(item) is not dict or type(item.get("data")) is not dict:
        separators = (",", " : ") if spaced else (",", ":")
        return json.dumps(item, separators=separators, ensure_ascii=spaced).encode()
    body = item["data"]
    pairs = [_pair(twin, body.get(twin, 1)), *(_pair(k, v) for k, v in body.items())]
    if twin not in body:
        pairs.append(_pair(twin, 2))
    envelope = {k: v for k, v in item.items() if k != "data"}
    head = json.dumps(envelope, separators=(",", ":"))[:-1]
    return f'{head}{"," if envelope else ""}"data":{{{",".join(pairs)}}}}}'.encode()


def _pair(key: str, value: Any) -> str:
    return f"{json.dumps(key)}:{json.dumps(value)}"


@st.composite
def changed_items(draw: st.DrawFn, items: list[dict[str, Any]]) -> list[Any]:
    """The items with a few changes a validator cares about (see POOLS)."""
    items = list(items)
    for _ in range(draw(st.integers(1, 5))):
        position = draw(st.integers(0, len(items) - 1))
        if draw(st.booleans()):  # messages are most items: give the other kinds a chance
            others = [n for n, i in enumerate(items) if _has_body(i) and i["type"] != "message"]
            position = draw(st.sampled_from(others or [position]))
        items = _change(draw, items, position)
    return items


def _change(draw: st.DrawFn, items: list[Any], position: int) -> list[Any]:
    operation = draw(st.sampled_from(["set", "set", "set", "set", "drop", "copy", "move",
                                      "retype", "envelope"]))
    item = items[position]
    if operation in ("copy", "move"):
        if operation == "move":
            del items[position]
        items.insert(draw(st.integers(0, len(items))), item)
        return items
    if not _has_body(item):  # an earlier change broke its envelope
        return items
    if operation == "retype":
        items[position] = {**item, "type": draw(st.sampled_from(TYPES))}
        return items
    if operation == "envelope":
        items[position] = draw(st.sampled_from([
            {**item, "extra": 1}, {"type": item["type"]}, {**item, "data": []},
            {**item, "data": None}, [item], "x"]))
        return items
    body = dict(item["data"])
    if operation == "drop":
        if body:
            del body[draw(st.sampled_from(sorted(body)))]
    else:
        own = sorted(body) or sorted(FIELD_POOLS)
        name = draw(st.sampled_from(own) | st.sampled_from(own) | st.sampled_from(
            sorted(FIELD_POOLS)))
        pool = POOLS[FIELD_POOLS.get(name, "junk")]
        body[name] = draw(st.sampled_from(pool) | st.sampled_from(pool) | st.sampled_from(
            POOLS["junk"]))
    items[position] = {**item, "data": body}
    return items


@st.composite
def jsonl_files(draw: st.DrawFn, items: Any) -> bytes:
    """The items as JSON Lines, with a few byte-level oddities."""
    values = draw(items)
    lines = [encode(v, spaced=draw(st.integers(0, 19)) == 0) for v in values]
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(lines)))
        oddity = draw(st.sampled_from(["twin", "twin", "blank", "broken", "two", "padded"]))
        if oddity == "blank":
            lines.insert(position, draw(st.sampled_from([b"", b"  ", b"\r", b"\t "])))
            continue
        position = min(position, len(lines) - 1)
        if position < 0:
            continue
        if oddity == "twin" and position < len(values):
            keys = sorted(values[position]["data"]) if _has_body(values[position]) else []
            lines[position] = encode(values[position], twin=draw(st.sampled_from(
                [*keys, "id", "custom"])))
        elif oddity == "broken":
            lines[position] = lines[position][: draw(st.integers(0, len(lines[position])))]
        elif oddity == "two":
            lines[position] = lines[position] + b" " + lines[position]
        else:
            lines[position] = b"  " + lines[position] + b" "
    newline = draw(st.sampled_from([b"\n", b"\n", b"\r\n"]))
    bom = draw(st.sampled_from([b"", b"", b"", b"\xef\xbb\xbf"]))
    end = draw(st.sampled_from([newline, b"", newline + newline]))
    return bom + newline.join(lines) + end


def _has_body(value: Any) -> bool:
    return type(value) is dict and type(value.get("data")) is dict


def _as_jsonl(value: Any) -> Any:
    """An array item of `test_fastpath.ITEMS` as a JSON Lines item."""
    if type(value) is dict and "item" in value:
        return {**{k: v for k, v in value.items() if k != "item"}, "data": value["item"]}
    return value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), small_items=st.integers(0, 9))
def test_a_valid_file_changed_a_little_gets_the_same_verdict_on_both_paths(
    data: st.DataObject, small_items: int,
) -> None:
    content = data.draw(jsonl_files(changed_items(BASE)))  # drawn here: BASE has a long repr
    limit = 300 if small_items == 0 else None  # some lines too long: read the precise way
    assert verdict(content, fast=True, max_item_bytes=limit) == verdict(
        content, fast=False, max_item_bytes=limit)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=jsonl_files(st.lists(ITEMS.map(_as_jsonl), min_size=1, max_size=30)))
def test_items_drawn_from_scratch_get_the_same_verdict_on_both_paths(content: bytes) -> None:
    assert verdict(content, fast=True) == verdict(content, fast=False)


def _changed(position: int, **fields: Any) -> list[Any]:
    items: list[Any] = list(BASE)
    items[position] = {**items[position], "data": {**items[position]["data"], **fields}}
    return items


def _position(kind: str, test: Any = lambda body: True) -> int:
    return next(n for n, i in enumerate(BASE) if i["type"] == kind and test(i["data"]))


def _lines(items: list[Any]) -> bytes:
    return b"".join(encode(item) + b"\n" for item in items)


FIRST_MESSAGE = _position("message")
EDGE_FILES = {
    "reply without a parent": _changed(FIRST_MESSAGE, type="reply"),
    "show_in_channel without a parent": _changed(FIRST_MESSAGE, show_in_channel=True),
    "an empty pinned_by_id alone": _changed(FIRST_MESSAGE, pinned_by_id=""),
    "both channel fields of a message": _changed(FIRST_MESSAGE, channel_member_ids=[]),
    "an http attachment": _changed(FIRST_MESSAGE, attachments=[{"type": "image",
                                                                "image_url": "http://x/y"}]),
    "an integer past 64 bits": _changed(FIRST_MESSAGE, attachments=[
        {"type": "image", "original_width": 2**64}]),
    "31 attachments": _changed(FIRST_MESSAGE, attachments=[{"type": "file"}] * 31),
    "a null field": _changed(FIRST_MESSAGE, text=None),
    "an acceptance without invitation": _changed(_position("member"),
                                                 invite_accepted_at="2024-01-01T00:00:00Z"),
    "both channel fields of a member": _changed(
        _position("member", lambda b: "channel_id" in b), channel_member_ids=[]),
    "custom data over 5 KiB": _changed(FIRST_MESSAGE, note="x" * 5200),
    "a message before a user": [BASE[FIRST_MESSAGE], *BASE],
    "a user after the messages": [*BASE, {"type": "user", "data": {"id": "late"}}],
    "a message twice": [*BASE, BASE[FIRST_MESSAGE]],
    "a reaction by nobody": _changed(_position("reaction"), user_id="user-9999999"),
}


@pytest.mark.parametrize("name", sorted(EDGE_FILES))
def test_edge_files_get_the_same_verdict_on_both_paths(name: str) -> None:
    content = _lines(EDGE_FILES[name])
    fast = verdict(content, fast=True)
    assert fast["Errors"] or fast.get("Warnings"), "each edge file has something to report"
    assert fast == verdict(content, fast=False)


@pytest.mark.parametrize("twin", ["id", "text", "custom"])
def test_a_key_twice_is_found_on_the_fast_path_too(twin: str) -> None:
    lines = [encode(item) for item in BASE]
    lines[FIRST_MESSAGE] = encode(BASE[FIRST_MESSAGE], twin=twin)
    content = b"\n".join(lines) + b"\n"
    fast = verdict(content, fast=True)
    assert any("appears twice" in error["error"] for error in fast["Errors"])
    assert fast == verdict(content, fast=False)


TWIN_LINES = [  # keys twice with a space before the colon: not counted as twice
    b'{"type":"user","data":{"id":"late"},"type" : "message"}',
    b'{"type" : "message","type":"user","data":{"id":"late"}}',
    b'{"type":"user","data" : {"id":"late"},"data" : {"id":"later"}}',
    b'{"type":"user","data" : {"id":null},"data" : {"id":"later"}}',
    b'{"type":"reaction","data":{"message_id" : "m1","message_id" : "message-000000000",'
    b'"user_id":"user-0000000","type":"like","created_at":"2024-01-01T00:00:00Z"}}',
]


@pytest.mark.parametrize("twin", TWIN_LINES)
def test_a_spaced_key_twice_gets_the_same_verdict_on_both_paths(twin: bytes) -> None:
    position = _position("channel")
    lines = [encode(item) for item in BASE]
    content = b"\n".join([*lines[:position], twin, *lines[position:], twin]) + b"\n"
    assert verdict(content, fast=True) == verdict(content, fast=False)


def test_the_base_file_is_valid_and_mostly_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[int] = []
    original = ChatValidator.feed_lines

    def spy(self: ChatValidator, lines: list[bytes], start: int, item: int, locate: Any) -> int:
        stop = original(self, lines, start, item, locate)
        taken.append(stop - start)
        return stop

    monkeypatch.setattr(ChatValidator, "feed_lines", spy)
    content = _lines(BASE)
    result = validate_file(io.BytesIO(content), len(content), Options(), "chat-jsonl")
    assert result.valid
    custom = sum(1 for item in BASE if "name" in item["data"])  # the precise path's
    assert sum(taken) == len(BASE) - custom
