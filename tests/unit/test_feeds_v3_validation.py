"""Feeds v3 files (JSON Lines of {"type", "data"}): every rule, through the real reader."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from streamdrop.validation import Options, Result
from streamdrop.validation.run import (
    SNIFF_BYTES,
    detect_file_format,
    detect_format,
    validate_file,
)

TS = "2024-01-01T00:00:00Z"
USER = {"type": "user", "data": {"id": "alice"}}
USER2 = {"type": "user", "data": {"id": "bob"}}
GROUP = {"type": "feed_group", "data": {"group_id": "user"}}
VIEW = {"type": "feed_view", "data": {"view_id": "popular"}}
FEED = {"type": "feed", "data": {"group_id": "user", "id": "alice", "fid": "user:alice",
                                 "created_by_id": "alice"}}
FEED2 = {"type": "feed", "data": {"group_id": "user", "id": "bob", "fid": "user:bob",
                                  "created_by_id": "bob"}}
ACTIVITY = {"type": "activity", "data": {"id": "a1", "type": "post", "user_id": "alice",
                                         "fids": ["user:alice"], "text": "hi",
                                         "created_at": TS}}
COMMENT = {"type": "comment", "data": {"id": "c1", "object_type": "activity",
                                       "object_id": "a1", "user_id": "bob", "text": "nice"}}
REACTION = {"type": "reaction", "data": {"user_id": "bob", "activity_id": "a1",
                                         "type": "like"}}
BOOKMARK = {"type": "bookmark", "data": {"user_id": "bob", "object_id": "a1"}}
FOLLOW = {"type": "follow", "data": {"source_fid": "user:bob", "target_fid": "user:alice"}}
COLLECTION = {"type": "collection", "data": {"name": "food", "id": "cheese",
                                             "custom": {"taste": "sharp"}}}
EVERY_KIND = [USER, USER2, GROUP, VIEW, FEED, FEED2, ACTIVITY, COMMENT, REACTION, BOOKMARK,
              FOLLOW, COLLECTION]
ITEMS = {item["type"]: item for item in EVERY_KIND}


def lines(*items: Any) -> bytes:
    return b"".join((item if isinstance(item, bytes) else json.dumps(item).encode()) + b"\n"
                    for item in items)


def feeds(*items: Any, fmt: str = "feeds-v3", **options: Any) -> Result:
    data = lines(*items)
    return validate_file(io.BytesIO(data), len(data), Options(**options), fmt)


def messages(problems: Any) -> list[str]:
    return [problem.message for problem in problems]


def changed(item: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`item` with fields of its data set (or removed, with `...`)."""
    data = {**item["data"], **changes}
    return {"type": item["type"], "data": {k: v for k, v in data.items() if v is not ...}}


# -- a valid file --------------------------------------------------------------------

def test_valid_file_of_every_type_has_no_problem_and_counts_each() -> None:
    result = feeds(*EVERY_KIND)
    assert (result.errors, result.warnings) == ([], [])
    assert result.format == "feeds-v3"
    assert result.stats == {
        "users": 2, "feed_groups": 1, "feed_views": 1, "feeds": 2, "activities": 1,
        "comments": 1, "reactions": 1, "bookmarks": 1, "follows": 1, "collections": 1,
        "polls": 0, "poll_votes": 0, "user_interests": 0}


def test_references_may_point_forward() -> None:
    result = feeds(*reversed(EVERY_KIND))
    assert (result.errors, result.warnings) == ([], [])


