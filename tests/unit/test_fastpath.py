"""The fast path changes speed, never verdicts: same file, same result with and without it."""

from __future__ import annotations

import io
import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamdrop.validation import Options, reader
from streamdrop.validation.chat import ChatValidator
from streamdrop.validation.run import validate_file

# Items define the first two ids of a pool; references also name the third,
# which no item defines.
USERS = ["u1", "u2", "u3", "", "bad id", "x" * 256]
CHANNELS = ["c1", "c2", "c3", "", "c@1"]
MESSAGES = ["m1", "m2", "m3", ""]
TIMES = ["2024-01-02T03:04:05Z", "2024-02-29T00:00:00Z", "2024-01-31T10:00:00.5Z",
         "2024-01-02T03:04:05+02:00", "2024-02-30T00:00:00Z", "yesterday", ""]
ANY = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from(["", "x"]),
                st.just([]), st.just({}))


def sometimes(usual: Any, rare: Any, tenths: int = 1) -> Any:
    """`rare` about `tenths` times in ten (hypothesis has no weighted choice)."""
    # hypothesis favours small integers: the rare branch takes the large ones.
    return st.integers(0, 9).flatmap(lambda n: rare if n >= 10 - tenths else usual)


def field(values: Any) -> Any:
    """Mostly well-typed values from a pool, sometimes anything at all."""
    base = values if isinstance(values, st.SearchStrategy) else st.sampled_from(values)
    return sometimes(base, ANY)


def good(values: list[Any]) -> Any:
    """Almost always one of the ids items define: ordinary items reach the fast path."""
    return sometimes(st.sampled_from(values[:2]), field(values))


def ref(values: list[Any]) -> Any:
    """A reference: to an id an item may define, or now and then to one none does."""
    return sometimes(st.sampled_from(values[:3]), field(values))


def item(kind: str, core: dict[str, Any], extras: dict[str, Any]) -> Any:
    """An item with its usual fields (rarely one dropped) and, a third of the time, rarer ones."""
    return st.tuples(
        st.fixed_dictionaries(core),
        sometimes(st.just({}), st.fixed_dictionaries({}, optional=extras), 3),
        sometimes(st.just(set()), st.sets(st.sampled_from(sorted(core)), max_size=1)),
    ).map(lambda parts: {"type": kind, "item": {
        **{k: v for k, v in parts[0].items() if k not in parts[2]}, **parts[1]}})


ids = st.lists(st.sampled_from(USERS[:3]), min_size=1, max_size=3)  # distinct channel members
attachment = st.fixed_dictionaries({"type": good(["image", ""])}, optional={
    "image_url": field(["https://x/y.png"]), "actions": st.just([]),
    "size": field(st.integers(0, 9)), "custom": ANY})
