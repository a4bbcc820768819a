"""The end of a chat file: stream-cli's completeness pass, then the Result in stream-cli's order.

Errors come as stream-cli printed them: field and parse errors in file
order, then reference problems by item, then distinct channels that miss
members; warnings (JSON Lines' missing references) in the same order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from streamdrop.validation import chat_fields as cf
from streamdrop.validation.chat_index import ChatIndex
from streamdrop.validation.chat_references import merge_in_item_order
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


def _joined(first: Problems, *then: Problems) -> Problems:
    joined = Problems(first.limit)
    joined.count = first.count + sum(more.count for more in then)
    joined.kept = list(first.kept)
    for more in then:
        joined.kept += more.kept[:first.limit - len(joined.kept)]
    return joined


@dataclass(slots=True)
class Findings:
    """What checking a chat file found, before it is worded as a Result.

    Each is counted whole with its first `max_errors` kept; reference
    problems come as several logs, each in item order (they are merged), so
    that the findings of the parts of a file checked apart can be joined.
    """

    jsonl: bool
    field_errors: Problems
    reference_errors: list[Problems]
    reference_warnings: list[Problems]
    completeness_errors: Problems
    completeness_warnings: Problems
    stats: dict[str, int]


def completeness_findings(index: ChatIndex, *, strict: bool, limit: int,
                          before: Sorted = ()) -> tuple[Problems, Problems]:
    """Completeness problems, after those of `before` (the schema warnings)."""
    errors, warnings = Problems(limit), Problems(limit)
    for as_error, problem in itertools.chain(before, completeness_problems(index, strict=strict)):
        (errors if as_error else warnings).add(problem)
    return errors, warnings


def chat_result(findings: Findings) -> Result:
    """The verdict: field errors first, then references by item, then completeness."""
    limit = findings.field_errors.limit
    errors = _joined(findings.field_errors,
                     merge_in_item_order(findings.reference_errors, limit),
                     findings.completeness_errors)
    warnings = _joined(merge_in_item_order(findings.reference_warnings, limit),
                       findings.completeness_warnings)
    return Result(
        format="chat-jsonl" if findings.jsonl else "chat",
        stats=findings.stats,
        errors=errors.kept, warnings=warnings.kept,
        error_count=errors.count, warning_count=warnings.count,
    )