def test_every_optional_field_of_the_schemas_in_its_type_passes() -> None:
    full = [
        changed(USER, role="admin", teams=["t"], teams_role={"t": "admin"}, language="fr",
                blocked_user_ids=["bob"], invisible=False, custom={"a": 1},
                deactivated_at=TS, deleted_at=TS, created_at=TS, updated_at=TS,
                channel_mutes=[], user_mutes=["bob"],
                push_preferences={"chat_level": "mentions", "disabled_until": TS},
                privacy_settings={"typing_indicators": {"enabled": True},
                                  "read_receipts": {"enabled": False},
                                  "delivery_receipts": {"enabled": True}}),
        changed(GROUP, id=3, app_pk=1, default_view_id="v", default_visibility="",
                last_feed_get_at=None, notification={}, stories={}, activity_processors=[1],
                activity_selectors=[{}], ranking={}, aggregation={}, aggregation_version=2,
                push_notification={}, created_at=TS, custom={}),
        changed(VIEW, app_pk=1, activity_selectors=[], ranking={}, aggregation={},
                aggregation_version=1, last_feed_get_at=TS, created_at=TS),
        changed(FEED, name="n", description="d", custom={}, filter_tags=["x"],
                visibility="followers", created_at=TS, updated_at=TS, deleted_at=TS,
                last_watched_at=TS),
        changed(ACTIVITY, attachments=[{"type": "image", "image_url": "https://x/a.png",
                                        "thumb_url": "https://x/t", "asset_url": "https://x/b",
                                        "migrate_resources": True, "custom": {}, "w": 3}],
                visibility="tag", visibility_tag="vip", location={"lat": 1.5, "lng": -3},
                expires_at=TS, mentioned_user_ids=["bob"], parent_id="", poll_id="p",
                custom={}, updated_at=TS, edited_at=TS, deleted_at=TS, filter_tags=[],
                interest_tags=["i"], collection_refs=["food:cheese"]),
        changed(COMMENT, parent_id=None, status="hidden", attachments=[],
                mentioned_user_ids=[], custom={}, created_at=TS, updated_at=TS,
                deleted_at=TS),
        changed(REACTION, comment_id="", custom={}, created_at=TS, updated_at=TS),
        changed(BOOKMARK, object_type="activity", activity_id="a1", folder_id="f", custom={},
                created_at=TS, updated_at=TS),
        changed(FOLLOW, status="pending", push_preference="all", custom={},
                request_accepted_at=TS, request_rejected_at=TS, created_at=TS, updated_at=TS,
                source_created_by_id="bob", target_created_by_id="alice",
                follower_role="feed_follower"),
        changed(COLLECTION, user_id="alice", created_at=TS, updated_at=TS, deleted_at=TS),
    ]
    result = feeds(USER2, FEED2, *full)
    assert (result.errors, result.warnings) == ([], [])


# -- the envelope ----------------------------------------------------------------------

@pytest.mark.parametrize(("line", "message"), [
    (b'["user"]', "parse error: item must be a JSON object, got array"),
    (b'{"type": "channel", "data": {}}', 'parse error: invalid item type "channel"'),
    (b'{"type": 1, "data": {}}', 'parse error: invalid item type ""'),
    (b'{"type": ["user"], "data": {}}', 'parse error: invalid item type ""'),
    (b'{"type": {"a": 1}, "data": {}}', 'parse error: invalid item type ""'),
    (b'{"data": {"id": "u"}}', 'parse error: invalid item type ""'),
    (b'{"type": "user"}', 'parse error: user item needs an object in "data", got nothing'),
    (b'{"type": "user", "data": []}', 'parse error: user item needs an object in "data", '
                                      "got array"),
    (b'{"type": "user", "data": {"id": "u"}, "item": 1}',
     'validation error: item field "item" is not allowed (only "type" and "data")'),
    (b'{"type": "user", "data": {"id": "u"', "parse error: unexpected end of data"),
])
def test_envelope_rules(line: bytes, message: str) -> None:
    result = feeds(USER, line)
    assert len(result.errors) == 1
    assert result.errors[0].message.startswith(message)
    assert (result.errors[0].item, result.errors[0].line) == (1, 2)


# -- each schema's rules, one broken field at a time ---------------------------------

