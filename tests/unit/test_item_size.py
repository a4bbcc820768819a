"""One item may take `max_item_bytes`: a longer one is reported with its place and size, unread.

The verdict must not depend on where chunks and regions end (the parallel
validation cuts files elsewhere than a single reader does), so every item is
measured, whether it fits in the buffer or streams past it.
"""

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

LIMIT = 200


def _read(data: bytes, *, jsonl: bool) -> tuple[list[tuple[int, int, int]], list[Problem]]:
    items: list[tuple[int, int, int]] = []
    errors: list[Problem] = []

    def on_items(first: int, values: list[Any], locate: reader.Locate) -> None:
        items.extend((first + k, *locate(k)) for k in range(len(values)))

    def on_region(first: int, region: bytes, locate: reader.Locate) -> int:
        values = msgspec.json.decode(b"[" + region + b"]")
        on_items(first, values, locate)
        return len(values)

    if jsonl:
        reader.LinesReader(io.BytesIO(data), lambda i, line, off, _: items.append((i, line, off)),
                           errors.append, max_item_bytes=LIMIT).read()
    else:
        reader.ArrayReader(io.BytesIO(data), on_region, on_items, errors.append,
                           max_item_bytes=LIMIT).read()
    return items, errors


def _item(size: int, n: int) -> dict[str, Any]:
    body = {"id": f"u{n}", "bio": ""}
    body["bio"] = "x" * max(0, size - len(json.dumps({"type": "user", "item": body})))
    return {"type": "user", "item": body}


SIZES = st.lists(st.sampled_from([30, 60, LIMIT - 5, LIMIT + 1, 5 * LIMIT, 40_000]),
                 min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(sizes=SIZES, chunk=st.sampled_from([7, 64, 1000, 1 << 20]),
       batch=st.sampled_from([16, 150, 1 << 19]), jsonl=st.booleans(), pretty=st.booleans())
def test_every_item_over_the_limit_is_reported_wherever_the_buffer_ends(
        sizes: list[int], chunk: int, batch: int, jsonl: bool, pretty: bool) -> None:
    items = [_item(size, n) for n, size in enumerate(sizes)]
    if jsonl:
        texts = [json.dumps({"type": "user", "data": i["item"]}).encode() for i in items]
        data = b"\n".join(texts) + b"\n"
        starts = [sum(len(t) + 1 for t in texts[:n]) for n in range(len(texts))]
    else:
        texts = [json.dumps(i, indent=1 if pretty else None).encode() for i in items]
        data = b"[" + b",\n".join(texts) + b"]"
        starts = [1 + sum(len(t) + 2 for t in texts[:n]) for n in range(len(texts))]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "CHUNK_SIZE", chunk)
        patch.setattr(reader, "BATCH_SIZE", batch)
        read, errors = _read(data, jsonl=jsonl)
    long = [n for n, text in enumerate(texts) if len(text) > LIMIT]
    assert [(e.item, e.offset) for e in errors] == [(n, starts[n]) for n in long]
    for error, n in zip(errors, long, strict=True):
        assert error.message == (f"validation error: the item is {len(texts[n]):,} bytes, more "
                                 f"than the {LIMIT:,} bytes one item may take (--max-item-bytes);"
                                 " it was skipped unread")
        assert error.line == data.count(b"\n", 0, starts[n]) + 1
    assert [(n, off) for n, _, off in read] == [
        (n, starts[n]) for n in range(len(texts)) if n not in long]


@pytest.mark.parametrize("element", [b'"' + b"y" * 5000 + b'"', b"1" * 5000,
                                     b'["a\\\\", "\\"]", ' + b'"z",' * 2000 + b'"]"]'])
def test_a_long_element_that_is_no_object_is_skipped_too(element: bytes) -> None:
    data = b'[{"type":"user","item":{"id":"a"}},' + element + b',{"type":"user","item":{}}]'
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "CHUNK_SIZE", 64)
        read, errors = _read(data, jsonl=False)
    assert [i for i, *_ in read] == [0, 2]
    assert [(e.item, e.offset) for e in errors] == [(1, 35)]
    assert f"the item is {len(element):,} bytes" in errors[0].message


def test_a_truncated_long_item_says_so() -> None:
    data = b'[{"type":"user","item":{"id":"' + b"a" * 5000
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "CHUNK_SIZE", 64)
        _, errors = _read(data, jsonl=False)
    assert len(errors) == 1 and "truncated" in errors[0].message
