"""Counts read as words: `1 error`, `2 errors`, thousands separated."""

from __future__ import annotations

import pytest

from streamdrop.wording import plural


@pytest.mark.parametrize(("count", "text"), [(0, "0 errors"), (1, "1 error"), (2, "2 errors"),
                                             (1204, "1,204 errors")])
def test_plural_agrees_with_the_count(count: int, text: str) -> None:
    assert plural(count, "error") == text


def test_an_irregular_plural_is_given() -> None:
    assert plural(3, "entry", "entries") == "3 entries"