FIELD_RULES = [
    # (item, field at fault, the message's tail)
    (changed(USER, id=...), "user.id", "user.id required"),
    (changed(USER, id=""), "user.id", "user.id must not be empty"),
    (changed(USER, id="a" * 256), "user.id", "user.id max length exceeded (255)"),
    (changed(USER, id="a:b"), "user.id", 'user.id "a:b" invalid ("^[@\\w .-]*$" allowed)'),
    (changed(USER, id="é"), "user.id", "invalid"),
    (changed(USER, id=7), "user.id", "user.id must be a string, got number"),
    (changed(USER, role=None), "user.role", "user.role must be a string, got null"),
    (changed(USER, teams=["a", 1]), "user.teams[1]", "user.teams[1] must be a string, got number"),
    (changed(USER, teams="a"), "user.teams", "user.teams must be an array of strings, got string"),
    (changed(USER, teams_role={"t": 1}), "user.teams_role.t",
     "user.teams_role.t must be a string, got number"),
    (changed(USER, invisible="no"), "user.invisible", "must be a boolean, got string"),
    (changed(USER, custom=[]), "user.custom", "user.custom must be an object, got array"),
    (changed(USER, created_at="2024-02-30T00:00:00Z"), "user.created_at",
     'user.created_at "2024-02-30T00:00:00Z" is not an RFC 3339 timestamp'),
    (changed(USER, updated_at="2024-01-01t00:00:00z"), "user.updated_at", "RFC 3339"),
    (changed(USER, push_preferences={"chat_level": "some"}), "user.push_preferences.chat_level",
     'user.push_preferences.chat_level must be one of all, none, mentions, got "some"'),
    (changed(USER, push_preferences={"sound": True}), "user.push_preferences.sound",
     "user.push_preferences.sound is not an allowed field"),
    (changed(USER, privacy_settings={"read_receipts": {}}),
     "user.privacy_settings.read_receipts.enabled",
     "user.privacy_settings.read_receipts.enabled required"),
    (changed(USER, privacy_settings={"read_receipts": {"enabled": True, "x": 1}}),
     "user.privacy_settings.read_receipts.x", "is not an allowed field"),
    (changed(FEED, fid=...), "feed.fid", "feed.fid required"),
    (changed(FEED, created_by_id=""), "feed.created_by_id", "must not be empty"),
    (changed(FEED, fid="user-alice"), "feed.fid",
     'feed.fid "user-alice" must be "<group_id>:<id>", here "user:alice"'),
    (changed(FEED, visibility="secret"), "feed.visibility",
     'feed.visibility must be one of public, visible, followers, members, private, got "secret"'),
    (changed(FEED, filter_tags=[None]), "feed.filter_tags[0]", "must be a string, got null"),
    (changed(GROUP, group_id=""), "feed_group.group_id", "must not be empty"),
    (changed(GROUP, id=1.0), "feed_group.id", "feed_group.id must be an integer, got number"),
    (changed(GROUP, id=True), "feed_group.id", "must be an integer, got boolean"),
    (changed(GROUP, default_visibility="open"), "feed_group.default_visibility",
     'must be one of "", public, visible, followers, members, private, got "open"'),
    (changed(GROUP, last_feed_get_at="yesterday"), "feed_group.last_feed_get_at",
     "is not an RFC 3339 timestamp"),
    (changed(GROUP, last_feed_get_at=5), "feed_group.last_feed_get_at",
     "must be a string or null, got number"),
    (changed(GROUP, activity_processors={}), "feed_group.activity_processors",
     "must be an array, got object"),
    (changed(VIEW, view_id=...), "feed_view.view_id", "feed_view.view_id required"),
    (changed(VIEW, aggregation_version="1"), "feed_view.aggregation_version",
     "must be an integer, got string"),
    (changed(ACTIVITY, fids=...), "activity.fids", "activity.fids required"),
    (changed(ACTIVITY, fids=[]), "activity.fids", "activity.fids must have at least 1 item"),
    (changed(ACTIVITY, fids=[""]), "activity.fids[0]", "activity.fids[0] must not be empty"),
    (changed(ACTIVITY, type=""), "activity.type", "activity.type must not be empty"),
    (changed(ACTIVITY, visibility="friends"), "activity.visibility",
     'must be one of public, private, tag, got "friends"'),
    (changed(ACTIVITY, visibility="tag"), "activity.visibility_tag",
     'activity.visibility "tag" needs a non-empty activity.visibility_tag'),
    (changed(ACTIVITY, attachments=[{"image_url": "http://x/a.png"}]),
     "activity.attachments[0].image_url",
     'activity.attachments[0].image_url "http://x/a.png" must be an https:// URL'),
    (changed(ACTIVITY, attachments=["a"]), "activity.attachments[0]",
     "activity.attachments[0] must be an object, got string"),
    (changed(ACTIVITY, attachments=[{"migrate_resources": 1}]),
     "activity.attachments[0].migrate_resources", "must be a boolean, got number"),
    (changed(ACTIVITY, location={"lat": "1"}), "activity.location.lat",
     "activity.location.lat must be a number, got string"),
    (changed(ACTIVITY, expires_at=""), "activity.expires_at", "is not an RFC 3339 timestamp"),
    (changed(COMMENT, text=""), "comment.text", "comment.text must not be empty"),
    (changed(COMMENT, object_type="comment"), "comment.object_type",
     'comment.object_type must be one of activity, got "comment"'),
    (changed(COMMENT, object_type=...), "comment.object_type", "comment.object_type required"),
    (changed(COMMENT, status="gone"), "comment.status",
     'must be one of active, deleted, removed, hidden, got "gone"'),
    (changed(COMMENT, parent_id=3), "comment.parent_id", "must be a string or null, got number"),
    (changed(COMMENT, attachments=[{"thumb_url": "ftp://x"}]), "comment.attachments[0].thumb_url",
     "must be an https:// URL"),
    (changed(REACTION, activity_id=...), "reaction.activity_id", "reaction.activity_id required"),
    (changed(REACTION, type=""), "reaction.type", "reaction.type must not be empty"),
    (changed(REACTION, comment_id=None), "reaction.comment_id", "must be a string, got null"),
    (changed(BOOKMARK, object_id=...), "bookmark.object_id",
     "either bookmark.object_id or bookmark.activity_id required"),
    (changed(BOOKMARK, object_id=""), "bookmark.object_id", "bookmark.object_id must not be empty"),
    (changed(BOOKMARK, object_type="user"), "bookmark.object_type",
     'must be one of activity, comment, got "user"'),
    (changed(BOOKMARK, user_id=...), "bookmark.user_id", "bookmark.user_id required"),
    (changed(FOLLOW, target_fid="user:bob"), "follow.target_fid",
     'follow.target_fid "user:bob" is the source_fid: a feed cannot follow itself'),
    (changed(FOLLOW, status="maybe"), "follow.status", "accepted, pending, rejected"),
    (changed(FOLLOW, push_preference="some"), "follow.push_preference", "all, none"),
    (changed(FOLLOW, source_fid=""), "follow.source_fid", "must not be empty"),
    (changed(COLLECTION, custom={}), "collection.custom",
     "collection.custom must have at least 1 key"),
    (changed(COLLECTION, custom=...), "collection.custom", "collection.custom required"),
    (changed(COLLECTION, name=""), "collection.name", "must not be empty"),
    (changed(COLLECTION, user_id=1), "collection.user_id", "must be a string, got number"),
]


