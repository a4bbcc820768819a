"""The streaming readers: every layout, every chunk size, bad bytes reported and skipped."""

from __future__ import annotations

import io
import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamdrop.validation import reader
from streamdrop.validation.model import Problem


def read_array(data: bytes) -> tuple[list[tuple[int, int, int, Any]], list[Problem]]:
    items: list[tuple[int, int, int, Any]] = []
    errors: list[Problem] = []

    def on_items(first: int, values: list[Any], locate: reader.Locate) -> None:
        for k, value in enumerate(values):
            items.append((first + k, *locate(k), value))

    def on_region(first: int, region: bytes, locate: reader.Locate) -> int:
        values = msgspec.json.decode(b"[" + region + b"]")  # raises when not well-formed
        on_items(first, values, locate)
        return len(values)

    reader.ArrayReader(io.BytesIO(data), on_region, on_items, errors.append).read()
    return items, errors


def read_lines(data: bytes) -> tuple[list[tuple[int, int, int, Any]], list[Problem]]:
    items: list[tuple[int, int, int, Any]] = []
    errors: list[Problem] = []
    reader.LinesReader(io.BytesIO(data), lambda *item: items.append(item), errors.append).read()
    return items, errors


ITEMS = [
    {"type": "user", "item": {"id": "a", "teams": ["x"], "bio": "},{ not a boundary"}},
    {"type": "message", "item": {"id": "m", "attachments": [{"type": "a"}, {"type": "b"}]}},
    {"type": "channel", "item": {"id": "c", "nested": {"deep": [[{"x": "}]"}]]}}},
]


@pytest.mark.parametrize("indent", [None, 2, 4])
def test_items_decode_identically_in_every_layout(indent: int | None) -> None:
    data = json.dumps(ITEMS, indent=indent).encode()
    items, errors = read_array(data)
    assert errors == []
    assert [value for *_, value in items] == ITEMS
    for index, line, offset, _ in items:
        assert data[offset:offset + 1] == b"{"
        assert data[:offset].count(b"\n") + 1 == line
        assert index == [i for i, *_ in items].index(index)


def test_one_item_per_line_reports_each_items_own_line() -> None:
    data = b"[\n" + b",\n".join(json.dumps(item).encode() for item in ITEMS) + b"\n]\n"
    items, errors = read_array(data)
    assert errors == []
    assert [line for _, line, _, _ in items] == [2, 3, 4]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    elements=st.lists(st.dictionaries(st.text(max_size=5), json_values, max_size=4)
                      | json_values, max_size=12),
    indent=st.sampled_from([None, 0, 1, 3]),
    chunk=st.sampled_from([1, 2, 7, 64, 4096]),
    batch=st.sampled_from([1, 16, 200, 1 << 20]),
)
def test_any_array_reads_as_json_loads_does_with_exact_positions(
    elements: list[Any], indent: int | None, chunk: int, batch: int
) -> None:
    data = json.dumps(elements, indent=indent, ensure_ascii=False).encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "CHUNK_SIZE", chunk)
        patch.setattr(reader, "BATCH_SIZE", batch)
        items, errors = read_array(data)
    assert errors == []
    assert [value for *_, value in items] == elements
    for index, line, offset, value in items:
        assert items[index][0] == index
        assert data[:offset].count(b"\n") + 1 == line
        decoded, _ = json.JSONDecoder().raw_decode(data[offset:].decode())
        assert decoded == value


def test_small_chunks_give_the_same_items_and_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.dumps(ITEMS * 20, indent=1).encode()
    expected = read_array(data)
    monkeypatch.setattr(reader, "CHUNK_SIZE", 5)
    assert read_array(data) == expected


def test_item_with_many_nested_objects_is_read_in_linear_time() -> None:
    item = {"type": "message", "item": {"attachments": [{"type": "x"}] * 5000}}
    items, errors = read_array(json.dumps([item, item]).encode())
    assert errors == []
    assert len(items) == 2


