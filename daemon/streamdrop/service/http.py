"""The daemon's own HTTP listener (`[metrics] host/port`): /healthz, /readyz, /metrics.

Served by uvicorn on the daemon's event loop, so that /healthz stops answering
when the loop is wedged. uvicorn must not take the daemon's signals.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamdrop.service import metrics
from streamdrop.service.health import Readiness


class _Server(uvicorn.Server):
    """uvicorn's server, leaving SIGTERM/SIGINT to the daemon's own drain."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def build_app(ready: Callable[[], Awaitable[Readiness]]) -> Starlette:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"alive": True})

    async def readyz(_request: Request) -> Response:
        answer = await ready()
        return JSONResponse(answer.to_json(), status_code=200 if answer.ready else 503)

    async def metrics_text(_request: Request) -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return Starlette(routes=[Route("/healthz", healthz), Route("/readyz", readyz),
                             Route("/metrics", metrics_text)])


@dataclass
class Listener:
    """A server bound at construction (a port in use stops the start at once), served later."""

    server: uvicorn.Server
    sock: socket.socket

    async def serve(self) -> None:
        """Until cancelled."""
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            self.sock.close()


def listen(app: Starlette, host: str, port: int) -> Listener:
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_config=None,
                            lifespan="off")
    return Listener(_Server(config), config.bind_socket())