@pytest.mark.parametrize(("item", "field", "message"), FIELD_RULES,
                         ids=[f"{field}-{n}" for n, (_, field, _) in enumerate(FIELD_RULES)])
def test_field_rule(item: dict[str, Any], field: str, message: str) -> None:
    items = [other for other in EVERY_KIND if other["type"] != item["type"]]
    result = feeds(*items, item)
    assert len(result.errors) == 1, messages(result.errors)
    problem = result.errors[0]
    assert problem.message.startswith("validation error: ")
    assert message in problem.message
    assert problem.field == field
    assert (problem.item, problem.line) == (len(items), len(items) + 1)
    assert problem.to_json()["field"] == field


def test_an_item_is_checked_against_its_own_types_schema_not_the_envelopes_any_of() -> None:
    # Valid as a bookmark (so the envelope's anyOf accepts it), not as an activity.
    result = feeds(USER, {"type": "activity", "data": {"user_id": "alice", "object_id": "a1",
                                                       "id": "a1", "type": "post"}})
    assert messages(result.errors) == ["validation error: activity.fids required"]


def test_custom_fields_are_allowed_in_every_item() -> None:
    result = feeds(*[changed(item, my_field={"x": [1]}) for item in EVERY_KIND])
    assert result.errors == []


def test_one_error_per_item_the_first_in_the_items_order() -> None:
    result = feeds(changed(USER, role=1, invisible="x"))
    assert messages(result.errors) == ["validation error: user.role must be a string, got number"]


# -- duplicates ------------------------------------------------------------------------

@pytest.mark.parametrize(("item", "message"), [
    (USER, 'duplicate user "alice"'),
    (GROUP, 'duplicate feed_group "user"'),
    (VIEW, 'duplicate feed_view "popular"'),
    (changed(FEED, name="again"), 'duplicate feed "user:alice"'),
    (changed(ACTIVITY, text="again"), 'duplicate activity "a1"'),
    (changed(COMMENT, text="again"), 'duplicate comment "c1"'),
    (REACTION, 'duplicate reaction "like" by user "bob" on activity "a1"'),
    (BOOKMARK, 'duplicate bookmark of activity "a1" by user "bob"'),
    (FOLLOW, 'duplicate follow of "user:alice" by "user:bob"'),
    (changed(COLLECTION, custom={"other": 1}), 'duplicate collection "food" item "cheese"'),
])
def test_duplicates_of_one_type_are_errors(item: dict[str, Any], message: str) -> None:
    result = feeds(*EVERY_KIND, item)
    assert messages(result.errors) == [f"validation error: {message}"]
    assert result.errors[0].item == len(EVERY_KIND)


