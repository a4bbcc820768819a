"""Chat rules beyond the conformance files: JSON Lines, references, order, limits, types."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from streamdrop.validation import Options, Result
from streamdrop.validation.run import validate_file

USER = {"type": "user", "data": {"id": "u1"}}
USER2 = {"type": "user", "data": {"id": "u2"}}
CHANNEL = {"type": "channel", "data": {"id": "c1", "type": "messaging", "created_by": "u1"}}
MEMBER = {"type": "member", "data": {"channel_type": "messaging", "channel_id": "c1",
                                     "user_id": "u1"}}
MESSAGE = {"type": "message", "data": {"id": "m1", "channel_type": "messaging",
                                       "channel_id": "c1", "user": "u1", "text": "hi"}}
REACTION = {"type": "reaction", "data": {"message_id": "m1", "type": "like", "user_id": "u1",
                                         "created_at": "2024-01-01T00:00:00Z"}}


def jsonl(*items: Any, **options: Any) -> Result:
    data = b"".join(json.dumps(item).encode() + b"\n" for item in items)
    return validate_file(io.BytesIO(data), len(data), Options(**options), "chat-jsonl")


def array(*items: Any, **options: Any) -> Result:
    data = json.dumps([{"type": i["type"], "item": i["data"]} for i in items], indent=1).encode()
    return validate_file(io.BytesIO(data), len(data), Options(**options), "chat")


def messages(result: Result) -> list[str]:
    return [problem.message for problem in result.errors]


def with_data(item: dict[str, Any], **changes: Any) -> dict[str, Any]:
    data = {**item["data"], **changes}
    return {"type": item["type"], "data": {k: v for k, v in data.items() if v is not ...}}


def test_valid_json_lines_file_counts_every_kind() -> None:
    ban = {"type": "future_channel_ban", "data": {"target_id": "u2", "created_by": "u1"}}
    device = {"type": "device", "data": {"id": "d1", "user_id": "u1", "push_provider_type": "apn",
                                         "created_at": "2024-01-01T00:00:00Z"}}
    poll = {"type": "poll", "data": {"id": "p1", "name": "lunch?"}}
    vote = {"type": "poll_vote", "data": {"id": "v1", "poll_id": "p1"}}
    result = jsonl(USER, USER2, device, ban, CHANNEL, MEMBER, MESSAGE, REACTION, poll, vote)
    assert messages(result) == []
    assert result.stats == {"users": 2, "devices": 1, "future_channel_bans": 1, "channels": 1,
                            "members": 1, "messages": 1, "reactions": 1, "polls": 1,
                            "poll_votes": 1}
    assert result.format == "chat-jsonl"


def test_json_lines_reference_outside_the_file_is_a_warning() -> None:
    result = jsonl(MESSAGE, REACTION)
    assert result.valid
    assert result.warning_count == 3  # channel, user of the message; user of the reaction
    assert all(w.message.startswith("reference warning: ") for w in result.warnings)
    assert result.warnings[0].item == 0 and result.warnings[0].line == 1


def test_strict_references_make_them_errors() -> None:
    result = jsonl(MESSAGE, REACTION, strict_references=True)
    assert messages(result) == ['reference error: channel "messaging:c1" doesn\'t exist',
                                'reference error: user "u1" doesn\'t exist']


def test_array_format_needs_every_reference_in_the_file() -> None:
    assert messages(array(MESSAGE)) == ['reference error: channel "messaging:c1" doesn\'t exist']


def test_forward_reference_in_array_resolves_when_the_item_comes_later() -> None:
    # Stream needs users first in JSON Lines, but the array format has no order rule.
    result = array(CHANNEL, USER)
    assert messages(result) == []
    assert result.stats["channels"] == 1


def test_reference_errors_come_after_field_errors_in_item_order() -> None:
    bad_member = with_data(MEMBER, user_id="ghost")
    late_reaction = with_data(REACTION, user_id="ghost2")
    result = array(late_reaction, USER, bad_member, CHANNEL, with_data(USER, id=""), MESSAGE)
    assert messages(result) == [
        "validation error: user.id required",
        'reference error: user "ghost2" doesn\'t exist',
        'reference error: user "ghost" doesn\'t exist',
    ]
    assert [p.item for p in result.errors] == [4, 0, 2]


def test_json_lines_items_out_of_order_are_errors() -> None:
    result = jsonl(CHANNEL, USER)
    assert messages(result) == [
        "validation error: user item after channel items: Stream requires the order "
        "user, device, future_channel_ban, channel, member, message, reaction, poll, poll_vote"]
    assert result.errors[0].line == 2


def test_channel_member_is_the_schema_spelling_of_member() -> None:
    member = {"type": "channel_member", "data": MEMBER["data"]}
    assert jsonl(USER, CHANNEL, member).stats["members"] == 1


def test_custom_data_over_5_kib_is_refused() -> None:
    result = jsonl(with_data(USER, bio="x" * 5200))
    assert len(result.errors) == 1
    assert "user custom data is 5210 bytes" in result.errors[0].message


def test_more_than_30_attachments_is_refused() -> None:
    attachments = [{"type": "image", "image_url": "https://x/y.png"}] * 31
    result = jsonl(USER, CHANNEL, with_data(MESSAGE, attachments=attachments))
    assert "31 attachments, more than 30" in messages(result)[0]


def test_attachment_urls_must_be_https() -> None:
    attachments = [{"type": "image", "image_url": "http://x/y.png"}]
    result = jsonl(USER, CHANNEL, with_data(MESSAGE, attachments=attachments))
    assert messages(result) == ['validation error: message.attachments[0].image_url '
                                '"http://x/y.png" must be an https:// URL']


def test_device_takes_no_custom_fields_in_json_lines() -> None:
    device = {"type": "device", "data": {"id": "d", "user_id": "u1", "push_provider_type": "apn",
                                         "created_at": "2024-01-01T00:00:00Z", "disabled": False}}
    assert "device.disabled is not an allowed field" in messages(jsonl(USER, device))[0]
    assert messages(array(USER, device)) == []  # stream-cli's struct had `disabled`


@pytest.mark.parametrize(("field", "value", "words"), [
    ("teams", "team-a", "user.teams must be an array of strings, got string"),
    ("invisible", "yes", "user.invisible must be a boolean, got string"),
    ("created_at", "2024-02-30T00:00:00Z", 'user.created_at "2024-02-30T00:00:00Z" is not an RFC'),
    ("created_at", "yesterday", 'user.created_at "yesterday" is not an RFC 3339 timestamp'),
    ("id", 42, "user.id must be a string, got number"),
])
def test_wrong_json_type_or_bad_timestamp_names_the_field(field: str, value: Any,
                                                          words: str) -> None:
    for result in (jsonl(with_data(USER, **{field: value})),
                   array(with_data(USER, **{field: value}))):
        assert words in messages(result)[0]
        assert result.stats["users"] == 0


def test_null_is_absent_in_arrays_but_not_in_json_lines() -> None:
    assert messages(array(with_data(USER, teams=None))) == []
    assert messages(jsonl(with_data(USER, teams=None))) == [
        "validation error: user.teams must be an array of strings, got null"]


def test_deleted_at_is_echoed_in_utc() -> None:
    result = array(USER, CHANNEL, with_data(MESSAGE, deleted_at="2022-02-14T14:34:30.25+02:00"))
    assert messages(result) == ['validation error: message.deleted_at "2022-02-14T12:34:30Z" '
                                'while message.type is "regular"']


def test_text_longer_than_the_channel_types_limit() -> None:
    result = array(USER, CHANNEL, with_data(MESSAGE, text="é" * 11),
                   channel_types={"messaging": 10})
    assert messages(result) == ["reference error: message.text max length exceeded (10)"]


def test_reply_to_a_reply_is_refused() -> None:
    reply = with_data(MESSAGE, id="m2", parent_id="m1")
    nested = with_data(MESSAGE, id="m3", parent_id="m2")
    result = array(USER, CHANNEL, MESSAGE, reply, nested)
    assert messages(result) == ["reference error: only one level thread is supported"]


def test_message_type_reply_needs_parent_in_json_lines() -> None:
    result = jsonl(USER, CHANNEL, with_data(MESSAGE, type="reply"))
    assert messages(result) == ['validation error: message.type "reply" needs message.parent_id']


def test_duplicates_of_each_kind() -> None:
    result = array(USER, USER, CHANNEL, CHANNEL, MEMBER, MEMBER, MESSAGE, MESSAGE, REACTION,
                   REACTION)
    assert messages(result) == [
        'validation error: duplicate user found "u1"',
        "validation error: duplicate channel 'messaging:c1'",
        'validation error: duplicate member "u1" (channel "messaging:c1")',
        'validation error: duplicate message "m1"',
        "validation error: duplicate reaction message:m1:type:like:user:u1",
    ]


def test_max_errors_caps_the_list_but_not_the_count() -> None:
    users = [with_data(USER, id="") for _ in range(50)]
    result = jsonl(*users, max_errors=7)
    assert len(result.errors) == 7
    assert result.error_count == 50
    assert result.to_json()["ErrorCount"] == 50


def test_non_object_items_and_unknown_types_are_reported_and_skipped() -> None:
    result = array(USER)
    data = b'[1, {"type": "poll", "item": {}}, {"type": "user"}, {"type":"user","item":{"id":"a"}}]'
    result = validate_file(io.BytesIO(data), len(data), Options(), "chat")
    assert messages(result) == [
        "parse error: item must be a JSON object, got number",
        'parse error: invalid item type "poll"',
        'parse error: user item needs an object in "item", got nothing',
    ]
    assert result.stats["users"] == 1


def test_distinct_channel_missing_members_is_a_warning_in_json_lines() -> None:
    distinct = {"type": "channel", "data": {"type": "messaging", "member_ids": ["u1", "u2"],
                                            "created_by": "u1"}}
    result = jsonl(USER, USER2, distinct)
    assert result.valid
    assert "is missing members" in result.warnings[0].message


def test_file_over_the_size_limit_is_invalid_without_parsing() -> None:
    data = b"not even json"
    result = validate_file(io.BytesIO(data), 400_000_000, Options(), "auto")
    assert not result.valid
    assert "more than the 300,000,000 bytes Stream accepts in one import" in messages(result)[0]


# -- polls and votes: no published schema ---------------------------------------------

POLL = {"type": "poll", "data": {"id": "p1", "name": "lunch?"}}
VOTE = {"type": "poll_vote", "data": {"id": "v1", "poll_id": "p1", "user_id": "u1"}}


def test_polls_and_votes_pass_with_one_schema_warning_per_type() -> None:
    result = jsonl(USER, REACTION, POLL, with_data(POLL, id="p2"), VOTE)
    assert messages(result) == []
    schema = [p for p in result.warnings if p.message.startswith("schema warning:")]
    assert [(p.message, p.item) for p in schema] == [
        ("schema warning: poll items are checked only for their envelope and id: Stream "
         "publishes no schema for chat poll items (first of them here)", 2),
        ("schema warning: poll_vote items are checked only for their envelope and id: Stream "
         "publishes no schema for chat poll_vote items (first of them here)", 4)]
    assert (result.stats["polls"], result.stats["poll_votes"]) == (2, 1)


@pytest.mark.parametrize(("item", "message"), [
    (with_data(POLL, id=...), "poll.id required"),
    (with_data(POLL, id=""), "poll.id must not be empty"),
    (with_data(VOTE, id=3), "poll_vote.id must be a string, got number"),
    (POLL, 'duplicate poll "p1"'),
])
def test_poll_ids_are_checked(item: dict[str, Any], message: str) -> None:
    result = jsonl(POLL, item)
    assert messages(result) == [f"validation error: {message}"]
    assert result.errors[0].line == 2


def test_polls_come_after_reactions_and_votes_after_polls() -> None:
    assert messages(jsonl(VOTE, POLL)) == [
        "validation error: poll item after poll_vote items: Stream requires the order "
        "user, device, future_channel_ban, channel, member, message, reaction, poll, poll_vote"]
    assert messages(jsonl(POLL, USER))[0].startswith("validation error: user item after poll")


def test_poll_envelope_is_checked() -> None:
    result = jsonl(USER, {"type": "poll", "data": {"id": "p1"}, "x": 1},
                   {"type": "poll", "data": None})
    assert messages(result) == [
        'validation error: item field "x" is not allowed (only "type" and "data")',
        'parse error: poll item needs an object in "data", got nothing']


def test_the_array_format_knows_no_polls() -> None:
    result = array(USER, POLL)
    assert messages(result) == ['parse error: invalid item type "poll"']


def test_a_missing_id_is_reported_once_as_required_not_again_as_a_missing_reference() -> None:
    no_user = {"type": "message", "data": {k: v for k, v in MESSAGE["data"].items()
                                             if k != "user"}}
    result = jsonl(USER, CHANNEL, no_user)
    assert messages(result) == ["validation error: message.user required"]
    assert result.warnings == []
