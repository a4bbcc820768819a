"""What every part of a running daemon shares: settings, storage, clients, wake-ups, caches."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import anyio

from streamdrop.service.settings import Settings
from streamdrop.storage.protocol import TaskStore
from streamdrop.stream.client import StreamClient, fetch_app_options
from streamdrop.validation import Options

T = TypeVar("T")


class Nudge:
    """Wakes sleepers when there may be new work (an anyio Event that can be re-armed).

    `generation` counts the nudges: a sleeper that notes it before looking for work and
    passes it to `wait` is not put to sleep by a nudge that came while it was looking.
    """

    def __init__(self) -> None:
        self._event = anyio.Event()
        self.generation = 0

    def set(self) -> None:
        self.generation += 1
        self._event.set()
        self._event = anyio.Event()

    async def wait(self, seconds: float, since: int | None = None) -> None:
        """Until nudged (or nudged already after `since`), or `seconds` at most."""
        if since is not None and since != self.generation:
            await anyio.lowlevel.checkpoint()
            return
        with anyio.move_on_after(seconds):
            await self._event.wait()


async def shielded(work: Awaitable[T]) -> T:
    """Finish a database write even when the surrounding scope is being cancelled."""
    with anyio.CancelScope(shield=True):
        return await work
    raise AssertionError("unreachable: a shielded scope is never cancelled")


class AppOptionsCache:
    """Each target's roles and channel types, fetched at most once per `max_age` seconds.

    ListChannelTypes allows 60 calls a minute: one fetch serves every file of a burst.
    """

    def __init__(self, max_age: float, clock: Callable[[], float]) -> None:
        self._max_age = max_age
        self._clock = clock
        self._entries: dict[str, tuple[float, Options]] = {}
        self._lock = anyio.Lock()

    async def get(self, target: str, client: StreamClient) -> Options:
        async with self._lock:
            cached = self._entries.get(target)
            if cached is None or self._clock() - cached[0] > self._max_age:
                cached = (self._clock(), await fetch_app_options(client))
                self._entries[target] = cached
            return cached[1]

    async def for_rule(self, target: str, client: StreamClient, *,
                       lighter_validation_id: bool, strict_references: bool) -> Options:
        """The app's lists with a rule's own switches."""
        options = await self.get(target, client)
        return dataclasses.replace(options, lighter_validation_id=lighter_validation_id,
                                   strict_references=strict_references)


@dataclass
class Context:
    """What every step needs; built once by `app`."""

    settings: Settings
    repo: TaskStore
    clients: Mapping[str, StreamClient]
    owner: str
    clock: Callable[[], float] = time.time
    started_at: float = field(default_factory=time.time)
    draining: anyio.Event = field(default_factory=anyio.Event)
    # Two wake-ups: `nudge` for the workers (a task to claim, a slot freed), `poll_nudge`
    # for the poller (an import to follow). Each wakes only those who care.
    nudge: Nudge = field(default_factory=Nudge)
    poll_nudge: Nudge = field(default_factory=Nudge)
    # Nudged whenever work moved (a file registered, a step ended, a poll round done):
    # what `run --once` waits on to decide whether anything is left to do.
    progress: Nudge = field(default_factory=Nudge)
    rng: random.Random = field(default_factory=random.Random)
    app_options: AppOptionsCache = field(init=False)

    def __post_init__(self) -> None:
        self.app_options = AppOptionsCache(self.settings.daemon.validation_cache_seconds,
                                           self.clock)
