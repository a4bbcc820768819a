"""Found files on their way from the watcher to the registrar, counted until registered."""

from __future__ import annotations

import anyio

from streamdrop.service.context import Nudge
from streamdrop.service.types import Found

BUFFER = 10_000


class Handoff:
    """A memory stream that knows how many items are still on their way.

    `--once` must not end while a file is between the watcher and the database:
    an item counts from `send` until the registrar calls `done` for it, and
    `settled` is nudged each time nothing is left in flight.
    """

    def __init__(self, buffer: int = BUFFER) -> None:
        self._send, self.receive = anyio.create_memory_object_stream[Found](
            max_buffer_size=buffer)
        self.in_flight = 0
        self.settled = Nudge()

    async def send(self, item: Found) -> None:
        self.in_flight += 1
        await self._send.send(item)

    def done(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self.settled.set()

    async def aclose(self) -> None:
        await self._send.aclose()
