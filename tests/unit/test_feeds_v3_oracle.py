"""Oracle: our verdict on a Feeds v3 line against Stream's JSON Schemas for feeds items.

Hypothesis generates lines `{"type": T, "data": {...}}`: valid data of one type with
zero to three subtle changes, sometimes labelled with another type (the envelope's
`anyOf` would accept many of those; Stream's importer, and we, take the schema of T),
sometimes with a broken envelope. The verdict of `jsonschema` (with its format checker
and rfc3339-validator, so `date-time` is really checked; tests/schema_oracle.py) on
the envelope's own rules and on `data` under T's schema (`spec/stream-jsonschemas/
feeds/` of the reference tier, tests/references.py), adjusted by the deliberate
divergences in DIVERGENCES, must be ours: does the line get a "validation error:" or
"parse error:". Each divergence is a named predicate saying why (feeds_v3_fields.py
lists them too) and has an example below.

References are not about fields: a lone line's references are warnings, left out.
Types without a published schema (poll, poll_vote, user_interest) are outside the
envelope's enum: we accept them with a warning, shown by examples. The ground both
describe: ASCII ids, no trailing newlines; outside it the divergences are examples.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from tests.references import reference_dir
from tests.schema_oracle import (
    DROP,
    URLS,
    Divergence,
    SchemaOracle,
    Twist,
    apply_twist,
    as_json,
    date_time_fields,
    drop,
    ids,
    json_scalars,
    json_values,
    lower_case_time,
    mostly,
    odd_strings,
    one,
    strings_of_lengths,
    time_edges,
    timestamps,
    together,
    valid_timestamps,
)

from streamdrop.validation.feeds_v3 import SCHEMA_TYPES, UNPUBLISHED_TYPES, FeedsV3Validator
from streamdrop.validation.model import Options

pytestmark = pytest.mark.reference
ORACLE = SchemaOracle(reference_dir("spec", "stream-jsonschemas", "feeds"))
ENVELOPE = ORACLE.schemas["item.schema.json"]
TYPES = tuple(ENVELOPE["properties"]["type"]["enum"])
SCHEMA = {kind: ORACLE.schemas[f"{kind}.schema.json"] for kind in TYPES}
PROPERTIES = {kind: schema["properties"] for kind, schema in SCHEMA.items()}
REQUIRED = {kind: tuple(schema.get("required", ())) for kind, schema in SCHEMA.items()}
# The envelope's own rules: every schema of its anyOf is an object, which is all the
# envelope asks of `data` before the type's schema is applied.
ENVELOPE_ONLY = copy.deepcopy(ENVELOPE)
ENVELOPE_ONLY["properties"]["data"] = {"type": "object"}
ORACLE.schemas["envelope-only"] = ENVELOPE_ONLY


def schema_errors(item: Any) -> list[str]:
    """The envelope's rules, then the schema of the item's own type."""
    errors = ORACLE.errors("envelope-only", item)
    if errors:
        return errors
    return ORACLE.errors(f"{item['type']}.schema.json", item["data"])


def our_field_errors(item: Any) -> list[str]:
    """Our errors about one line, alone in a Feeds v3 file."""
    validator = FeedsV3Validator(Options())
    validator.feed(0, 1, 0, item)
    result = validator.finish()
    return [p.message for p in result.errors
            if p.message.startswith(("validation error:", "parse error:"))]


# -- the deliberate divergences: each True when we reject what the schema accepts ---------

def _integer_fields(kind: str) -> list[str]:
    return [name for name, prop in PROPERTIES[kind].items() if prop.get("type") == "integer"]


def integral_float_is_no_integer(kind: str, data: dict[str, Any]) -> bool:
    """jsonschema takes 1.0 as an integer; Stream's importer (Go) cannot decode it into an
    integer field, so a file with it would fail there."""
    return any(type(data.get(name)) is float for name in _integer_fields(kind))


def lower_case_t_or_z(kind: str, data: dict[str, Any]) -> bool:
    """jsonschema upper-cases a date-time before rfc3339-validator sees it, so "…t…z" passes;
    Go's time.Parse (Stream) and our rules want upper-case T and Z."""
    values = [data.get(name) for name in date_time_fields(PROPERTIES[kind])]
    preferences = data.get("push_preferences") if kind == "user" else None
    if type(preferences) is dict:
        values.append(preferences.get("disabled_until"))
    return any(lower_case_time(v) for v in values)


