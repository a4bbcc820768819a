"""Following one import task of either API until it ends, polling within the rate limit."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable

import anyio

from streamdrop.stream.client import ImportTask, ImportV2Task, StreamClient
from streamdrop.stream.errors import NotFoundError, TerminalError
from streamdrop.stream.import_states import PollSchedule, next_interval

AnyImportTask = ImportTask | ImportV2Task
BAD_REQUEST = 400


async def get_any_import(client: StreamClient, import_id: str) -> AnyImportTask:
    """The task `import_id` of the chat import API, else of Import V2 (ids do not say which);
    NotFoundError when neither has it. [guess] Stream may refuse an id of the other API as a
    bad request rather than a missing task, so a 400 also sends the question to Import V2."""
    try:
        return await client.get_import(import_id)
    except TerminalError as exc:
        if not isinstance(exc, NotFoundError) and exc.status != BAD_REQUEST:
            raise
        chat_error = exc
    try:
        return await client.get_import_v2(import_id)
    except NotFoundError as exc:  # one answer for both: Stream's words for each
        raise NotFoundError(
            f"no import {import_id!r}: neither chat's /imports ({chat_error.message}) nor "
            f"Import V2 ({exc.message}) has it", status=exc.status, code=exc.code) from exc


def fetcher_for(
    client: StreamClient, task: AnyImportTask
) -> Callable[[], Awaitable[AnyImportTask]]:
    """How to look at `task` again, through the API it belongs to."""
    if isinstance(task, ImportV2Task):
        return lambda: client.get_import_v2(task.id)
    return lambda: client.get_import(task.id)


async def watch_import(
    client: StreamClient,
    import_id: str,
    *,
    schedule: PollSchedule | None = None,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> AsyncGenerator[AnyImportTask, None]:
    """Yield the task when first seen and at each change of state; stop after a terminal one.

    Works for a task of either API: the first look finds which, later ones ask it.
    stream-cli's `--watch` polled every 5 s forever; this stops at a final state
    and slows down while nothing happens. The client's budget makes a poll wait
    rather than be refused when the endpoint's is spent. Wrap it in
    `contextlib.aclosing` when it may be abandoned part way.
    """
    schedule = schedule or PollSchedule()
    task = await get_any_import(client, import_id)
    fetch = fetcher_for(client, task)
    last_state = task.state_label
    interval: float | None = None
    changed = True
    yield task
    while not task.terminal:
        interval = next_interval(schedule, interval, changed)
        await sleep(interval)
        task = await fetch()
        changed = task.state_label != last_state
        if changed:
            last_state = task.state_label
            yield task
