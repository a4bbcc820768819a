"""Splitting chat files into parts: each valid alone, nothing lost, references backward."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from bench.generate import ChatFile

from streamdrop.validation import Options, validate_path
from streamdrop.validation.chat_envelope import ITEM_ORDER
from streamdrop.validation.chat_index import channel_key
from streamdrop.validation.parts import (
    SplitRefused,
    convert_path,
    manifest_name,
    split_path,
)

Item = tuple[str, dict[str, Any]]


class _Raw(msgspec.Struct):
    type: str
    data: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b""))
    item: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b""))


def chat_items(target_bytes: int = 200_000) -> list[Item]:
    """A realistic file's items: teams, distinct channels, threads, reactions."""
    return list(ChatFile(target_bytes, seed=3).items())


def with_early_replies(items: list[Item]) -> list[Item]:
    """The array format allows a reply before its thread's parent: move two parents back."""
    messages = [i for i, (kind, _) in enumerate(items) if kind == "message"]
    moved = []
    for index in messages:
        parent = items[index][1]
        if parent["id"].endswith("0") and len(moved) < 2 and index > messages[20]:
            moved.append(index)
    parents = [items[i] for i in moved]
    rest = [item for i, item in enumerate(items) if i not in moved]
    # Each parent goes to the very end of the messages: after its replies.
    last_message = max(i for i, (kind, _) in enumerate(rest) if kind == "message")
    return rest[:last_message + 1] + parents + rest[last_message + 1:]


def write_array(path: Path, items: list[Item], indent: bool = False) -> None:
    records = [{"type": kind, "item": body} for kind, body in items]
    path.write_bytes(json.dumps(records, indent=2 if indent else None).encode()
                     if indent else b"[\n" + b",\n".join(map(orjson.dumps, records)) + b"\n]\n")


def write_jsonl(path: Path, items: list[Item]) -> None:
    path.write_bytes(b"".join(orjson.dumps({"type": kind, "data": body}) + b"\n"
                              for kind, body in items))


def read_part(path: Path) -> list[Item]:
    return [(line["type"], line["data"]) for line in map(orjson.loads, path.read_bytes()
                                                         .splitlines())]


def canonical(items: list[Item]) -> Counter[tuple[str, bytes]]:
    return Counter((kind, orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
                   for kind, body in items)


def _channel_of(body: dict[str, Any], type_field: str, id_field: str,
                members_field: str) -> str:
    return channel_key(body[type_field], body.get(id_field) or "", body.get(members_field) or [])


def check_placement(parts: list[list[Item]]) -> None:
    """Everything an item names is in its part (before it) or an earlier part; distinct
    channels with all their members in one part; each part in Stream's item order."""
    users: set[str] = set()
    channels: set[str] = set()
    messages: set[str] = set()
    for number, items in enumerate(parts, 1):
        ranks = [ITEM_ORDER.index(kind) for kind, _ in items]
        assert ranks == sorted(ranks), f"part {number} is not in Stream's item order"
        distinct_here: dict[str, set[str]] = {}
        for kind, body in items:
            where = f"part {number}: {kind} {body.get('id', '')}"
            if kind == "user":
                users.add(body["id"])
            elif kind == "device":
                assert body["user_id"] in users, where
            elif kind == "channel":
                assert body["created_by"] in users, where
                key = _channel_of(body, "type", "id", "member_ids")
                channels.add(key)
                if body.get("member_ids"):
                    distinct_here[key] = set(body["member_ids"])
            elif kind == "member":
                key = _channel_of(body, "channel_type", "channel_id", "channel_member_ids")
                assert key in channels and body["user_id"] in users, where
                if body.get("channel_member_ids"):
                    assert key in distinct_here, f"{where}: not with its distinct channel"
                    distinct_here[key].discard(body["user_id"])
            elif kind == "message":
                key = _channel_of(body, "channel_type", "channel_id", "channel_member_ids")
                assert key in channels and body["user"] in users, where
                if body.get("parent_id"):
                    assert body["parent_id"] in messages, f"{where}: before its parent"
                messages.add(body["id"])
            elif kind == "reaction":
                assert body["message_id"] in messages and body["user_id"] in users, where
        assert not any(distinct_here.values()), f"part {number}: distinct members elsewhere"
        for kind, body in items:  # a part may name what comes later in the same part
            if kind == "user":
                assert set(body.get("user_mutes", [])) <= users, f"part {number}: {body}"
                assert {channel_key(*cid.split(":"), ()) for cid in body.get("channel_mutes", [])
                        } <= channels, f"part {number}: {body}"


def split_and_check(source: Path, out: Path, max_bytes: int) -> list[list[Item]]:
    manifest = split_path(source, out, max_bytes)
    written = json.loads((out / manifest_name(source)).read_text())
    assert written == manifest.to_json()
    parts = []
    for entry in written["parts"]:
        path = out / entry["name"]
        assert path.stat().st_size == entry["bytes"] <= max_bytes
        result = validate_path(path)
        assert result.valid, (entry["name"], result.errors[:3])
        # What a part names in earlier parts is only a warning, never an error (and polls
        # get the validator's one warning that Stream publishes no schema for them).
        assert all("in this file" in w.message or w.message.startswith("schema warning")
                   for w in result.warnings)
        items = read_part(path)
        assert entry["items"] == dict(Counter(kind for kind, _ in items))
        parts.append(items)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [e["name"] for e in written["parts"]] + [manifest_name(source)])  # no leftovers
    return parts