def test_what_is_not_a_duplicate() -> None:
    other_comment = changed(REACTION, comment_id="c1")
    other_folder = changed(BOOKMARK, folder_id="favourites")
    back = changed(FOLLOW, source_fid="user:alice", target_fid="user:bob")
    same_id_other_type = {"type": "comment", "data": {**COMMENT["data"], "id": "a1"}}
    result = feeds(*EVERY_KIND, other_comment, other_folder, back, same_id_other_type)
    assert result.errors == []


# -- references ------------------------------------------------------------------------

REFERENCES = [
    (FEED, "feed.created_by_id", "user", "alice"),
    (ACTIVITY, "activity.user_id", "user", "alice"),
    (changed(ACTIVITY, fids=["user:zed"]), "activity.fids", "feed", "user:zed"),
    (changed(ACTIVITY, parent_id="a0"), "activity.parent_id", "activity", "a0"),
    (changed(ACTIVITY, mentioned_user_ids=["zed"]), "activity.mentioned_user_ids", "user", "zed"),
    (COMMENT, "comment.object_id", "activity", "a1"),
    (changed(COMMENT, parent_id="c0"), "comment.parent_id", "comment", "c0"),
    (changed(COMMENT, mentioned_user_ids=["zed"]), "comment.mentioned_user_ids", "user", "zed"),
    (REACTION, "reaction.activity_id", "activity", "a1"),
    (changed(REACTION, comment_id="c0"), "reaction.comment_id", "comment", "c0"),
    (BOOKMARK, "bookmark.object_id", "activity", "a1"),
    (changed(BOOKMARK, object_type="comment", object_id="c0"), "bookmark.object_id", "comment",
     "c0"),
    (changed(BOOKMARK, object_id=..., activity_id="a0"), "bookmark.activity_id", "activity",
     "a0"),
    (FOLLOW, "follow.source_fid", "feed", "user:bob"),
    (changed(COLLECTION, user_id="zed"), "collection.user_id", "user", "zed"),
]


@pytest.mark.parametrize(("item", "field", "noun", "name"), REFERENCES,
                         ids=[r[1] for r in REFERENCES])
def test_a_reference_outside_the_file_is_a_warning_or_with_strict_references_an_error(
        item: dict[str, Any], field: str, noun: str, name: str) -> None:
    result = feeds(item)
    ours = [p for p in result.warnings if p.field == field]
    assert len(ours) == 1, messages(result.warnings)
    named = f'reference warning: {field} names {noun} "{name}", which doesn\'t exist in this file'
    assert ours[0].message.startswith(named)
    assert "skip_references_check" in ours[0].message
    assert result.errors == []
    assert result.valid

    strict = feeds(item, strict_references=True)
    assert strict.warnings == []
    assert f'reference error: {field} names {noun} "{name}", which doesn\'t exist in this file' \
        in messages(strict.errors)


def test_every_reference_of_a_complete_file_resolves_even_under_strict_references() -> None:
    result = feeds(*EVERY_KIND, strict_references=True)
    assert (result.errors, result.warnings) == ([], [])


def test_reference_problems_come_in_file_order_with_their_places() -> None:
    result = feeds(USER, REACTION, COMMENT)
    assert [(p.item, p.line, p.field) for p in result.warnings] == [
        (1, 2, "reaction.user_id"), (1, 2, "reaction.activity_id"),
        (2, 3, "comment.object_id"), (2, 3, "comment.user_id")]
    assert result.warnings[1].offset == len(lines(USER))


def test_an_invalid_item_is_not_indexed_and_its_references_are_not_checked() -> None:
    result = feeds(changed(USER, role=1), changed(ACTIVITY, fids=[]))
    assert result.warnings == []
    assert result.stats["users"] == 0


def test_feed_groups_are_checked_only_when_the_apps_are_known() -> None:
    lone_feed = [USER, FEED]
    assert feeds(*lone_feed).errors == []
    assert feeds(*lone_feed, feed_groups={"user": "flat"}).errors == []
    assert feeds(GROUP, *lone_feed, feed_groups={"timeline": "flat"}).errors == []
    result = feeds(*lone_feed, feed_groups={"timeline": "flat"})
    assert messages(result.errors) == [
        'reference error: feed.group_id names feed group "user", which is neither in this '
        "file nor among the app's feed groups"]
    assert result.errors[0].field == "feed.group_id"


