"""A key twice in one object of a JSON Lines item is reported, naming the key and the line.

(Which value Stream's decoder keeps is not known. The array format is stream-cli's,
whose Go decoder keeps the last one, as streamdrop reads it: not reported there.)
"""

from __future__ import annotations

import io
import json

import pytest

from streamdrop.validation import Options
from streamdrop.validation.reader import repeated_key
from streamdrop.validation.run import validate_file

USER = b'{"type":"user","data":{"id":"a"}}\n'


def _errors(data: bytes) -> list[dict[str, object]]:
    out = validate_file(io.BytesIO(data), len(data), Options(), "chat-jsonl").to_json()
    return out["Errors"] or []  # type: ignore[return-value]


@pytest.mark.parametrize(("line", "key"), [
    (b'{"type":"user","data":{"id":"b","role":"user","role":"admin"}}', "role"),
    (b'{"type":"user","type":"user","data":{"id":"b"}}', "type"),
    (b'{"type":"user","data":{"id":"b","push_preferences":{"chat_level":"all",'
     b'"chat_level":"none"}}}', "chat_level"),
    (b'{"type": "user", "data": {"id": "b", "x\\"y": 1, "x\\"y": 2}}', 'x"y'),
])
def test_a_repeated_key_is_an_error_naming_it_and_its_line(line: bytes, key: str) -> None:
    errors = _errors(USER + line + b"\n")
    repeated = [e for e in errors if "appears twice" in str(e["error"])]
    assert len(repeated) == 1
    assert repeated[0]["error"] == (f"parse error: the key {json.dumps(key)} appears twice in "
                                    "one object at line 2; which value Stream keeps is not known")
    assert (repeated[0]["item"], repeated[0]["line"], repeated[0]["offset"]) == (1, 2, len(USER))


@pytest.mark.parametrize("line", [
    b'{"type":"user","data":{"id":"b","bio":"he said \\"a\\": b, \\"a\\": c"}}',
    b'{"type":"user","data":{"id":"b","a":{"k":1},"b":{"k":1}}}',  # same key, two objects
    b'{"type":"user","data":{"id":"b","bio":"\\u0022:"}}',
])
def test_no_repeat_no_report(line: bytes) -> None:
    assert _errors(USER + line + b"\n") == []


def test_repeated_key_finds_the_first_repeat() -> None:
    assert repeated_key(b'{"a":{"b":1,"c":2,"b":3},"a":1}') == "b"
    assert repeated_key(b'{"a":1}') is None
