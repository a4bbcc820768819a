"""The feeds import-file rules: decoded lines in, a verdict out (no files)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from streamdrop.validation.feeds import (
    FEED_GROUPS_NOT_CHECKED,
    FeedsValidator,
    parse_feed_groups,
)
from streamdrop.validation.model import Options, Problem, Result

APP_FEED_GROUPS: Mapping[str, str] = {
    "user": "flat",
    "timeline": "flat",
    "notify": "notification",
    "digest": "aggregated",
}
EMPTY_STATS = {"add_activities": 0, "follow": 0, "reactions": 0, "users": 0, "collections": 0}
_APP = object()  # "use APP_FEED_GROUPS" (None means: feed groups unknown)
_DROP = object()  # a field to leave out


def validate(*lines: Any, feed_groups: Any = _APP, max_errors: int = 1_000) -> Result:
    """Feed `lines` as a reader would (item, line, byte offset) and finish."""
    groups = APP_FEED_GROUPS if feed_groups is _APP else feed_groups
    validator = FeedsValidator(Options(feed_groups=groups, max_errors=max_errors))
    offset = 0
    for item, value in enumerate(lines):
        validator.feed(item, item + 1, offset, value)
        offset += len(orjson.dumps(value)) + 1
    return validator.finish()


def messages(result: Result) -> list[str]:
    return [problem.message for problem in result.errors]


def stats(**counts: int) -> dict[str, int]:
    return {**EMPTY_STATS, **counts}


def activity(**fields: Any) -> dict[str, Any]:
    base = {"actor": "user:1", "verb": "post", "object": "picture:1", "foreign_id": "post:1",
            "time": "2022-02-14T12:34:30Z"}
    return {k: v for k, v in {**base, **fields}.items() if v is not _DROP}


def reaction(**fields: Any) -> dict[str, Any]:
    base = {"id": "r1", "kind": "like", "user_id": "u1", "time": "2022-02-15T08:00:00Z",
            "activity_foreign_id": "post:1", "activity_time": "2022-02-14T12:34:30Z"}
    return {k: v for k, v in {**base, **fields}.items() if v is not _DROP}


def collection(**fields: Any) -> dict[str, Any]:
    base = {"collection": "food", "id": "cheese", "data": {"name": "gouda"}}
    return {k: v for k, v in {**base, **fields}.items() if v is not _DROP}


def add_activities(*activities: Any, feed_id: Any = "user:1") -> dict[str, Any]:
    return {"instruction": "add_activities", "feedId": feed_id, "data": list(activities)}


def follow(*targets: Any, feed_id: Any = "timeline:1") -> dict[str, Any]:
    return {"instruction": "follow", "feedId": feed_id, "data": list(targets)}


def line(instruction: str, *entries: Any) -> dict[str, Any]:
    return {"instruction": instruction, "data": list(entries)}


# -- a valid file and its stats ---------------------------------------------------------


def test_valid_file_with_every_instruction_has_no_errors_and_counts_entries() -> None:
    result = validate(
        line("users", {"id": "u1"}, {"id": "u2", "data": {"name": "Ann"}}),
        add_activities(activity(), activity(foreign_id="post:2", to=["notify:2"])),
        follow("user:1", "user:2", "timeline:3"),
        line("reactions", reaction(), reaction(id="r2", activity_foreign_id=_DROP,
                                               activity_time=_DROP, activity_id="a-uuid")),
        line("collections", collection()),
    )
    assert result.valid
    assert result.errors == []
    assert result.format == "feeds"
    assert result.stats == stats(add_activities=2, follow=3, reactions=2, users=2, collections=1)


def test_stats_count_entries_inside_data_not_lines() -> None:
    result = validate(line("users", {"id": "a"}, {"id": "b"}, {"id": "c"}),
                      line("users", {"id": "d"}))
    assert result.stats == stats(users=4)


def test_empty_file_is_valid_with_zero_stats_for_every_instruction() -> None:
    result = validate()
    assert result.valid
    assert result.stats == EMPTY_STATS


def test_entry_that_fails_its_checks_is_not_counted() -> None:
    result = validate(line("users", {"id": "a"}, {"id": ""}, {"name": "no id"}))
    assert result.stats == stats(users=1)
    assert result.error_count == 2


def test_entries_of_a_line_with_a_line_level_error_are_checked_but_not_counted() -> None:
    result = validate(add_activities(activity(), activity(actor=""), feed_id="nope:1"))
    assert messages(result) == [
        'reference error: feed group "nope" doesn\'t exist (feedId "nope:1")',
        "validation error: activity.actor required",
    ]
    assert result.stats == EMPTY_STATS


# -- where a problem is -----------------------------------------------------------------


def test_entry_problem_says_item_line_offset_and_index_inside_data() -> None:
    first = line("users", {"id": "a"})
    result = validate(first, line("users", {"id": "b"}, {"id": 7}))
    offset = len(orjson.dumps(first)) + 1
    assert result.errors == [Problem("validation error: user.id must be a string, got number",
                                     item=1, line=2, offset=offset, index=1)]


def test_line_problem_has_no_index() -> None:
    result = validate(line("users", {"id": "a"}), {"instruction": "users"})
    assert result.errors[0].index is None
    assert (result.errors[0].item, result.errors[0].line) == (1, 2)


def test_parse_error_from_the_reader_is_recorded_in_file_order() -> None:
    validator = FeedsValidator(Options(feed_groups=APP_FEED_GROUPS))
    validator.feed(0, 1, 0, line("users", {"id": ""}))
    broken = Problem("parse error: invalid UTF-8 byte 0xff (line 2, column 3)", 1, 2, 30)
    validator.parse_error(broken)
    validator.feed(2, 3, 60, line("users", {"id": 5}))
    result = validator.finish()
    assert [p.line for p in result.errors] == [1, 2, 3]
    assert result.errors[1] is broken


# -- the line: object, instruction, feedId, data ------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [([1, 2], "array"), ("users", "string"), (3, "number"), (None, "null"), (True, "boolean")],
)
def test_line_that_is_not_an_object_is_an_error_naming_its_type(value: Any, kind: str) -> None:
    result = validate(value)
    assert messages(result) == [f"validation error: line must be a JSON object, got {kind}"]


@pytest.mark.parametrize("value", [{"data": []}, {"instruction": "", "data": []},
                                   {"instruction": None, "data": []}])
def test_missing_instruction_is_an_error(value: dict[str, Any]) -> None:
    assert messages(validate(value)) == ["validation error: instruction required"]


def test_instruction_of_wrong_type_names_the_field_and_type() -> None:
    result = validate({"instruction": ["users"], "data": []})
    assert messages(result) == ["validation error: instruction must be a string, got array"]


def test_unknown_instruction_is_an_error_naming_the_value() -> None:
    result = validate(line("add_activity", activity()))
    assert messages(result) == [
        'validation error: invalid instruction "add_activity" '
        "(add_activities, follow, reactions, users, collections allowed)"
    ]


@pytest.mark.parametrize("instruction", ["add_activities", "follow"])
@pytest.mark.parametrize("feed_id", [_DROP, None, ""])
def test_feed_id_is_required_for_add_activities_and_follow(instruction: str, feed_id: Any) -> None:
    value: dict[str, Any] = {"instruction": instruction, "data": []}
    if feed_id is not _DROP:
        value["feedId"] = feed_id
    assert messages(validate(value)) == [f"validation error: feedId required for {instruction}"]


@pytest.mark.parametrize("instruction", ["users", "reactions", "collections"])
def test_feed_id_is_not_needed_by_other_instructions(instruction: str) -> None:
    assert validate(line(instruction)).valid


def test_feed_id_of_wrong_type_names_the_field_and_type() -> None:
    result = validate(add_activities(activity(), feed_id=12))
    assert messages(result) == ["validation error: feedId must be a string, got number"]


@pytest.mark.parametrize("feed_id", ["user", "user:", ":1", "user:1:2", "us er:1", "user:a.b",
                                     "usér:1"])
def test_feed_id_that_is_not_group_colon_id_is_an_error(feed_id: str) -> None:
    result = validate(add_activities(activity(), feed_id=feed_id))
    assert messages(result) == [
        f"validation error: feedId {orjson.dumps(feed_id).decode()} invalid "
        '("group:id" allowed, group ^\\w+$, id ^[\\w-]+$)'
    ]


def test_feed_id_of_unknown_feed_group_is_a_reference_error() -> None:
    result = validate(add_activities(activity(), feed_id="profile:1"))
    assert messages(result) == [
        'reference error: feed group "profile" doesn\'t exist (feedId "profile:1")'
    ]
    assert result.stats == EMPTY_STATS


def test_missing_data_is_an_error() -> None:
    result = validate({"instruction": "users"})
    assert messages(result) == ["validation error: data required"]


def test_data_that_is_not_an_array_names_the_field_and_type() -> None:
    result = validate({"instruction": "users", "data": {"id": "u1"}})
    assert messages(result) == ["validation error: data must be an array, got object"]


@pytest.mark.parametrize(
    ("instruction", "limit", "entry"),
    [
        ("add_activities", 3_600, activity()),
        ("users", 10_000, {"id": "u1"}),
        ("reactions", 10_000, reaction(activity_foreign_id=_DROP, activity_time=_DROP,
                                       activity_id="a1")),
        ("collections", 10_000, collection()),
        ("follow", 10_000, "user:2"),
    ],
)
def test_data_at_the_per_line_maximum_passes_and_one_more_is_an_error(
    instruction: str, limit: int, entry: Any
) -> None:
    at_limit = {"instruction": instruction, "feedId": "timeline:1", "data": [entry] * limit}
    over = {**at_limit, "data": [entry] * (limit + 1)}
    assert validate(at_limit).stats[instruction] == limit
    result = validate(over)
    assert messages(result) == [
        f"validation error: data has {limit + 1} entries, at most {limit} allowed for "
        f"{instruction}"
    ]
    assert result.stats[instruction] == 0


# -- add_activities -----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["actor", "verb", "object", "foreign_id", "time"])
@pytest.mark.parametrize("value", [_DROP, "", None])
def test_activity_missing_or_empty_required_field_names_it(field: str, value: Any) -> None:
    result = validate(add_activities(activity(**{field: value})))
    assert messages(result) == [f"validation error: activity.{field} required"]
    assert result.errors[0].index == 0


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [("actor", {"id": "u1"}, "object"), ("verb", 1, "number"), ("object", ["x"], "array"),
     ("foreign_id", 42, "number"), ("time", 1644842070, "number"), ("time", False, "boolean")],
)
def test_activity_field_of_wrong_json_type_names_the_field_and_type(
    field: str, value: Any, kind: str
) -> None:
    result = validate(add_activities(activity(**{field: value})))
    assert messages(result) == [f"validation error: activity.{field} must be a string, got {kind}"]


@pytest.mark.parametrize(
    "time",
    ["2022-02-14 12:34:30Z", "2022-02-14T12:34:30", "2022-02-30T00:00:00Z", "14/02/2022",
     "2022-02-14T12:34:30.123456", "2022-02-14t12:34:30z", "2022-02-14T25:00:00Z"],
)
def test_activity_time_that_is_not_rfc3339_is_an_error_quoting_it(time: str) -> None:
    result = validate(add_activities(activity(time=time)))
    assert messages(result) == [
        f'validation error: activity.time "{time}" invalid '
        '(RFC 3339 required, e.g. "2022-02-14T12:34:30Z")'
    ]


@pytest.mark.parametrize("time", ["2022-02-14T12:34:30+01:00", "2022-02-14T12:34:30.123Z",
                                  "2024-02-29T00:00:00-08:00"])
def test_activity_time_in_any_rfc3339_spelling_passes(time: str) -> None:
    assert validate(add_activities(activity(time=time))).valid


def test_activity_that_is_not_an_object_is_an_error_naming_its_type() -> None:
    result = validate(add_activities("post:1"))
    assert messages(result) == ["validation error: activity must be a JSON object, got string"]


def test_activity_with_several_problems_reports_only_the_first() -> None:
    result = validate(add_activities(activity(actor="", verb=None, time="soon")))
    assert messages(result) == ["validation error: activity.actor required"]


def test_every_bad_activity_in_a_line_is_reported_at_its_index() -> None:
    result = validate(add_activities(activity(), activity(verb=""), activity(),
                                     activity(object=3)))
    assert [p.index for p in result.errors] == [1, 3]
    assert result.stats == stats(add_activities=2)


def test_activity_extra_fields_are_custom_data_and_pass() -> None:
    assert validate(add_activities(activity(tags=["a"], score=3, extra={"x": 1}))).valid


def test_activity_to_target_of_unknown_feed_group_is_a_reference_error() -> None:
    result = validate(add_activities(activity(to=["notify:7", "profile:7"])))
    assert messages(result) == [
        'reference error: feed group "profile" doesn\'t exist (activity.to "profile:7")'
    ]
    assert result.errors[0].index == 0
    assert result.stats == EMPTY_STATS


def test_every_unknown_feed_group_in_activity_to_is_reported() -> None:
    result = validate(add_activities(activity(to=["profile:7", "notify:1", "board:2"])))
    assert [m.split('"')[1] for m in messages(result)] == ["profile", "board"]


def test_activity_to_that_is_not_an_array_names_the_field() -> None:
    result = validate(add_activities(activity(to="notify:7")))
    assert messages(result) == ["validation error: activity.to must be an array, got string"]


def test_activity_to_target_that_is_not_a_feed_id_names_its_position() -> None:
    result = validate(add_activities(activity(to=["notify:7", "notify"])))
    assert messages(result) == [
        'validation error: activity.to[1] "notify" invalid '
        '("group:id" allowed, group ^\\w+$, id ^[\\w-]+$)'
    ]


# -- follow -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["notify:2", "digest:2"])
def test_following_a_feed_that_is_not_flat_is_an_error(target: str) -> None:
    result = validate(follow("user:1", target))
    group = target.partition(":")[0]
    assert messages(result) == [
        f'validation error: follow target "{target}" is not a flat feed '
        f'(feed group "{group}" is {APP_FEED_GROUPS[group]})'
    ]
    assert result.errors[0].index == 1
    assert result.stats == stats(follow=1)


@pytest.mark.parametrize("source", ["notify:1", "digest:1", "user:1"])
def test_any_kind_of_feed_may_follow_a_flat_feed(source: str) -> None:
    assert validate(follow("user:2", feed_id=source)).valid


def test_follow_target_of_unknown_feed_group_is_a_reference_error() -> None:
    result = validate(follow("people:2"))
    assert messages(result) == [
        'reference error: feed group "people" doesn\'t exist (follow target "people:2")'
    ]


def test_follow_source_of_unknown_feed_group_is_a_reference_error() -> None:
    result = validate(follow("user:2", feed_id="home:1"))
    assert messages(result) == [
        'reference error: feed group "home" doesn\'t exist (feedId "home:1")'
    ]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"feed": "user:2"}, "validation error: follow target must be a string, got object"),
        (None, "validation error: follow target required"),
        ("user2", 'validation error: follow target "user2" invalid '
                  '("group:id" allowed, group ^\\w+$, id ^[\\w-]+$)'),
    ],
)
def test_follow_target_that_is_not_a_feed_id_is_an_error(target: Any, message: str) -> None:
    assert messages(validate(follow(target))) == [message]


# -- reactions ----------------------------------------------------------------------------


def test_reaction_naming_activity_added_earlier_in_file_is_resolved() -> None:
    result = validate(add_activities(activity()), line("reactions", reaction()))
    assert result.valid
    assert result.stats == stats(add_activities=1, reactions=1)


def test_reaction_naming_activity_added_later_in_file_is_resolved() -> None:
    result = validate(line("reactions", reaction()), add_activities(activity()))
    assert result.valid
    assert result.stats == stats(add_activities=1, reactions=1)


def test_reaction_names_an_activity_by_instant_whatever_the_offset_spelling() -> None:
    result = validate(
        add_activities(activity(time="2022-02-14T13:34:30.500+01:00")),
        line("reactions", reaction(activity_time="2022-02-14T12:34:30.5Z")),
    )
    assert result.valid


def test_reaction_naming_activity_not_in_file_is_a_reference_error_at_its_place() -> None:
    result = validate(
        add_activities(activity(foreign_id="post:1")),
        line("reactions", reaction(), reaction(id="r2", activity_foreign_id="post:9")),
    )
    assert messages(result) == [
        'reference error: activity with foreign_id "post:9" and time "2022-02-14T12:34:30Z" '
        "doesn't exist in the file (reaction.activity_foreign_id)"
    ]
    problem = result.errors[0]
    assert (problem.item, problem.line, problem.index) == (1, 2, 1)
    assert result.stats == stats(add_activities=1, reactions=1)


def test_reaction_with_the_right_foreign_id_but_another_time_is_not_resolved() -> None:
    result = validate(add_activities(activity()),
                      line("reactions", reaction(activity_time="2022-02-14T12:34:31Z")))
    assert result.error_count == 1
    assert messages(result)[0].startswith("reference error: activity with foreign_id")


def test_unresolved_reactions_are_reported_after_line_problems_in_line_order() -> None:
    result = validate(
        line("reactions", reaction(activity_foreign_id="a")),
        line("users", {"id": ""}),
        line("reactions", reaction(activity_foreign_id="b")),
        line("collections", collection(id="")),
    )
    assert [(p.line, p.message.split(":")[0]) for p in result.errors] == [
        (2, "validation error"), (4, "validation error"),
        (1, "reference error"), (3, "reference error"),
    ]


def test_reaction_with_activity_id_needs_no_activity_in_file() -> None:
    result = validate(line("reactions", reaction(activity_id="5f0e-uuid",
                                                 activity_foreign_id=_DROP, activity_time=_DROP)))
    assert result.valid
    assert result.stats == stats(reactions=1)


@pytest.mark.parametrize("field", ["id", "kind", "user_id", "time"])
def test_reaction_missing_required_field_names_it(field: str) -> None:
    result = validate(line("reactions", reaction(**{field: _DROP})))
    assert messages(result) == [f"validation error: reaction.{field} required"]


def test_reaction_field_of_wrong_json_type_names_the_field_and_type() -> None:
    result = validate(line("reactions", reaction(user_id=["u1"])))
    assert messages(result) == ["validation error: reaction.user_id must be a string, got array"]


def test_reaction_without_any_activity_reference_is_an_error() -> None:
    result = validate(line("reactions", reaction(activity_foreign_id=_DROP, activity_time=_DROP)))
    assert messages(result) == [
        "validation error: either reaction.activity_id or reaction.activity_foreign_id and "
        "reaction.activity_time required"
    ]


def test_reaction_with_foreign_id_but_no_activity_time_names_the_missing_field() -> None:
    result = validate(line("reactions", reaction(activity_time=_DROP)))
    assert messages(result) == ["validation error: reaction.activity_time required"]


@pytest.mark.parametrize(("field", "value"), [("time", "yesterday"),
                                              ("activity_time", "2022-02-14")])
def test_reaction_bad_timestamp_names_the_field(field: str, value: str) -> None:
    result = validate(add_activities(activity()), line("reactions", reaction(**{field: value})))
    assert messages(result) == [
        f'validation error: reaction.{field} "{value}" invalid '
        '(RFC 3339 required, e.g. "2022-02-14T12:34:30Z")'
    ]


def test_reaction_activity_id_of_wrong_type_names_the_field() -> None:
    result = validate(line("reactions", reaction(activity_id=17)))
    assert messages(result) == [
        "validation error: reaction.activity_id must be a string, got number"
    ]


def test_reaction_in_an_over_long_line_resolved_later_is_not_counted() -> None:
    entry = reaction()
    over = line("reactions", *([entry] * 10_001))
    result = validate(over, add_activities(activity()))
    assert result.error_count == 1
    assert result.stats == stats(add_activities=1)


# -- users and collections ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({}, "validation error: user.id required"),
        ({"id": ""}, "validation error: user.id required"),
        ({"id": 1}, "validation error: user.id must be a string, got number"),
        ("u1", "validation error: user must be a JSON object, got string"),
    ],
)
def test_user_needs_a_non_empty_string_id(user: Any, message: str) -> None:
    assert messages(validate(line("users", user))) == [message]


@pytest.mark.parametrize(
    ("field", "value"),
    [(field, value) for field in ("collection", "id", "data") for value in (_DROP, None, "")
     if (field, value) != ("data", "")],  # data "" is a wrong type, checked below
)
def test_collection_entry_missing_or_empty_field_names_it(field: str, value: Any) -> None:
    result = validate(line("collections", collection(**{field: value})))
    assert messages(result) == [f"validation error: collection.{field} required"]


def test_collection_entry_with_empty_object_data_is_an_error() -> None:
    result = validate(line("collections", collection(data={})))
    assert messages(result) == ["validation error: collection.data required"]


@pytest.mark.parametrize(("data", "kind"), [("gouda", "string"), ([1], "array"), (3, "number")])
def test_collection_data_that_is_not_an_object_names_the_field_and_type(
    data: Any, kind: str
) -> None:
    result = validate(line("collections", collection(data=data)))
    assert messages(result) == [f"validation error: collection.data must be an object, got {kind}"]


def test_collection_entry_that_is_not_an_object_is_an_error() -> None:
    result = validate(line("collections", ["food", "cheese"]))
    assert messages(result) == ["validation error: collection must be a JSON object, got array"]


# -- without the app's feed groups -------------------------------------------------------


def test_without_feed_groups_any_group_passes_with_one_warning_at_first_use() -> None:
    result = validate(
        line("users", {"id": "u1"}),
        add_activities(activity(to=["whatever:1"]), feed_id="anything:1"),
        follow("notify:2", "people:3", feed_id="home:1"),
        feed_groups=None,
    )
    assert result.valid
    assert result.stats == stats(users=1, add_activities=1, follow=2)
    assert result.warning_count == 1
    assert result.warnings == [Problem(FEED_GROUPS_NOT_CHECKED, item=1, line=2,
                                       offset=result.warnings[0].offset)]
    assert "--feed-groups" in FEED_GROUPS_NOT_CHECKED


def test_without_feed_groups_a_file_naming_none_gets_no_warning() -> None:
    result = validate(line("users", {"id": "u1"}), line("collections", collection()),
                      feed_groups=None)
    assert result.warnings == []
    assert result.warning_count == 0


def test_with_feed_groups_there_is_no_warning() -> None:
    assert validate(add_activities(activity())).warning_count == 0


def test_empty_feed_group_list_makes_every_group_unknown() -> None:
    result = validate(add_activities(activity()), feed_groups={})
    assert messages(result) == [
        'reference error: feed group "user" doesn\'t exist (feedId "user:1")'
    ]


# -- capped lists, true totals, finish ---------------------------------------------------


def test_error_list_is_capped_but_the_total_counts_every_error() -> None:
    result = validate(
        line("users", *[{"id": ""}] * 5),
        line("reactions", reaction(activity_foreign_id="missing")),
        max_errors=2,
    )
    assert result.error_count == 6
    assert len(result.errors) == 2
    assert [p.index for p in result.errors] == [0, 1]
    assert not result.valid


def test_capping_does_not_stop_the_checking_or_the_stats() -> None:
    result = validate(line("users", {"id": ""}, {"id": ""}, {"id": "ok"}), max_errors=0)
    assert result.errors == []
    assert result.error_count == 2
    assert result.stats == stats(users=1)


def test_finish_twice_gives_the_same_verdict_without_repeating_errors() -> None:
    validator = FeedsValidator(Options(feed_groups=None))
    validator.feed(0, 1, 0, line("reactions", reaction()))
    validator.feed(1, 2, 100, follow("user:2"))
    first = validator.finish()
    assert validator.finish() == first
    assert (first.error_count, first.warning_count) == (1, 1)


def test_long_bad_value_is_cut_short_in_the_message() -> None:
    result = validate(line("x" * 10_000))
    assert len(messages(result)[0]) < 200


def test_bad_value_with_quotes_and_control_characters_is_quoted_readably() -> None:
    result = validate(add_activities(activity(time='now"\n')))
    assert messages(result)[0].startswith('validation error: activity.time "now\\"\\n" invalid')


# -- parse_feed_groups ----------------------------------------------------------------------


def test_parse_feed_groups_reads_names_and_kinds_with_flat_by_default() -> None:
    assert parse_feed_groups("user,timeline,notify:notification, digest : aggregated") == {
        "user": "flat", "timeline": "flat", "notify": "notification", "digest": "aggregated",
    }


def test_parse_feed_groups_accepts_an_explicit_flat_kind_and_a_repeated_name() -> None:
    assert parse_feed_groups("user:flat,user") == {"user": "flat"}


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("user,notify:notifications", "kind 'notifications' invalid"),
        ("", "name must match"),
        ("user,,timeline", "name must match"),
        ("user-feed", "name must match"),
        (":flat", "name must match"),
        ("user:flat,user:aggregated", "given twice with different kinds"),
    ],
)
def test_parse_feed_groups_refuses_malformed_text_with_a_clear_message(
    text: str, complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_feed_groups(text)


def test_foreign_id_containing_nul_is_keyed_and_reported_intact() -> None:
    result = validate(add_activities(activity(foreign_id="a\x00b")),
                      line("reactions", reaction(activity_foreign_id="a\x00b"),
                           reaction(id="r2", activity_foreign_id="a\x00c")))
    assert messages(result) == [
        'reference error: activity with foreign_id "a\\u0000c" and time "2022-02-14T12:34:30Z" '
        "doesn't exist in the file (reaction.activity_foreign_id)"
    ]