@pytest.mark.parametrize("layout", ["jsonl", "array", "pretty"])
def test_parts_are_valid_alone_and_hold_every_item_once(tmp_path: Path, layout: str) -> None:
    items = chat_items()
    if layout != "jsonl":
        items = with_early_replies(items)
    source = tmp_path / ("chat.jsonl" if layout == "jsonl" else "chat.json")
    if layout == "jsonl":
        write_jsonl(source, items)
    else:
        write_array(source, items, indent=layout == "pretty")
    assert validate_path(source).valid
    parts = split_and_check(source, tmp_path / "parts", 30_000)
    assert len(parts) > 5
    check_placement(parts)
    assert canonical([item for part in parts for item in part]) == canonical(items)


def test_reactions_at_a_part_edge_follow_their_messages(tmp_path: Path) -> None:
    items = chat_items()
    source = tmp_path / "chat.jsonl"
    write_jsonl(source, items)
    parts = split_and_check(source, tmp_path / "parts", 25_000)
    starts_with_reactions = [n for n, part in enumerate(parts) if part[0][0] == "reaction"]
    assert starts_with_reactions, "no part edge fell among the reactions"
    check_placement(parts)


def test_array_objects_keep_their_bytes(tmp_path: Path) -> None:
    items = chat_items(60_000)
    source = tmp_path / "chat.json"
    write_array(source, items)
    split_path(source, tmp_path / "parts", 20_000)
    raw_source = msgspec.json.decode(source.read_bytes(), type=list[_Raw])
    written = [msgspec.json.decode(line, type=_Raw)
               for part in sorted((tmp_path / "parts").glob("*.jsonl"))
               for line in part.read_bytes().splitlines()]
    assert Counter((r.type, bytes(r.item)) for r in raw_source) == Counter(
        (w.type, bytes(w.data)) for w in written)


def test_a_distinct_channel_and_its_members_share_a_part(tmp_path: Path) -> None:
    users = [("user", {"id": f"u{n}"}) for n in range(40)]
    channel = ("channel", {"type": "messaging", "member_ids": [f"u{n}" for n in range(40)],
                           "created_by": "u0"})
    regular = [("channel", {"type": "messaging", "id": f"c{n}", "created_by": "u1"})
               for n in range(30)]
    members = [("member", {"channel_type": "messaging",
                           "channel_member_ids": [f"u{n}" for n in range(40)],
                           "user_id": f"u{n}"}) for n in range(40)]
    regular_members = [("member", {"channel_type": "messaging", "channel_id": f"c{n}",
                                   "user_id": "u2"}) for n in range(30)]
    items = [*users, *regular[:15], channel, *regular[15:], *regular_members[:10], *members,
             *regular_members[10:]]
    source = tmp_path / "distinct.jsonl"
    write_jsonl(source, items)
    assert validate_path(source).valid
    parts = split_and_check(source, tmp_path / "parts", 16_000)
    check_placement(parts)
    holding = [n for n, part in enumerate(parts) if ("channel", channel[1]) in part]
    assert len(holding) == 1
    assert sum(kind == "member" and "channel_member_ids" in body
               for kind, body in parts[holding[0]]) == 40


@pytest.mark.parametrize("layout", ["jsonl", "array"])
def test_an_item_bigger_than_a_part_is_refused_with_its_place(tmp_path: Path,
                                                               layout: str) -> None:
    items = chat_items(20_000)
    users = sum(kind == "user" for kind, _ in items)
    items.insert(users, ("user", {"id": "talker", "bio": "x" * 5_000}))
    source = tmp_path / "chat.json"
    (write_jsonl if layout == "jsonl" else write_array)(source, items)
    with pytest.raises(SplitRefused) as refused:
        split_path(source, tmp_path / "parts", 4_000)
    assert refused.value.item == users
    line = users + 1 if layout == "jsonl" else users + 2
    assert f"user item {users} is" in str(refused.value)
    assert f"(line {line}, byte " in str(refused.value)
    assert not (tmp_path / "parts" / manifest_name(source)).exists()


def test_a_distinct_channel_too_big_with_its_members_is_refused(tmp_path: Path) -> None:
    users = [("user", {"id": f"u{n}"}) for n in range(30)]
    ids = [f"u{n}" for n in range(30)]
    items = [*users, ("channel", {"type": "messaging", "member_ids": ids, "created_by": "u0"}),
             *(("member", {"channel_type": "messaging", "channel_member_ids": ids,
                           "user_id": u}) for u in ids)]
    source = tmp_path / "chat.jsonl"
    write_jsonl(source, items)
    with pytest.raises(SplitRefused, match=r"distinct channel item 30 .* \(line 31, byte"):
        split_path(source, tmp_path / "parts", 5_000)