ITEMS = sometimes(st.one_of(
    item("user", {"id": good(USERS)},
         {"role": field(["user", "admin", "", "ghost"]),
          "teams": field(st.lists(st.sampled_from(["t1", "t2"]), max_size=2)),
          "created_at": field(TIMES), "channel_mutes": field([["messaging:c1"], ["x"]]),
          "user_mutes": field(ids), "online": ANY, "name": ANY,
          "push_notifications": field([{"disabled": True}, {"disabled": "no"}])}),
    item("channel", {"id": good(CHANNELS), "type": good(["messaging", "messaging", "", "ghost"]),
                     "created_by": ref(USERS)},
         {"team": field(["t1", "t2"]), "member_ids": field(ids), "cid": ANY, "name": ANY,
          "frozen": field(st.booleans())}),
    item("channel", {"member_ids": ids, "type": good(["messaging", "messaging", "ghost"]),
                     "created_by": ref(USERS)}, {"team": field(["t1", "t2"])}),
    item("member", {"channel_type": good(["messaging", "messaging", ""]),
                    "channel_id": ref(CHANNELS),
                    "user_id": ref(USERS)},
         {"invited": field(st.booleans()), "last_read": field(TIMES),
          "channel_member_ids": field(ids)}),
    item("member", {"channel_type": good(["messaging", "messaging", ""]), "channel_member_ids": ids,
                    "user_id": ref(USERS)}, {"channel_id": field(CHANNELS)}),
    item("message", {"id": good(MESSAGES), "channel_type": good(["messaging", "messaging", ""]),
                     "channel_id": ref(CHANNELS), "user": ref(USERS)},
         {"text": field(["hi", "long " * 40]),
          "type": field(["", "regular", "reply", "deleted", "system", "error"]),
          "parent_id": ref(MESSAGES), "deleted_at": field(TIMES),
          "pinned_at": field(TIMES), "pinned_by_id": field(USERS),
          "pin_expires": field(TIMES),
          "mentioned_users_ids": field(st.lists(ref(USERS), max_size=2)),
          "attachments": field(st.lists(attachment, max_size=2)),
          "created_at": field(TIMES), "tmp_id": ANY, "custom": ANY,
          "channel_member_ids": field(ids)}),
    item("message", {"id": good(MESSAGES), "channel_type": good(["messaging", "messaging", ""]),
                     "channel_member_ids": ids, "user": ref(USERS)},
         {"parent_id": ref(MESSAGES), "text": field(["hi"])}),
    item("reaction", {"message_id": ref(MESSAGES), "user_id": ref(USERS),
                      "type": good(["like", "a+b:c.d-e", "", "bad type", "x" * 31]),
                      "created_at": good(TIMES)},
         {"user": ANY, "score": ANY}),
    item("device", {"id": good(["d1", "d2", ""]), "user_id": ref(USERS),
                    "created_at": good(TIMES),
                    "push_provider_type": good(["apn", "firebase", "nope", ""])}, {}),
), st.sampled_from([{"type": "poll", "item": {}}, {"type": "user"}, 7, {"item": {"id": "u"}}]))


def verdict(data: bytes, *, fast: bool) -> dict[str, Any]:
    options = Options(roles=frozenset({"user"}), channel_types={"messaging": 150})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "BATCH_SIZE", 64)  # regions of a few items, many boundaries
        if not fast:
            def refuse(*_: Any) -> int:
                raise msgspec.DecodeError("the precise path only")
            patch.setattr(ChatValidator, "feed_region", refuse)
        return validate_file(io.BytesIO(data), len(data), options, "chat").to_json()


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(ITEMS, max_size=30), indent=st.sampled_from([None, 1]))
def test_fast_and_precise_paths_give_the_same_verdict(items: list[Any],
                                                      indent: int | None) -> None:
    data = json.dumps(items, indent=indent).encode()
    assert verdict(data, fast=True) == verdict(data, fast=False)


def test_the_fast_path_is_taken_for_ordinary_items(monkeypatch: pytest.MonkeyPatch) -> None:
    users = [{"type": "user", "item": {"id": f"u{n}", "name": "custom is fine"}}
             for n in range(50)]
    data = json.dumps(users).encode()
    seen: list[int] = []
    original = ChatValidator.feed_region

    def spy(self: ChatValidator, first: int, region: bytes, locate: Any) -> int:
        count = original(self, first, region, locate)
        seen.append(count)
        return count

    monkeypatch.setattr(ChatValidator, "feed_region", spy)
    monkeypatch.setattr(reader, "BATCH_SIZE", 256)
    result = validate_file(io.BytesIO(data), len(data), Options(), "chat")
    assert result.valid
    assert sum(seen) > 25  # most users went through regions, not one by one


def _base_items() -> list[dict[str, Any]]:
    """A small valid file with every kind of item: teams, distinct channels, threads."""
    from bench.generate import ChatFile

    return [{"type": kind, "item": body} for kind, body in ChatFile(80_000, seed=3).items()]


