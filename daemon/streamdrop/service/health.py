"""Is this daemon alive, is it ready: the answers `/healthz` and `/readyz` give, and the
prober that keeps each target's standing fresh while the daemon is idle.

Alive means the event loop answers (the answer comes from the loop itself, so a
wedged loop gives none). Ready means the database answers at the latest
migration, the watcher runs, and every target in use can be reached and takes
our credentials, as the latest call to it showed (`stream.contact`). Real
traffic counts: a target is probed only when nothing else called it lately.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog

from streamdrop.service.context import Context
from streamdrop.stream.client import StreamClient
from streamdrop.stream.errors import StreamError

log = structlog.get_logger("streamdrop.service.health")

@dataclass
class Liveness:
    """What the parts of the daemon report about themselves."""

    watcher_running: bool = False
    started: bool = False  # migrations applied, targets known


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"ready": self.ready, **self.checks}


def target_checks(clients: Mapping[str, StreamClient]) -> dict[str, dict[str, Any]]:
    """Each target's standing, as its latest calls left it (pure over the clients)."""
    out = {}
    for name, client in sorted(clients.items()):
        contact = client.contact
        out[name] = {"ok": contact.available, "problem": contact.problem,
                     "last_success_at": contact.last_success_at}
    return out


def readiness(liveness: Liveness, database: dict[str, Any],
              targets: dict[str, dict[str, Any]]) -> Readiness:
    """Pure: ready when every part is, with what is wrong named."""
    watcher = {"ok": liveness.watcher_running,
               "problem": None if liveness.watcher_running else "the watcher is not running"}
    checks: dict[str, Any] = {"starting": not liveness.started, "database": database,
                              "watcher": watcher, "targets": targets}
    ready = (liveness.started and bool(database["ok"]) and liveness.watcher_running
             and all(t["ok"] for t in targets.values()))
    return Readiness(ready, checks)


async def database_check(revision: Callable[[], Awaitable[str | None]],
                         head: str | None) -> dict[str, Any]:
    """The database answers, at the latest migration."""
    try:
        current = await revision()
    except Exception as exc:  # any failure to answer is the answer
        return {"ok": False, "problem": f"the database does not answer: {exc}"}
    if current != head:
        return {"ok": False, "revision": current,
                "problem": f"at migration {current}, not the latest ({head})"}
    return {"ok": True, "revision": current}


async def probe_idle_targets(ctx: Context) -> None:
    """Until the drain: probe each target no call went to for `target_probe_seconds`
    (30 s by default: GetRateLimits twice a minute, far inside its budget)."""
    every = ctx.settings.daemon.target_probe_seconds
    while not ctx.draining.is_set():
        for name, client in ctx.clients.items():
            last = client.contact.last_call_at
            if last is None or ctx.clock() - last >= every:
                await _probe(name, client)
        with anyio.move_on_after(every / 2):
            await ctx.draining.wait()


async def _probe(name: str, client: StreamClient) -> None:
    before = client.contact.problem
    try:
        await client.probe()
    except StreamError as exc:  # the contact record has it; readiness says so
        if client.contact.problem != before:  # said once per change, not every probe
            log.warning("target.unavailable", target=name, error=str(exc))
        return
    if before is not None and before != "not contacted yet":
        log.info("target.available", target=name)
