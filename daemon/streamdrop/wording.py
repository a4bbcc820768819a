"""Words for people: counts with their noun in the right number (pure)."""

from __future__ import annotations


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """`1 error`, `2 errors`, `1,204 messages`."""
    word = noun if count == 1 else (plural_form or noun + "s")
    return f"{count:,} {word}"