BASE = _base_items()
USERS_IN_BASE = sorted({i["item"]["id"] for i in BASE if i["type"] == "user"})[:12]
POOLS = {
    "user": [*USERS_IN_BASE, "user-9999999", "", "bad id"],
    "ids": ["message-000000000", "message-000000007", "message-000000010", "message-9",
            "channel-000000", "channel-000001", "channel-999999", "d-1", "", "x" * 300],
    "teams": [["team-0"], ["team-1", "team-0"], [], None, "team-0"],
    "members": [USERS_IN_BASE[:2], USERS_IN_BASE[1:3], ["user-9999999"], []],
    "words": ["messaging", "livestream", "", "regular", "reply", "deleted", "system", "like",
              "team-0", "team-1", "2024-01-01T00:00:00Z", "2024-02-30T00:00:00Z"],
    "junk": [None, 1, True, {}, ["x"]],
    "text": ["hi", "long " * 40, "é" * 151],
    "parents": ["message-000000000", "message-000000008", "message-000000019", "", "nope"],
}
FIELD_POOLS = {
    "user": "user", "user_id": "user", "created_by": "user", "id": "ids", "parent_id": "parents",
    "channel_id": "ids", "message_id": "ids", "teams": "teams", "team": "words",
    "member_ids": "members", "channel_member_ids": "members", "mentioned_users_ids": "members",
    "channel_type": "words", "type": "words", "created_at": "words", "deleted_at": "words",
    "pinned_at": "words", "role": "words", "online": "junk", "text": "text",
}


@st.composite
def mutations(draw: st.DrawFn, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items = list(items)
    for _ in range(draw(st.integers(1, 5))):
        position = draw(st.integers(0, len(items) - 1))
        if draw(st.booleans()):  # messages are most items: give the other kinds a chance
            others = [n for n, i in enumerate(items) if i.get("type") not in ("message",)]
            position = draw(st.sampled_from(others or [position]))
        operation = draw(st.sampled_from(["set", "set", "set", "drop", "copy"]))
        if operation == "drop":
            del items[position]
        elif operation == "copy":
            items.insert(draw(st.integers(0, len(items))), items[position])
        else:
            body = items[position].get("item", {}) if isinstance(items[position], dict) else {}
            own = sorted(body) if isinstance(body, dict) and body else sorted(FIELD_POOLS)
            name = draw(st.sampled_from(own) | st.sampled_from(own) | st.sampled_from(
                sorted(FIELD_POOLS)))
            pool = POOLS[FIELD_POOLS.get(name, "junk")]
            value = draw(st.sampled_from(pool) | st.sampled_from(pool) | st.sampled_from(
                POOLS["junk"]))
            items[position] = {**items[position], "item": {**body, name: value}}
    return items


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_valid_file_changed_a_little_gets_the_same_verdict_on_both_paths(
    data: st.DataObject,
) -> None:
    items = data.draw(mutations(BASE))
    content = json.dumps(items).encode()
    assert verdict(content, fast=True) == verdict(content, fast=False)


def test_the_base_file_is_valid_and_mostly_fast() -> None:
    assert verdict(json.dumps(BASE).encode(), fast=True)["Errors"] is None


def _changed(position: int, **fields: Any) -> list[dict[str, Any]]:
    items = list(BASE)
    items[position] = {**items[position], "item": {**items[position]["item"], **fields}}
    return items


def _position(kind: str, test: Any = lambda body: True) -> int:
    return next(n for n, i in enumerate(BASE) if i["type"] == kind and test(i["item"]))


EDGE_FILES = {
    "reply to a reply": _changed(_position("message", lambda b: b["id"].endswith("19")),
                                 parent_id="message-000000008"),
    "member outside its distinct channel": _changed(
        _position("member", lambda b: "channel_member_ids" in b), user_id=USERS_IN_BASE[5]),
    "an integer past 64 bits (orjson's float)": _changed(
        _position("message"), attachments=[{"type": "image", "original_width": 2**64}]),
    "text over the limit": _changed(_position("message"), text="long " * 40),
    "member without the channel's team": _changed(
        _position("member", lambda b: "channel_id" in b), user_id="user-0000001"),
    "message by nobody": _changed(_position("message"), user="user-9999999"),
    "reaction twice": [*BASE, BASE[_position("reaction")]],
    "forward reference": [BASE[_position("message")], *BASE],
}


@pytest.mark.parametrize("name", sorted(EDGE_FILES))
def test_edge_files_get_the_same_verdict_on_both_paths(name: str) -> None:
    content = json.dumps(EDGE_FILES[name]).encode()
    fast = verdict(content, fast=True)
    assert fast["Errors"], "each edge file is invalid"
    assert fast == verdict(content, fast=False)