def fid_is_not_group_and_id(kind: str, data: dict[str, Any]) -> bool:
    """A feed's fid is "<group_id>:<id>" (the schema's description, spec/stream-import-v2.md);
    the schema only asks for a non-empty string."""
    return kind == "feed" and data.get("fid") != f"{data.get('group_id')}:{data.get('id')}"


def feed_follows_itself(kind: str, data: dict[str, Any]) -> bool:
    """"'source_fid' and 'target_fid' must differ (enforced at runtime)", says the schema."""
    return kind == "follow" and data.get("source_fid") == data.get("target_fid")


def tag_visibility_without_tag(kind: str, data: dict[str, Any]) -> bool:
    """visibility "tag" needs visibility_tag ("enforced at runtime, not in schema")."""
    return (kind == "activity" and data.get("visibility") == "tag"
            and not data.get("visibility_tag"))


def bookmark_of_nothing(kind: str, data: dict[str, Any]) -> bool:
    """The anyOf only asks for object_id or activity_id to be there; an empty object_id is
    replaced by activity_id, so with both empty the bookmark names nothing."""
    return (kind == "bookmark" and ("object_id" in data or "activity_id" in data)
            and not data.get("object_id") and not data.get("activity_id"))


DIVERGENCES: tuple[Divergence, ...] = (
    integral_float_is_no_integer, lower_case_t_or_z, fid_is_not_group_and_id,
    feed_follows_itself, tag_visibility_without_tag, bookmark_of_nothing,
)


def expected_valid(item: Any) -> bool:
    """The schemas' verdict, adjusted by the deliberate divergences (all stricter)."""
    if schema_errors(item):
        return False
    return not any(d(item["type"], item["data"]) for d in DIVERGENCES)


# -- generating items ------------------------------------------------------------------

long_strings = strings_of_lengths([254, 255, 256])
NUMBERS = st.integers(-(2**31), 2**31) | st.floats(-1e6, 1e6, allow_nan=False)