@pytest.mark.parametrize("batch", [1, 30, 1 << 20])
def test_syntax_error_is_reported_with_line_and_column_and_reading_goes_on(
    batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "BATCH_SIZE", batch)
    data = b'[\n{"type":"user","item":{"id":"a"}},\n{"type":"user",,"item":{}},\n{"type":"x"}\n]'
    items, errors = read_array(data)
    assert [value["type"] for *_, value in items] == ["user", "x"]
    assert len(errors) == 1
    assert errors[0].item == 1 and errors[0].line == 3
    assert "line 3 column 16" in errors[0].message
    assert errors[0].message.startswith("parse error: ")


def test_truncated_file_is_one_clear_error() -> None:
    data = b'[\n{"type":"user","item":{"id":"a"}},\n{"type":"user","item":{"id":"b'
    items, errors = read_array(data)
    assert len(items) == 1
    assert len(errors) == 1 and "truncated" in errors[0].message and errors[0].line == 3


def test_array_never_closed_is_reported() -> None:
    items, errors = read_array(b'[{"type":"user","item":{"id":"a"}}')
    assert len(items) == 1
    assert len(errors) == 1 and "not closed" in errors[0].message


@pytest.mark.parametrize(("data", "words"), [
    (b"", "empty"),
    (b"   \n ", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "expected a JSON array"),
    (b'{"type": "user"}', "expected a JSON array"),
])
def test_not_an_array_is_refused_without_a_traceback(data: bytes, words: str) -> None:
    items, errors = read_array(data)
    assert items == []
    assert len(errors) == 1 and words in errors[0].message


def test_invalid_utf8_names_the_byte_and_its_place() -> None:
    data = (b'[{"type":"user","item":{"id":"a"}},\n'
            b'{"type":"user","item":{"id":"\xff"}},{"type":"x"}]')
    items, errors = read_array(data)
    assert [value["type"] for *_, value in items] == ["user", "x"]
    assert "invalid UTF-8 byte 0xff" in errors[0].message
    assert errors[0].line == 2 and errors[0].item == 1


def test_deeply_nested_item_is_an_error_not_a_crash() -> None:
    deep = b'{"type":"user","item":' + b"[" * 5000 + b"]" * 5000 + b"}"
    items, errors = read_array(b"[" + deep + b',{"type":"x"}]')
    assert [value["type"] for *_, value in items] == ["x"]
    assert "depth" in errors[0].message


def test_huge_string_value_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "CHUNK_SIZE", 4096)
    big = "x" * 3_000_000
    items, errors = read_array(json.dumps([{"type": "message", "item": {"text": big}}]).encode())
    assert errors == []
    assert items[0][3]["item"]["text"] == big


def test_elements_that_are_not_objects_are_passed_on_for_judgement() -> None:
    items, errors = read_array(b'[1, "two", [3], {"type":"x"}, null]')
    assert errors == []
    assert [value for *_, value in items] == [1, "two", [3], {"type": "x"}, None]


@pytest.mark.parametrize(("data", "words"), [
    (b'[{"a":1},]', "trailing comma"),
    (b'[{"a":1}] {"b":2}', "after the closing"),
    (b'[{"a":1} {"b":2}]', "expected ','"),
])
def test_array_punctuation_mistakes_are_reported(data: bytes, words: str) -> None:
    _, errors = read_array(data)
    assert any(words in error.message for error in errors)


def test_byte_order_mark_is_accepted() -> None:
    items, errors = read_array(b'\xef\xbb\xbf[{"a":1}]')
    assert errors == [] and items[0][3] == {"a": 1}


def test_json_lines_bad_line_is_one_error_and_the_next_line_is_read() -> None:
    data = b'{"a":1}\n{"a":\n\n{"a":3}\n{"a":4}'
    items, errors = read_lines(data)
    assert [(line, value) for _, line, _, value in items] == [(1, {"a": 1}), (4, {"a": 3}),
                                                              (5, {"a": 4})]
    assert len(errors) == 1 and errors[0].line == 2 and errors[0].offset == 8
    assert [index for index, *_ in items] == [0, 2, 3]


def test_json_lines_offsets_point_at_each_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "CHUNK_SIZE", 3)
    data = b'{"a":1}\r\n{"bb":22}\n\n{"c":3}\n'
    items, errors = read_lines(data)
    assert errors == []
    for _, _, offset, value in items:
        assert json.loads(data[offset:].split(b"\n", 1)[0]) == value
