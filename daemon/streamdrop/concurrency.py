"""Task groups that fail with the error that happened, not an ExceptionGroup around it.

anyio's task groups wrap even a single failure in an ExceptionGroup, which then
escapes every `except RetryableError:` above it and turns an outage into a
traceback. Where a group is opened, `task_group()` unwraps: the first real error
is raised as it is (the others are alike or follow from it; they are logged at debug).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
import structlog
from anyio.abc import TaskGroup

log = structlog.get_logger("streamdrop.concurrency")


def leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions inside a (nested) group, in order."""
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """What to raise for a failed group: a KeyboardInterrupt or SystemExit first, else the
    first error, else (only cancellations inside) the group's first leaf."""
    found = leaves(group)
    urgent = [e for e in found if not isinstance(e, Exception | anyio.get_cancelled_exc_class())]
    errors = [e for e in found if isinstance(e, Exception)]
    return (urgent or errors or found)[0]


@contextlib.asynccontextmanager
async def task_group() -> AsyncIterator[TaskGroup]:
    """`anyio.create_task_group()` raising its first error unwrapped."""
    try:
        async with anyio.create_task_group() as group:
            yield group
    except BaseExceptionGroup as exc:
        first = first_error(exc)
        if len(leaves(exc)) > 1:
            log.debug("task_group.errors", errors=[repr(e) for e in leaves(exc)])
        raise first from None
