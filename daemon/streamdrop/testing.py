"""Test doubles shipped with streamdrop: a fake clock, the Stream emulator in a thread,
and an in-memory task store with the database's semantics.

    from streamdrop.testing import FakeClock, InMemoryRepository, running_emulator

    clock = FakeClock()
    with running_emulator(clock=clock, step_seconds=5, rate_limit=3) as emu:
        ...  # point a client at emu.base_url with emu.api_key / emu.api_secret
        clock.advance(15)  # imports move on without sleeping
        assert emu.imports()[0]["state"] == "completed"

    repo = InMemoryRepository(clock.time)  # a `TaskStore`: leases, fencing, outbox, ...
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from streamdrop.emulator.config import EmulatorConfig
from streamdrop.storage.memory import InMemoryRepository

__all__ = ["EmulatorHandle", "FakeClock", "InMemoryRepository", "running_emulator"]

if TYPE_CHECKING:
    from streamdrop.emulator.app import V2Validator, Validator

# A whole multiple of 60, so a fake clock starts at the beginning of a rate window.
FAKE_EPOCH = 1_699_999_980.0


class FakeClock:
    """Wall time and monotonic time that move only when told to; thread-safe.

    `time()` is Unix seconds (starts at `start`), `monotonic()` starts at
    `monotonic_start`; `advance(seconds)` moves both.
    """

    def __init__(self, start: float = FAKE_EPOCH, monotonic_start: float = 1_000.0) -> None:
        self._lock = threading.Lock()
        self._wall = start
        self._mono = monotonic_start

    def time(self) -> float:
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        with self._lock:
            self._wall += seconds
            self._mono += seconds


@dataclass
class EmulatorHandle:
    """A running emulator: where it is, its credentials, and helpers reading its test endpoints.

    `base_url` has no trailing slash (`http://127.0.0.1:PORT`); Stream's routes
    are served under it and under `base_url + "/api/v2"`. The helpers are
    synchronous and talk to `/_emulator/*` over HTTP.
    """

    base_url: str
    api_key: str
    api_secret: str
    config: EmulatorConfig
    clock: FakeClock | None = None
    _http: httpx.Client = field(repr=False, default_factory=httpx.Client)

    def imports(self) -> list[dict[str, Any]]:
        """Every import task, oldest first: id, path, mode, merge_custom, state, size, sha256."""
        result: list[dict[str, Any]] = self._get("/_emulator/imports")["imports"]
        return result

    def stats(self) -> dict[str, Any]:
        """{"requests": {endpoint: n}, "rate_limited": n, "faults": n, "seed": n}."""
        return self._get("/_emulator/stats")

    def advance(self, seconds: float) -> None:
        """Move emulated time on: the FakeClock if one was given, else the emulator's offset."""
        if self.clock is not None:
            self.clock.advance(seconds)
            return
        self._post("/_emulator/advance", {"seconds": str(seconds)})

    def inject_faults(self, *faults: str, endpoint: str | None = None) -> None:
        """The next requests get these faults, in order: `500`, `503`, `slow`, `drop` (API
        routes) or `upload` (the upload PUT); `endpoint` (e.g. `get_import`) narrows them."""
        params = {"next": ",".join(faults)}
        if endpoint is not None:
            params["endpoint"] = endpoint
        self._post("/_emulator/faults", params)

    def server_token(self) -> str:
        """A server-side JWT (`{"server": true}`, HS256) the emulator accepts."""
        from streamdrop.emulator.auth import server_token

        return server_token(self.api_secret)

    def auth_headers(self) -> dict[str, str]:
        """The headers of an authenticated request (add `params={"api_key": ...}`)."""
        return {"Authorization": self.server_token(), "stream-auth-type": "jwt"}

    def _get(self, path: str) -> dict[str, Any]:
        response = self._http.get(self.base_url + path)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def _post(self, path: str, params: dict[str, str]) -> None:
        self._http.post(self.base_url + path, params=params).raise_for_status()


@contextmanager
def running_emulator(
    *, clock: FakeClock | None = None, validator: Validator | None = None,
    v2_validator: V2Validator | None = None, **config: Any
) -> Iterator[EmulatorHandle]:
    """Serve the emulator on 127.0.0.1, on a free port, in a background thread.

    `config` takes any EmulatorConfig field (`api_key`, `api_secret`, `roles`,
    `channel_types`, `rate_limit`, `rate_window_seconds`, `endpoint_limits`,
    `plain_429`, `step_seconds`, `latency_ms`, `fault_rate`, `fault_kinds`,
    `slow_seconds`, `seed`, `states`, `upload_ttl_seconds`, `max_upload_bytes`,
    `data_dir`, ...); `host` defaults to 127.0.0.1 and `port` to a free one.
    `clock` (a FakeClock) drives import states, rate windows and upload
    expiry, so a test moves time with `clock.advance()` instead of sleeping.
    `validator(path, config) -> streamdrop.emulator.state.Verdict` replaces
    streamdrop's own validator in the analysis step, `v2_validator(path, config,
    product)` the check of Import V2 tasks.
    On exit the server stops and its temporary data folder is removed.
    """
    from streamdrop.emulator.app import (
        create_app,
        streamdrop_v2_validator,
        streamdrop_validator,
    )
    from streamdrop.emulator.server import start_in_thread

    config.setdefault("host", "127.0.0.1")
    config.setdefault("port", 0)
    settings = EmulatorConfig(**config)
    app = create_app(settings, clock=clock, validator=validator or streamdrop_validator,
                     v2_validator=v2_validator or streamdrop_v2_validator)
    server = start_in_thread(app, settings.host, settings.port)
    handle = EmulatorHandle(server.base_url, settings.api_key, settings.api_secret, settings, clock)
    try:
        yield handle
    finally:
        handle._http.close()
        server.stop()