def good_value(prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value this property may take on both sides (from the schema's own words)."""
    kinds = prop.get("type")
    if "enum" in prop:
        return st.sampled_from(prop["enum"])
    if prop.get("format") == "date-time":
        return valid_timestamps() | st.none() if kinds == ["string", "null"] else \
            valid_timestamps()
    if kinds == "integer":
        return st.integers(-(2**31), 2**31)
    if kinds == "number":
        return NUMBERS
    if kinds == "boolean":
        return st.booleans()
    if kinds == "array":
        items = prop.get("items")
        return st.lists(good_value(items) if items else json_values,
                        min_size=prop.get("minItems", 0), max_size=3)
    if kinds == "object":
        return good_object(prop)
    if prop.get("format") == "uri":
        return st.sampled_from(URLS[:2])
    if kinds == ["string", "null"]:
        return ids | st.none()
    return ids if prop.get("minLength") else ids | st.just("")


def good_object(prop: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = prop.get("properties", {})
    required = set(prop.get("required", ()))
    fixed = st.fixed_dictionaries(
        {name: good_value(properties[name]) for name in required},
        optional={name: good_value(p) for name, p in properties.items() if name not in required})
    extra = prop.get("additionalProperties")
    if extra is False:
        return fixed
    values = good_value(extra) if isinstance(extra, dict) else json_values
    more = st.dictionaries(st.sampled_from(["x", "y", "my_field"]), values,
                           min_size=prop.get("minProperties", 0), max_size=2)
    return st.tuples(more, fixed).map(lambda pair: {**pair[0], **pair[1]})


def any_value(prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value, right or subtly wrong, for this property."""
    good = good_value(prop)
    kinds = prop.get("type")
    if prop.get("format") == "date-time":
        return mostly(good, timestamps, st.just(None))
    if kinds == "integer":
        return mostly(good, st.sampled_from([1.0, -0.0, 2.5, "1", True, None]))
    if kinds == "number":
        return mostly(good, st.sampled_from(["1.5", True, None]))
    if kinds == "boolean":
        return mostly(good, st.sampled_from(["true", 1, 0, None]))
    if kinds == "array":
        return mostly(good, st.just([]), st.lists(json_scalars, min_size=1, max_size=2),
                      st.lists(st.just(""), min_size=1, max_size=2))
    if kinds == "object":
        return mostly(good, st.dictionaries(ids, json_scalars, max_size=2), st.just({}))
    return mostly(good, st.just(""), st.just(None), odd_strings, long_strings,
                  st.sampled_from(["public", "activity", "comment", "all", "tag", "Public"]))


@st.composite
def valid_data(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """Data both sides accept (our divergences included), with some optional fields."""
    props = PROPERTIES[kind]
    data: dict[str, Any] = {name: draw(good_value(props[name])) for name in REQUIRED[kind]}
    free = sorted(set(props) - set(data) - {"visibility", "object_id", "activity_id"})
    for name in draw(st.sets(st.sampled_from(free), max_size=4)):
        data[name] = draw(good_value(props[name]))
    if kind == "feed":
        data["fid"] = f"{data['group_id']}:{data['id']}"
    elif kind == "follow" and data["source_fid"] == data["target_fid"]:
        data["target_fid"] += "x"
    elif kind == "activity" and draw(st.booleans()):
        data["visibility"] = draw(st.sampled_from(["public", "private", "tag"]))
        if data["visibility"] == "tag":
            data["visibility_tag"] = draw(ids)
    elif kind == "bookmark":
        data[draw(st.sampled_from(["object_id", "activity_id"]))] = draw(ids)
    return data


def _twists() -> dict[str, list[Twist]]:
    """Per type, changes aimed at the edges of the rules."""
    user_props = PROPERTIES["user"]
    return {
        "user": [
            one("id", st.just(""), long_strings, odd_strings,
                st.sampled_from(["@admin", "a.b", "a b", "a:b", "a/b", "a\tb"])),
            one("push_preferences", any_value(user_props["push_preferences"]),
                st.fixed_dictionaries({"chat_level": st.sampled_from(["some", "", "ALL"])}),
                st.fixed_dictionaries({"disabled_until": timestamps})),
            one("privacy_settings", st.dictionaries(
                st.sampled_from(["typing_indicators", "read_receipts", "delivery_receipts", "x"]),
                st.sampled_from([{}, {"enabled": "yes"}, {"enabled": True, "x": 1}, None,
                                 {"enabled": False}]), min_size=1, max_size=2)),
            one("teams_role", st.dictionaries(ids, json_scalars, min_size=1, max_size=2)),
            one("created_at", time_edges),
        ],
        "feed": [
            together(group_id=st.sampled_from(["user", "", DROP]),
                     id=st.sampled_from(["alice", "", DROP]),
                     fid=st.sampled_from(["user:alice", "user:bob", "alice", "", DROP])),
            one("visibility", st.sampled_from(["public", "tag", "", "Public"])),
            one("created_by_id", drop, st.just("")), one("last_watched_at", time_edges),
        ],
        "feed_group": [
            one("id", st.sampled_from([1, 1.0, 2.5, "1", True, None])),
            one("aggregation_version", st.sampled_from([3, 3.0, -1])),
            one("default_visibility", st.sampled_from(["", "public", "tag", None])),
            one("last_feed_get_at", st.none(), time_edges, timestamps),
            one("group_id", st.just(""), drop),
        ],
        "feed_view": [
            one("app_pk", st.sampled_from([7, 7.0, "7"])), one("view_id", st.just(""), drop),
            one("last_feed_get_at", st.none(), time_edges),
        ],
        "activity": [
            one("fids", st.just([]), st.just([""]), st.just(["user:a", 1]), drop,
                st.just("user:a")),
            together(visibility=st.sampled_from(["tag", "public", "private", "", DROP]),
                     visibility_tag=st.sampled_from(["vip", "", DROP, None])),
            one("attachments", st.lists(st.fixed_dictionaries({}, optional={
                "image_url": st.sampled_from(URLS) | json_scalars,
                "type": json_scalars, "migrate_resources": json_scalars}), max_size=2),
                st.just(["a"])),
            one("location", st.fixed_dictionaries({}, optional={"lat": json_scalars,
                                                                "lng": NUMBERS})),
            one("type", st.just(""), drop), one("expires_at", time_edges),
        ],
        "comment": [
            one("object_type", st.sampled_from(["activity", "comment", "", None]), drop),
            one("parent_id", st.sampled_from([None, "", "c0", 1])),
            one("text", st.just(""), drop),
            one("status", st.sampled_from(["active", "hidden", "gone", ""])),
            one("attachments", st.just([{"asset_url": "http://x"}]),
                st.just([{"asset_url": "https://x"}])),
        ],
        "reaction": [
            one("activity_id", st.just(""), drop), one("comment_id", st.sampled_from(["", None])),
            one("type", st.just(""), json_scalars), one("updated_at", time_edges),
        ],
        "bookmark": [
            together(object_id=st.sampled_from([DROP, "", "a1", None]),
                     activity_id=st.sampled_from([DROP, "", "a1"])),
            together(object_id=st.sampled_from([DROP, "", "c1"]),
                     object_type=st.sampled_from(["comment", "activity", "", DROP])),
        ],
        "follow": [
            together(source_fid=st.sampled_from(["user:a", "", DROP]),
                     target_fid=st.sampled_from(["user:a", "user:b", "", DROP])),
            one("status", st.sampled_from(["accepted", "declined", ""])),
            one("push_preference", st.sampled_from(["all", "none", "some"])),
        ],
        "collection": [
            one("custom", st.just({}), drop, st.just({"k": None}), st.just([])),
            one("name", st.just(""), drop), one("user_id", st.just(""), json_scalars),
        ],
    }


TWISTS = _twists()
BOGUS_TYPES = ["channel", "message", "Activity", "", "feeds", "reactions"]


@st.composite
def items(draw: st.DrawFn, kind: str) -> Any:
    """A line whose data was made for `kind`: usually unchanged, one to three subtle
    changes, sometimes labelled with another type or with a broken envelope."""
    data = draw(valid_data(kind))
    props = PROPERTIES[kind]
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 1, 2, 3]))):
        change = draw(st.sampled_from(["drop", "set", "twist", "twist", "twist", "twist",
                                       "extra"]))
        if change == "drop" and data:
            del data[draw(st.sampled_from(sorted(data)))]
        elif change == "set":
            name = draw(st.sampled_from(sorted(props)))
            data[name] = draw(any_value(props[name]))
        elif change == "twist":
            apply_twist(data, draw(st.sampled_from(TWISTS[kind]).flatmap(lambda t: t)))
        else:
            data[draw(st.sampled_from(["custom_field", "nested", "fids", "id"]))] = \
                draw(json_values)
    item: dict[str, Any] = {"type": kind, "data": data}
    envelope = draw(st.sampled_from(["same"] * 12 + ["other type"] * 3 + ["broken"]))
    if envelope == "other type":
        item["type"] = draw(st.sampled_from(TYPES))
    elif envelope == "broken":
        twist = draw(st.sampled_from(["type", "data", "extra", "no data"]))
        if twist == "type":
            item["type"] = draw(st.sampled_from(BOGUS_TYPES) | json_scalars)
        elif twist == "data":
            item["data"] = draw(json_scalars | st.lists(json_scalars, max_size=2))
        elif twist == "extra":
            item[draw(st.sampled_from(["item", "id", "Type"]))] = draw(json_values)
        else:
            del item["data"]
    return as_json(item)


# -- the property ------------------------------------------------------------------------

def _explain(item: Any, ours: list[str]) -> str:
    kind, data = item.get("type"), item.get("data")
    diverging = ([d.__name__ for d in DIVERGENCES if d(kind, data)]
                 if kind in SCHEMA and type(data) is dict else [])
    return (f"\nline: {json.dumps(item)[:2000]}\nschema errors: {schema_errors(item)}"
            f"\ndivergences: {diverging}\nour errors: {ours}")


EXAMPLES_PER_TYPE = {"user": 200, "activity": 200, "feed": 150, "bookmark": 150}


@pytest.mark.parametrize("kind", TYPES)
def test_our_verdict_is_the_schemas_adjusted_by_the_divergences(kind: str) -> None:
    @settings(max_examples=EXAMPLES_PER_TYPE.get(kind, 100), deadline=None)
    @given(items(kind))
    def check(item: Any) -> None:
        expected = expected_valid(item)
        ours = our_field_errors(item)
        event("valid" if expected else "invalid")
        if type(item.get("data")) is dict and item.get("type") in SCHEMA:
            for divergence in DIVERGENCES:
                if divergence(item["type"], item["data"]):
                    event(divergence.__name__)
        assert (not ours) == expected, _explain(item, ours)

    check()


def test_we_know_the_schemas_types_and_no_other() -> None:
    assert set(TYPES) == set(SCHEMA_TYPES)
    assert not set(UNPUBLISHED_TYPES) & set(TYPES)


def test_generated_valid_data_is_valid_on_both_sides() -> None:
    """The base of every generated line passes both, so each change is what breaks it."""
    @settings(max_examples=200, deadline=None)
    @given(st.sampled_from(TYPES).flatmap(
        lambda kind: valid_data(kind).map(lambda data: as_json({"type": kind, "data": data}))))
    def check(item: Any) -> None:
        assert not schema_errors(item), item
        assert our_field_errors(item) == [], item

    check()


def test_the_oracle_checks_date_time_and_resolves_refs() -> None:
    user = {"id": "u1", "created_at": "2022-02-30T00:00:00Z"}
    assert ORACLE.errors("user.schema.json", user)
    assert not ORACLE.errors("user.schema.json", {**user, "created_at": "2024-02-29T00:00:00Z"})
    # The envelope reaches every item schema through its $refs:
    assert ORACLE.errors("item.schema.json", {"type": "user", "data": {"id": 1}})


# -- the envelope's anyOf, and what has no schema --------------------------------------------

def test_the_envelopes_any_of_accepts_an_activity_without_fids_and_we_do_not() -> None:
    line = {"type": "activity", "data": {"id": "a1", "type": "post", "user_id": "u1",
                                         "object_id": "a0"}}
    assert ORACLE.errors("item.schema.json", line) == []  # it fits bookmark.schema.json
    assert ORACLE.errors("activity.schema.json", line["data"])
    assert our_field_errors(line) == ["validation error: activity.fids required"]


@pytest.mark.parametrize("kind", UNPUBLISHED_TYPES)
def test_types_without_a_schema_are_outside_the_envelope_and_pass_with_a_warning(
        kind: str) -> None:
    line = {"type": kind, "data": {"id": "p1"}}
    assert ORACLE.errors("item.schema.json", line)
    validator = FeedsV3Validator(Options())
    validator.feed(0, 1, 0, line)
    result = validator.finish()
    assert result.errors == []
    assert [p.message.split(":")[0] for p in result.warnings] == ["schema warning"]


# -- one example per divergence: the schema accepts, we reject ------------------------------

TS = "2022-02-14T12:34:30Z"
FEED = {"group_id": "user", "id": "alice", "fid": "user:alice", "created_by_id": "alice"}
ACTIVITY = {"id": "a1", "type": "post", "user_id": "alice", "fids": ["user:alice"]}

DIVERGENCE_EXAMPLES: list[tuple[Divergence, str, dict[str, Any], str]] = [
    (integral_float_is_no_integer, "feed_group", {"group_id": "g", "id": 1.0},
     "feed_group.id must be an integer, got number"),
    (lower_case_t_or_z, "activity", {**ACTIVITY, "created_at": "2022-02-14t12:34:30z"},
     "activity.created_at"),
    (fid_is_not_group_and_id, "feed", {**FEED, "fid": "user:bob"},
     'feed.fid "user:bob" must be "<group_id>:<id>"'),
    (feed_follows_itself, "follow", {"source_fid": "user:a", "target_fid": "user:a"},
     "a feed cannot follow itself"),
    (tag_visibility_without_tag, "activity", {**ACTIVITY, "visibility": "tag"},
     "activity.visibility_tag"),
    (bookmark_of_nothing, "bookmark", {"user_id": "u1", "object_id": ""},
     "bookmark.object_id must not be empty"),
]


@pytest.mark.parametrize(("divergence", "kind", "data", "message"), DIVERGENCE_EXAMPLES,
                         ids=[d.__name__ for d, *_ in DIVERGENCE_EXAMPLES])
def test_divergence_example(divergence: Divergence, kind: str, data: dict[str, Any],
                            message: str) -> None:
    line = {"type": kind, "data": data}
    assert schema_errors(line) == []
    assert [d for d in DIVERGENCES if d(kind, data)] == [divergence]
    ours = our_field_errors(line)
    assert len(ours) == 1
    assert message in ours[0]


def test_every_divergence_has_an_example() -> None:
    assert {d for d, *_ in DIVERGENCE_EXAMPLES} == set(DIVERGENCES)


# Outside the generated ground: the schema (Python's re) accepts, we (as Go) reject.
OUT_OF_GROUND = [
    pytest.param("user", {"id": "é"}, 'user.id "é" invalid', id="unicode-w"),
    pytest.param("user", {"id": "u1\n"}, "user.id", id="pattern-trailing-newline"),
    pytest.param("feed_view", {"view_id": "v", "created_at": TS + "\n"}, "feed_view.created_at",
                 id="date-time-trailing-newline"),
]


@pytest.mark.parametrize(("kind", "data", "message"), OUT_OF_GROUND)
def test_out_of_ground_divergence(kind: str, data: dict[str, Any], message: str) -> None:
    line = {"type": kind, "data": data}
    assert schema_errors(line) == []
    ours = our_field_errors(line)
    assert len(ours) == 1
    assert message in ours[0]
