"""A stand-in for Stream's import API behind httpx.MockTransport, for unit tests of the
service: the real `StreamClient` talks to it, the test sets what Stream says."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import structlog

from streamdrop.stream.client import StreamClient
from streamdrop.stream.credentials import Credentials
from streamdrop.stream.retry import NO_RETRY, RetryPolicy


class FakeStream:
    """Import URLs, uploads, imports (their states set by the test), roles, channel types.

    `status` other than 200 makes every API call answer it, `refuse["POST /import_urls"]`
    one kind of call; `requests` lists `METHOD /path` of each call, uploads included.
    """

    def __init__(self) -> None:
        self.states: dict[str, str] = {}  # import id -> state
        self.v2_states: dict[str, int] = {}  # Import V2 task id -> its integer state
        self.v2_results: dict[str, object] = {}  # Import V2 task id -> its result
        self.paths: dict[str, str] = {}  # import id -> the uploaded path it imports
        self.uploads: dict[str, bytes] = {}  # remote path -> bytes
        self.status = 200
        self.refuse: dict[str, int] = {}
        self.requests: list[str] = []
        # the log context bound when each request was sent (what the client's lines carry)
        self.log_contexts: list[dict[str, object]] = []
        self.on_upload: Callable[[], None] = lambda: None  # called as a PUT arrives

    def client(self, clock: Callable[[], float] = time.time,
               policy: RetryPolicy = NO_RETRY) -> StreamClient:
        """A real client of this stand-in (no retries unless a `policy` is given)."""
        return StreamClient(Credentials("key", "secret", "http://stream.test"),
                            transport=httpx.MockTransport(self), clock=clock, policy=policy)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        call = f"{request.method} {path}"
        self.requests.append(call)
        self.log_contexts.append(structlog.contextvars.get_contextvars())
        if path.startswith("/upload/"):
            self.on_upload()
            self.uploads["s3://" + path.removeprefix("/upload/")] = request.read()
            return httpx.Response(200)
        status = self.refuse.get(call, self.status)
        if status != 200:
            return httpx.Response(status, json={"code": 99, "message": "refused"})
        return self.answer(request)

    def answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/api/v2/imports/v2"):
            return self.answer_v2(request)
        if path == "/roles":
            return httpx.Response(200, json={"roles": [{"name": "user"}, {"name": "admin"}]})
        if path == "/channeltypes":
            return httpx.Response(200, json={"channel_types": {"messaging": {}}})
        if path == "/import_urls":
            name = json.loads(request.read())["filename"]
            return httpx.Response(200, json={"path": f"s3://{name}",
                                             "upload_url": f"http://stream.test/upload/{name}"})
        if path == "/imports" and request.method == "POST":
            body = json.loads(request.read())
            import_id = f"imp-{len(self.states) + 1}"
            self.states[import_id], self.paths[import_id] = "uploaded", body["path"]
            return httpx.Response(201, json={"import_task": self.task(import_id)})
        if path == "/imports":
            offset = int(request.url.params["offset"])
            limit = int(request.url.params["limit"])
            ids = sorted(self.states, reverse=True)[offset:offset + limit]
            return httpx.Response(200, json={"import_tasks": [self.task(i) for i in ids]})
        import_id = path.rsplit("/", 1)[1]
        if import_id not in self.states:
            return httpx.Response(404, json={"code": 16, "message": "import task not found"})
        return httpx.Response(200, json={"import_task": self.task(import_id)})

    def task(self, import_id: str) -> dict[str, object]:
        return {"id": import_id, "state": self.states[import_id],
                "path": self.paths.get(import_id, f"s3://{import_id}"), "mode": "upsert",
                "history": [{"state": "uploaded"}], "result": None}

    def answer_v2(self, request: httpx.Request) -> httpx.Response:
        """Import V2: list (pages of `limit`, the cursor an offset) and get."""
        path = request.url.path
        if path == "/api/v2/imports/v2":
            offset = int(request.url.params.get("next", "0"))
            limit = int(request.url.params.get("limit", "25"))
            ids = sorted(self.v2_states, reverse=True)
            body: dict[str, object] = {
                "import_tasks": [self.v2_task(i) for i in ids[offset:offset + limit]]}
            if offset + limit < len(ids):
                body["next"] = str(offset + limit)
            return httpx.Response(200, json=body)
        import_id = path.rsplit("/", 1)[1]
        if import_id not in self.v2_states:
            return httpx.Response(404, json={"code": 16, "message": "import task not found"})
        return httpx.Response(200, json=self.v2_task(import_id))

    def v2_task(self, import_id: str) -> dict[str, object]:
        task: dict[str, object] = {
            "id": import_id, "app_pk": 1, "product": "feeds", "state": self.v2_states[import_id],
            "settings": {"s3": {"bucket": "b", "region": "us-east-1",
                                "dir": self.paths.get(import_id, f"s3://{import_id}")}}}
        if import_id in self.v2_results:
            task["result"] = self.v2_results[import_id]
        return task
