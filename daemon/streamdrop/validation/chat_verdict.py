"""The end of a chat file: stream-cli's completeness pass, then the Result in stream-cli's order.

Errors come as stream-cli printed them: field and parse errors in file
order, then reference problems by item, then distinct channels that miss
members; warnings (JSON Lines' missing references) in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from streamdrop.validation import chat_fields as cf
from streamdrop.validation.chat_index import ChatIndex
from streamdrop.validation.model import Problem, Problems, Result

Sorted = Iterable[tuple[bool, Problem]]  # (is_error, problem)


def completeness_problems(index: ChatIndex, *, strict: bool) -> Iterator[tuple[bool, Problem]]:
    """Every distinct channel some of whose members have no member item, in file order."""
    for members, remaining, (item, line, offset) in index.distinct.values():
        if not remaining:
            continue
        missing = [m for m in members if m in remaining]
        message = (f"distinct channel: {cf.go_quoted_list(members)} is missing members: "
                   f"{cf.go_quoted_list(missing)}. Please include all members as separate "
                   "member entries")
        if strict:
            yield True, Problem(f"validation error: {message}", item, line, offset)
        else:
            yield False, Problem(f"reference warning: {message} (they may already "
                                 "exist in the app)", item, line, offset)


def _joined(first: Problems, then: Problems) -> Problems:
    joined = Problems(first.limit)
    joined.count = first.count + then.count
    joined.kept = (first.kept + then.kept)[:first.limit]
    return joined


def chat_result(*, jsonl: bool, field_errors: Problems, reference_errors: Problems,
                reference_warnings: Problems, completeness: Sorted,
                stats: dict[str, int]) -> Result:
    """The verdict: field errors first, then references, then completeness."""
    errors = _joined(field_errors, reference_errors)
    warnings = _joined(reference_warnings, Problems(0))
    for as_error, problem in completeness:
        (errors if as_error else warnings).add(problem)
    return Result(
        format="chat-jsonl" if jsonl else "chat",
        stats=stats,
        errors=errors.kept, warnings=warnings.kept,
        error_count=errors.count, warning_count=warnings.count,
    )
