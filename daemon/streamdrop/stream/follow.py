"""Following one import task until it ends, polling within the rate limit."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable

import anyio

from streamdrop.stream.client import ImportTask, StreamClient
from streamdrop.stream.import_states import PollSchedule, next_interval


async def watch_import(
    client: StreamClient,
    import_id: str,
    *,
    schedule: PollSchedule | None = None,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> AsyncGenerator[ImportTask, None]:
    """Yield the task when first seen and at each change of state; stop after a terminal one.

    stream-cli's `--watch` polled every 5 s forever; this stops at `completed`
    or any `*failed*` state and slows down while nothing happens. The client's
    budget makes a poll wait rather than be refused when GetImport's is spent.
    Wrap it in `contextlib.aclosing` when it may be abandoned part way.
    """
    schedule = schedule or PollSchedule()
    last_state: str | None = None
    interval: float | None = None
    while True:
        task = await client.get_import(import_id)
        changed = task.state != last_state
        if changed:
            last_state = task.state
            yield task
        if task.terminal:
            return
        interval = next_interval(schedule, interval, changed)
        await sleep(interval)
