"""Serving the emulator with uvicorn: in the foreground for the CLI, or in a thread for tests."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from streamdrop.emulator.app import DROP_EXTENSION

STARTUP_TIMEOUT = 10.0


class DroppingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, letting the app close the connection without an answer.

    ASGI has no way to say "drop this connection"; the emulator's dropped-
    connection fault needs one, so each request's scope gets a callable for it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            scope.setdefault("extensions", {})[DROP_EXTENSION] = self._drop
            await inner(scope, receive, send)

        self.app = app

    def _drop(self) -> None:
        self.transport.close()


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def uvicorn_config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    # access_log off: uvicorn would log query strings, and they carry upload tokens.
    return uvicorn.Config(
        app, host=host, port=port, http=DroppingH11Protocol, lifespan="on",
        access_log=False, log_config=None, timeout_graceful_shutdown=2,
    )


def serve(app: Starlette, sock: socket.socket) -> None:
    """Run in the foreground on a bound socket until SIGINT or SIGTERM."""
    host, port = sock.getsockname()[:2]
    try:
        uvicorn.Server(uvicorn_config(app, host, port)).run(sockets=[sock])
    finally:
        sock.close()


def bind(host: str, port: int = 0) -> socket.socket:
    """A listening socket; port 0 picks a free port, known before the server starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given explicitly: asyncio sets TCP_NODELAY on accepted sockets only when
    # proto == IPPROTO_TCP, and without it every keep-alive answer waits ~40 ms
    # for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


@dataclass
class BackgroundServer:
    """A uvicorn server running in a daemon thread; `stop()` shuts it down cleanly."""

    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket
    base_url: str

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)
        self.sock.close()


def start_in_thread(app: Starlette, host: str = "127.0.0.1", port: int = 0) -> BackgroundServer:
    """Serve `app` in a background thread and return once it accepts connections."""
    sock = bind(host, port)
    server = uvicorn.Server(uvicorn_config(app, host, sock.getsockname()[1]))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="streamdrop-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(STARTUP_TIMEOUT)
            sock.close()
            raise RuntimeError("the emulator did not start")
        time.sleep(0.01)
    shown = f"[{host}]" if ":" in host else host
    return BackgroundServer(server, thread, sock, f"http://{shown}:{sock.getsockname()[1]}")