# -- types without a published schema ----------------------------------------------------

def test_poll_vote_and_interest_items_pass_with_one_warning_per_type() -> None:
    poll = {"type": "poll", "data": {"id": "p1", "anything": [1]}}
    vote = {"type": "poll_vote", "data": {}}
    interest = {"type": "user_interest", "data": {"user_id": "alice"}}
    result = feeds(USER, poll, poll, vote, interest, interest)
    assert result.errors == []
    assert messages(result.warnings) == [
        f"schema warning: {kind} items are checked only for their envelope: Stream publishes "
        f"no schema for Feeds v3 {kind} items (first of them here)"
        for kind in ("poll", "poll_vote", "user_interest")]
    assert [p.item for p in result.warnings] == [1, 3, 4]
    assert (result.stats["polls"], result.stats["poll_votes"],
            result.stats["user_interests"]) == (2, 1, 2)


def test_unpublished_types_still_have_their_envelope_checked() -> None:
    result = feeds(b'{"type": "poll", "data": "p1"}',
                   b'{"type": "poll", "data": {}, "extra": 1}')
    assert messages(result.errors) == [
        'parse error: poll item needs an object in "data", got string',
        'validation error: item field "extra" is not allowed (only "type" and "data")']


# -- the file as a whole ------------------------------------------------------------------

def test_bad_lines_are_one_error_each_and_the_rest_is_checked() -> None:
    result = feeds(USER, b"{not json", b"", FEED, b"\xff")
    assert [p.line for p in result.errors] == [2, 5]
    assert all(p.message.startswith("parse error: ") for p in result.errors)
    assert result.stats["feeds"] == 1


def test_max_errors_caps_the_list_not_the_count() -> None:
    result = feeds(*[changed(USER, id="") for _ in range(5)], max_errors=2)
    assert (len(result.errors), result.error_count) == (2, 5)


def test_finish_twice_reports_nothing_twice() -> None:
    from streamdrop.validation.feeds_v3 import FeedsV3Validator

    validator = FeedsV3Validator(Options())
    validator.feed(0, 1, 0, REACTION)
    first = validator.finish()
    assert validator.finish() is first
    assert first.warning_count == 2


# -- telling Feeds v3 from the other formats ------------------------------------------------

@pytest.mark.parametrize(("data", "expected"), [
    (lines(ACTIVITY), "feeds-v3"),
    (lines(USER, USER2, FOLLOW), "feeds-v3"),
    (lines(USER, {"type": "user_interest", "data": {}}), "feeds-v3"),
    (b'{"data": {"id": "g"}, "type": "feed_group"}\n', "feeds-v3"),
    (lines(USER, {"type": "channel", "data": {}}), "chat-jsonl"),
    (lines(USER, REACTION), "chat-jsonl"),  # types of both: chat, as before
    (lines({"instruction": "follow", "feedId": "a:b", "data": []}), "feeds"),
    (b'[{"type": "user", "item": {}}]', "chat"),
])
def test_detect_format_from_types_only_one_format_has(data: bytes, expected: str) -> None:
    assert detect_format(data) == expected
    assert detect_file_format(io.BytesIO(data)) == expected


def test_a_type_of_activitys_data_does_not_make_a_chat_file_feeds() -> None:
    user = {"type": "user", "data": {"id": "u", "custom": {"type": "comment"}}}
    reaction = {"type": "reaction", "data": {"message_id": "m", "user_id": "u",
                                             "type": "comment"}}
    assert detect_format(lines(user, reaction)) == "chat-jsonl"


def test_detection_reads_past_the_head_when_it_holds_only_shared_types() -> None:
    users = [{"type": "user", "data": {"id": f"user-{n}"}} for n in range(SNIFF_BYTES // 30)]
    data = lines(*users, FEED)
    assert len(data) > SNIFF_BYTES
    assert detect_format(data[:SNIFF_BYTES]) == "chat-jsonl"
    file = io.BytesIO(data)
    assert detect_file_format(file) == "feeds-v3"
    assert file.tell() == 0
    result = validate_file(io.BytesIO(data), len(data), Options(), "auto")
    assert result.format == "feeds-v3"
    assert result.stats["users"] == len(users)


def test_a_feeds_v3_file_is_no_longer_refused_line_by_line() -> None:
    result = feeds(*EVERY_KIND, fmt="auto")
    assert result.format == "feeds-v3"
    assert result.valid