def test_convert_writes_one_jsonl_file_in_streams_order(tmp_path: Path) -> None:
    items = with_early_replies(chat_items(80_000))
    shuffled = [*items[-30:], *items[:-30]]  # reactions first: fine in the array format
    source = tmp_path / "chat.json"
    write_array(source, shuffled, indent=True)
    target = tmp_path / "chat.jsonl"
    manifest = convert_path(source, target)
    assert [p.name for p in manifest.parts] == ["chat.jsonl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chat.json", "chat.jsonl"]
    result = validate_path(target)
    assert result.valid and result.warning_count == 0, result.errors[:3]
    converted = read_part(target)
    check_placement([converted])
    assert canonical(converted) == canonical(items)


def test_feeds_and_broken_files_are_refused(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.jsonl"
    feeds.write_text('{"instruction": "users", "data": []}\n')
    with pytest.raises(SplitRefused, match="only chat files"):
        split_path(feeds, tmp_path / "out", 1_000)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"type": "user", "item": {"id": "a"}}, {"type": "user", "item": {"id"')
    with pytest.raises(SplitRefused, match="not a well-formed chat file"):
        split_path(broken, tmp_path / "out", 1_000)
    for name, data in [("typed.json", b'[{"type": "user", "item": {"id": 5}}]'),
                       ("typed.jsonl", b'{"type": "user", "data": {"id": 5}}\n'),
                       ("no-object.json", b'[{"type": "user", "item": [1]}]')]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(SplitRefused, match=r"not a well-formed chat file: (item 0|line 1)"):
            split_path(tmp_path / name, tmp_path / "out", 1_000)


def test_bans_polls_and_votes_keep_streams_order_across_parts(tmp_path: Path) -> None:
    items = chat_items(30_000)
    users = [body["id"] for kind, body in items if kind == "user"] * 20
    bans = [("future_channel_ban", {"target_id": users[n + 1], "created_by": users[n]})
            for n in range(3)]
    polls = [("poll", {"id": f"p{n}", "name": f"lunch {n}?"}) for n in range(40)]
    votes = [("poll_vote", {"id": f"v{n}", "poll_id": f"p{n % 40}", "user_id": users[n]})
             for n in range(80)]
    first_channel = next(i for i, (kind, _) in enumerate(items) if kind == "channel")
    items = [*items[:first_channel], *bans, *items[first_channel:], *polls, *votes]
    source = tmp_path / "chat.jsonl"
    write_jsonl(source, items)
    assert validate_path(source).valid
    parts = split_and_check(source, tmp_path / "parts", 5_000)
    check_placement(parts)
    kinds = [kind for part in parts for kind, _ in part]
    assert kinds.index("poll_vote") > len(kinds) - 81 and kinds.count("poll") == 40
    assert canonical([item for part in parts for item in part]) == canonical(items)


def muting_items() -> list[Item]:
    """40 users and 10 channels: early users mute later users and channels, whose
    creators come later still (each a chain through the next)."""
    users: list[dict[str, Any]] = [{"id": f"u{n:02d}", "role": "user"} for n in range(40)]
    users[0] |= {"user_mutes": ["u35"], "channel_mutes": ["messaging:c9"]}
    # u35 comes into u00's part: the earlier u10 it mutes must come with it
    users[35] |= {"channel_mutes": ["messaging:c7"], "user_mutes": ["u10"]}
    users[5] |= {"user_mutes": ["u02"]}  # backward: nothing to pull
    channels = [{"id": f"c{n}", "type": "messaging", "created_by": f"u{n:02d}"}
                for n in range(10)]
    channels[9]["created_by"] = "u38"
    channels[7]["created_by"] = "u39"
    messages = [{"id": f"m{n}", "channel_type": "messaging", "channel_id": f"c{n}",
                 "user": f"u{n:02d}", "text": "hello"} for n in range(10)]
    return ([("user", u) for u in users] + [("channel", c) for c in channels]
            + [("message", m) for m in messages])


@pytest.mark.parametrize("layout", ["jsonl", "array"])
def test_what_a_user_mutes_is_pulled_into_its_part(tmp_path: Path, layout: str) -> None:
    items = muting_items()
    source = tmp_path / f"mutes.{'jsonl' if layout == 'jsonl' else 'json'}"
    (write_jsonl if layout == "jsonl" else write_array)(source, items)
    assert validate_path(source, Options(strict_references=True)).valid
    parts = split_and_check(source, tmp_path / "parts", 600)
    assert len(parts) >= 4
    check_placement(parts)
    assert canonical([item for part in parts for item in part]) == canonical(items)
    first = [body["id"] for _, body in parts[0]]
    # u00's mutes, and in turn u35's and the creators of the channels pulled.
    assert {"u00", "u35", "u10", "c9", "c7", "u38", "u39"} <= set(first)


def test_a_user_too_big_with_what_it_pulls_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "mutes.jsonl"
    write_jsonl(source, muting_items())
    with pytest.raises(SplitRefused, match="user item 0 and the users and channels it mutes"):
        split_path(source, tmp_path / "parts", 200)
