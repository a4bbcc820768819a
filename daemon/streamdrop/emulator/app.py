"""The emulator's HTTP face: Stream's import routes over Starlette, plus `/_emulator/*` for tests.

Every API request goes through one pipeline (count, latency, auth, rate
limit, fault, handler); the decisions themselves live in the pure modules
(`auth`, `limits`, `faults`, `state`).
"""

from __future__ import annotations

import ipaddress
import itertools
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import orjson
import structlog
from anyio.abc import TaskGroup
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from streamdrop.emulator import auth, limits, reference, state, v2
from streamdrop.emulator.clock import Clock, OffsetClock, SystemClock
from streamdrop.emulator.config import EmulatorConfig
from streamdrop.emulator.faults import UPLOAD_ENDPOINT, Fault, FaultPlan, parse_faults
from streamdrop.emulator.responses import (
    DOES_NOT_EXIST,
    INPUT_ERROR,
    INTERNAL_ERROR,
    PAYLOAD_TOO_BIG,
    ApiError,
    duration,
    error_body,
    json_response,
    plain_response,
    rate_limited_body,
    s3_error,
)
from streamdrop.emulator.uploads import (
    UploadRefused,
    UploadSlot,
    UploadSlots,
    check_declared_size,
    clean_filename,
    discard_stream,
    write_stream,
)

log = structlog.get_logger("streamdrop.emulator")

# The scope extension through which the server lets the app drop a connection.
DROP_EXTENSION = "streamdrop.drop_connection"
MAX_JSON_BODY = 1_000_000
MAX_RESULT_ERRORS = 25  # stream-cli's old validator showed at most 25 errors

# Runs in a worker thread: the uploaded file -> what analysis found.
Validator = Callable[[Path, EmulatorConfig], state.Verdict]
# The same for Import V2, told the task's product (`chat` or `feeds`).
V2Validator = Callable[[Path, EmulatorConfig, str], state.Verdict]
Handler = Callable[[Request], Awaitable[tuple[dict[str, Any], int]]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    key: str  # the name in /_emulator/stats and for faults
    operation: str  # Stream's endpoint name, for rate limits and error messages


CREATE_IMPORT_URL = Endpoint("create_import_url", "CreateImportURL")
CREATE_IMPORT = Endpoint("create_import", "CreateImport")
GET_IMPORT = Endpoint("get_import", "GetImport")
LIST_IMPORTS = Endpoint("list_imports", "ListImports")
LIST_ROLES = Endpoint("list_roles", "ListRoles")
LIST_CHANNEL_TYPES = Endpoint("list_channel_types", "ListChannelTypes")
GET_CHANNEL_TYPE = Endpoint("get_channel_type", "GetChannelType")
GET_RATE_LIMITS = Endpoint("get_rate_limits", "GetRateLimits")
CREATE_IMPORT_V2 = Endpoint("create_import_v2", "CreateImportV2Task")
GET_IMPORT_V2 = Endpoint("get_import_v2", "GetImportV2Task")
LIST_IMPORTS_V2 = Endpoint("list_imports_v2", "ListImportV2Tasks")
CANCEL_IMPORT_V2 = Endpoint("cancel_import_v2", "CancelImportV2Task")
DELETE_IMPORT_V2 = Endpoint("delete_import_v2", "DeleteImportV2Task")
ENDPOINTS = (CREATE_IMPORT_URL, CREATE_IMPORT, GET_IMPORT, LIST_IMPORTS, LIST_ROLES,
             LIST_CHANNEL_TYPES, GET_CHANNEL_TYPE, GET_RATE_LIMITS, CREATE_IMPORT_V2,
             GET_IMPORT_V2, LIST_IMPORTS_V2, CANCEL_IMPORT_V2, DELETE_IMPORT_V2)
STAT_KEYS = ("create_import_url", UPLOAD_ENDPOINT, *(e.key for e in ENDPOINTS[1:]))
# GET /rate_limits answers for these platforms; the SDKs ask by flags, none meaning all.
PLATFORMS = ("server_side", "android", "ios", "web")
# The emulator serves uploads path-style from this "bucket" (`/upload/<id>`).
UPLOAD_BUCKET = "upload"
# The format Feeds v3 files are checked as (streamdrop.validation).
FEEDS_V3_FORMAT = "feeds-v3"


def streamdrop_validator(file: Path, config: EmulatorConfig) -> state.Verdict:
    """Analysis with streamdrop's own validator, against the emulated app's roles and types."""
    from streamdrop.validation import Options, validate_path

    options = Options(roles=frozenset(config.roles), channel_types=dict(config.channel_types),
                      max_errors=MAX_RESULT_ERRORS)
    result = validate_path(file, options)
    errors = [problem.to_json() for problem in result.errors]
    return state.Verdict(result.valid, errors, dict(result.stats))


def streamdrop_v2_validator(file: Path, config: EmulatorConfig, product: str) -> state.Verdict:
    """Import V2's check: a feeds task's file as Feeds v3, a chat task's as chat."""
    if product != "feeds":
        return streamdrop_validator(file, config)
    from streamdrop.validation import Options, validate_path

    result = validate_path(file, Options(max_errors=MAX_RESULT_ERRORS), FEEDS_V3_FORMAT)
    return state.Verdict(result.valid, [p.to_json() for p in result.errors], dict(result.stats))


class DropConnection(Response):
    """Closes the connection without answering, when the server supports it (ours does)."""

    def __init__(self) -> None:
        super().__init__(status_code=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        drop = scope.get("extensions", {}).get(DROP_EXTENSION)
        if drop is None:  # another server: the nearest thing is an empty 500
            await super().__call__(scope, receive, send)
            return
        drop()
        # Wait until the server has noticed, so it does not answer 500 for us.
        while (await receive())["type"] != "http.disconnect":
            pass


def is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Emulator:
    """The emulated app: its uploads, import tasks, budgets, faults and counters."""

    def __init__(self, config: EmulatorConfig, clock: Clock, validator: Validator,
                 v2_validator: V2Validator = streamdrop_v2_validator) -> None:
        self.config = config
        self.clock = clock if isinstance(clock, OffsetClock) else OffsetClock(clock)
        self.validator = validator
        self.v2_validator = v2_validator
        self.seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
        self.faults = FaultPlan(config.fault_rate, self.seed, parse_faults(config.fault_kinds))
        self.limiter = limits.FixedWindowLimiter(
            config.rate_limit, config.rate_window_seconds, config.endpoint_limits)
        self.slots = UploadSlots(config.app_id, config.upload_ttl_seconds)
        self.records: dict[str, state.ImportRecord] = {}
        self.v2_records: dict[str, v2.V2Record] = {}
        self.sequence = itertools.count()  # creation order across both APIs
        self.analyses: dict[str, anyio.Event] = {}
        self.requests = dict.fromkeys(STAT_KEYS, 0)
        self.rate_limited = 0
        self.faults_injected = 0
        self.started_at = state.timestamp(self.clock.time())
        self.own_data_dir = config.data_dir is None
        self.data_dir = config.data_dir or Path()
        self.uploads_dir = self.data_dir / "uploads"
        self.task_group: TaskGroup | None = None

    def open(self) -> None:
        """Make the data folder (a temp one unless --data-dir was given)."""
        if self.own_data_dir:
            self.data_dir = Path(tempfile.mkdtemp(prefix="streamdrop-emulator-"))
        self.uploads_dir = self.data_dir / "uploads"
        self.uploads_dir.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        """Remove the data folder if the emulator made it (a given --data-dir is kept)."""
        if self.own_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # ---- the API pipeline -------------------------------------------------

    def api(self, endpoint: Endpoint, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            started = time.perf_counter()
            self.requests[endpoint.key] += 1
            if self.config.latency_ms:
                await anyio.sleep(self.config.latency_ms / 1000)
            response = await self._guarded(endpoint, handler, request, started)
            status = "dropped" if isinstance(response, DropConnection) else response.status_code
            log.info("request", endpoint=endpoint.key, method=request.method, status=status)
            return response
        return run

    async def _guarded(
        self, endpoint: Endpoint, handler: Handler, request: Request, started: float
    ) -> Response:
        now = self.clock.time()
        failure = auth.check(request.query_params.get("api_key"), request.headers,
                             self.config.api_key, self.config.api_secret)
        if failure is not None:
            budget = self.limiter.peek(endpoint.operation, now)
            refusal = ApiError(401, failure.code, failure.detail)
            return self._error(endpoint, refusal, started, budget)
        budget = self.limiter.hit(endpoint.operation, now)
        if not budget.allowed:
            return self._too_many(budget, now, started)
        fault = self.faults.next(endpoint.key)
        if fault is not None:
            self.faults_injected += 1
            log.info("fault", endpoint=endpoint.key, fault=fault.value)
            early = await self._fault_response(endpoint, fault, started, budget)
            if early is not None:
                return early
        try:
            body, status = await handler(request)
        except ApiError as exc:
            return self._error(endpoint, exc, started, budget)
        if fault is Fault.LATE:  # done, but the client hears of it only after slow_seconds
            await anyio.sleep(self.config.slow_seconds)
        body["duration"] = duration(time.perf_counter() - started)
        return self._with_budget(json_response(body, status), budget)

    async def _fault_response(
        self, endpoint: Endpoint, fault: Fault, started: float, budget: limits.Decision
    ) -> Response | None:
        """The answer a fault gives instead of the real one; None lets a slow answer go on."""
        if fault is Fault.SLOW:
            await anyio.sleep(self.config.slow_seconds)
            return None
        if fault is Fault.LATE:
            return None  # the handler runs first
        if fault is Fault.DROP:
            return DropConnection()
        if fault is Fault.ERROR_503:
            return plain_response("503 Service Temporarily Unavailable", 503)
        detail = "internal error (injected by the emulator)"
        return self._error(endpoint, ApiError(500, INTERNAL_ERROR, detail), started, budget)

    def _error(
        self, endpoint: Endpoint, exc: ApiError, started: float, budget: limits.Decision
    ) -> Response:
        body = error_body(endpoint.operation, exc.status, exc.code, exc.detail,
                          time.perf_counter() - started)
        return self._with_budget(json_response(body, exc.status), budget)

    def _too_many(self, budget: limits.Decision, now: float, started: float) -> Response:
        self.rate_limited += 1
        if self.config.plain_429:
            response = plain_response("Too Many Requests", 429)
        else:
            response = json_response(rate_limited_body(time.perf_counter() - started), 429)
        response.headers["Retry-After"] = str(budget.retry_after(now))
        return self._with_budget(response, budget)

    @staticmethod
    def _with_budget(response: Response, budget: limits.Decision) -> Response:
        response.headers.update(budget.headers())
        return response

    # ---- API handlers -----------------------------------------------------

    async def create_import_url(self, request: Request) -> tuple[dict[str, Any], int]:
        body = await read_json(request)
        filename = clean_filename(body.get("filename"))
        if not filename:
            raise ApiError(400, INPUT_ERROR, "filename is a required field")
        slot = self.slots.create(filename, self.clock.time())
        base = self.config.public_url or str(request.base_url).rstrip("/")
        # A SigV4 credential names the region, so clients derive `settings.s3` from the
        # URL as from a real presigned one (the bucket is the path's first segment).
        stamp = state.timestamp(self.clock.time())[:10].replace("-", "")
        credential = quote(f"EMULATOR/{stamp}/{self.config.s3_region}/s3/aws4_request", safe="")
        upload_url = (f"{base}/{UPLOAD_BUCKET}/{slot.id}?token={slot.token}"
                      f"&expires={slot.expires_at}&X-Amz-Credential={credential}")
        return {"upload_url": upload_url, "path": slot.path}, 201

    async def create_import(self, request: Request) -> tuple[dict[str, Any], int]:
        path, mode, merge_custom = import_request(await read_json(request))
        slot = self.slots.by_path(path)
        if slot is None or slot.stored is None:
            raise ApiError(400, INPUT_ERROR, f"no file was uploaded to path {path}")
        now = self.clock.time()
        record = state.ImportRecord(str(uuid.uuid4()), next(self.sequence), path, mode,
                                    merge_custom, now, slot.stored.size, slot.stored.sha256)
        self.records[record.id] = record
        file = slot.stored.file
        self._start_analysis(record, lambda: self.validator(file, self.config), now)
        return {"import_task": self._task(record, now)}, 201

    async def get_import(self, request: Request) -> tuple[dict[str, Any], int]:
        record = self.records.get(request.path_params["import_id"])
        if record is None:
            raise ApiError(404, DOES_NOT_EXIST, "import task not found")
        await self._await_due_analyses([record])
        return {"import_task": self._task(record, self.clock.time())}, 200

    async def list_imports(self, request: Request) -> tuple[dict[str, Any], int]:
        try:
            limit, offset = state.page_bounds(request.query_params.get("limit"),
                                              request.query_params.get("offset"))
        except state.PageError as exc:
            raise ApiError(400, INPUT_ERROR, str(exc)) from None
        page = state.newest_first(list(self.records.values()), limit, offset)
        await self._await_due_analyses(page)
        now = self.clock.time()
        return {"import_tasks": [self._task(record, now) for record in page]}, 200

    async def list_roles(self, request: Request) -> tuple[dict[str, Any], int]:
        return {"roles": reference.roles_body(self.config.roles, self.started_at)}, 200

    async def list_channel_types(self, request: Request) -> tuple[dict[str, Any], int]:
        types = reference.channel_types_body(self.config.channel_types, self.started_at)
        return {"channel_types": types}, 200

    async def get_channel_type(self, request: Request) -> tuple[dict[str, Any], int]:
        name = request.path_params["name"]
        if name not in self.config.channel_types:
            raise ApiError(404, DOES_NOT_EXIST, f"channel type {name} does not exist")
        types = reference.channel_types_body({name: self.config.channel_types[name]},
                                             self.started_at)
        return dict(types[name]), 200

    async def get_rate_limits(self, request: Request) -> tuple[dict[str, Any], int]:
        """The budgets per platform the SDKs flag (`server_side=true`, ...), all when none is.

        Only server-side calls are counted here; the client platforms show full budgets."""
        query = request.query_params
        wanted = request.query_params.get("endpoints")
        names = wanted.split(",") if wanted else [e.operation for e in ENDPOINTS]
        now = self.clock.time()
        budgets = self.limiter.snapshot([n.strip() for n in names if n.strip()], now)
        flagged = [p for p in PLATFORMS if query.get(p, "").lower() == "true"]
        body: dict[str, Any] = {}
        for platform in flagged or PLATFORMS:
            body[platform] = {
                name: {"limit": d.limit,
                       "remaining": d.remaining if platform == "server_side" else d.limit,
                       "reset": d.reset}
                for name, d in budgets.items()}
        return body, 200

    # ---- Import V2 ----------------------------------------------------------

    async def create_import_v2(self, request: Request) -> tuple[dict[str, Any], int]:
        try:
            product, settings, path = v2.create_request(await read_json(request))
        except v2.V2Refused as exc:
            raise ApiError(400, INPUT_ERROR, str(exc)) from None
        s3 = settings["s3"]
        if s3["bucket"] != UPLOAD_BUCKET or s3["region"] != self.config.s3_region:
            raise ApiError(400, INPUT_ERROR, f"settings.s3 names bucket {s3['bucket']} in "
                                             f"{s3['region']}, not this app's upload bucket")
        slot = self.slots.by_path(path)
        if slot is None or slot.stored is None:
            raise ApiError(400, INPUT_ERROR, f"no file was uploaded to path {path}")
        now = self.clock.time()
        record = v2.V2Record(str(uuid.uuid4()), next(self.sequence), product, settings, now,
                             slot.stored.size, slot.stored.sha256)
        self.v2_records[record.id] = record
        file = slot.stored.file
        self._start_analysis(record, lambda: self.v2_validator(file, self.config, product), now)
        body = self._v2_task(record, now)
        body.pop("result", None)  # CreateImportV2TaskResponse has no result
        return body, 201

    async def get_import_v2(self, request: Request) -> tuple[dict[str, Any], int]:
        # Stream's quirk (noted by the official CLI): this GET answers 400 without a JSON body.
        if not (await request.body()).strip():
            raise ApiError(400, INPUT_ERROR, "invalid request: the body must be a JSON object")
        await read_json(request)
        record = self._v2_record(request)
        await self._await_due_analyses([record])
        return self._v2_task(record, self.clock.time()), 200

    async def list_imports_v2(self, request: Request) -> tuple[dict[str, Any], int]:
        query = request.query_params
        now = self.clock.time()
        try:
            wanted, limit = v2.list_params(query.get("state"), query.get("limit"))
            records = list(self.v2_records.values())
            await self._await_due_analyses(records)
            page = v2.list_page(records, state=wanted, cursor=query.get("next") or None,
                                limit=limit, now=now, step=self.config.step_seconds)
        except v2.V2Refused as exc:
            raise ApiError(400, INPUT_ERROR, str(exc)) from None
        body: dict[str, Any] = {"import_tasks": [self._v2_task(r, now) for r in page.records]}
        if page.next is not None:
            body["next"] = page.next
        if page.prev is not None:
            body["prev"] = page.prev
        return body, 200

    async def cancel_import_v2(self, request: Request) -> tuple[dict[str, Any], int]:
        record = self._v2_record(request)
        now = self.clock.time()
        current = v2.current_state(record, now, self.config.step_seconds)
        if current not in (v2.V2_QUEUED, v2.V2_PROCESSING) or record.cancelled_at is not None:
            raise ApiError(400, INPUT_ERROR, "only a queued or processing import task can be "
                                             f"cancelled (state {current})")
        record.cancelled_at = now
        return {}, 201

    async def delete_import_v2(self, request: Request) -> tuple[dict[str, Any], int]:
        record = self._v2_record(request)
        current = v2.current_state(record, self.clock.time(), self.config.step_seconds)
        if current != v2.V2_QUEUED:
            raise ApiError(400, INPUT_ERROR, "only a queued import task can be deleted "
                                             f"(state {current})")
        del self.v2_records[record.id]
        return {}, 200

    def _v2_record(self, request: Request) -> v2.V2Record:
        record = self.v2_records.get(request.path_params["import_id"])
        if record is None:
            raise ApiError(404, DOES_NOT_EXIST, "import task not found")
        return record

    def _v2_task(self, record: v2.V2Record, now: float) -> dict[str, Any]:
        return v2.task_body(record, now, self.config.step_seconds, int(self.config.app_id))

    def _task(self, record: state.ImportRecord, now: float) -> dict[str, Any]:
        return state.task_body(record, now, self.config.step_seconds, self.config.states)

    # ---- analysis -----------------------------------------------------------

    def _start_analysis(
        self, record: state.ImportRecord | v2.V2Record, run: Callable[[], state.Verdict],
        began: float,
    ) -> None:
        done = anyio.Event()
        self.analyses[record.id] = done
        if self.task_group is None:
            raise RuntimeError("the emulator app must run with its lifespan")
        self.task_group.start_soon(self._analyze, record, run, done, began)

    async def _analyze(
        self, record: state.ImportRecord | v2.V2Record, run: Callable[[], state.Verdict],
        done: anyio.Event, began: float,
    ) -> None:
        # The verdict's time is the creation time plus the analysis's real length,
        # so that a fake clock moved on meanwhile does not make it look late.
        started = time.perf_counter()
        try:
            verdict = await anyio.to_thread.run_sync(_run_validator, run)
        finally:
            done.set()
        record.verdict = replace(verdict, at=began + time.perf_counter() - started)

    async def _await_due_analyses(
        self, records: list[state.ImportRecord] | list[v2.V2Record]
    ) -> None:
        """Give a due analysis a moment to finish, so answers do not depend on thread timing."""
        now = self.clock.time()
        step = self.config.step_seconds
        with anyio.move_on_after(self.config.analysis_wait_seconds):
            for record in records:
                event = self.analyses.get(record.id)
                due = (v2.check_due(record, now, step) if isinstance(record, v2.V2Record)
                       else state.analysis_due(record, now, step))
                if event is not None and due:
                    await event.wait()

    # ---- the upload PUT (S3's role: no auth, no rate limit) ---------------

    async def upload(self, request: Request) -> Response:
        self.requests[UPLOAD_ENDPOINT] += 1
        query = request.query_params
        try:
            slot = self.slots.claim(request.path_params["slot_id"], query.get("token", ""),
                                    query.get("expires", ""), self.clock.time())
        except UploadRefused as exc:
            log.info("upload refused", status=exc.status, reason=exc.s3_code)
            return s3_error(exc.status, exc.s3_code, exc.message)
        try:
            return await self._store(request, slot)
        except ClientDisconnect:
            log.info("upload abandoned by the client")
            return Response(status_code=400)
        finally:
            self.slots.release(slot)

    async def _store(self, request: Request, slot: UploadSlot) -> Response:
        if self.faults.next(UPLOAD_ENDPOINT) is not None:
            self.faults_injected += 1
            log.info("fault", endpoint=UPLOAD_ENDPOINT, fault=Fault.UPLOAD.value)
            await discard_stream(request.stream())
            return s3_error(500, "InternalError", "We encountered an internal error.")
        try:
            check_declared_size(request.headers.get("content-length"), self.config.max_upload_bytes)
            slot.stored = await write_stream(request.stream(), self.uploads_dir / slot.id,
                                             self.config.max_upload_bytes)
        except UploadRefused as exc:
            log.info("upload refused", status=exc.status, reason=exc.s3_code)
            return s3_error(exc.status, exc.s3_code, exc.message)
        log.info("upload stored", size=slot.stored.size)
        return Response(status_code=200)

    # ---- /_emulator/* (loopback only, no auth) ------------------------------

    async def emulator_imports(self, request: Request) -> Response:
        """Tasks of both APIs in creation order; `api` says which, `product` what it imports."""
        now = self.clock.time()
        step = self.config.step_seconds
        names = state.SPELLINGS[self.config.states]
        items: list[tuple[int, dict[str, Any]]] = []
        for record in self.records.values():
            current = state.current_state(record, now, step)
            items.append((record.sequence, {
                "id": record.id, "api": "imports", "product": "chat", "path": record.path,
                "mode": record.mode, "merge_custom": record.merge_custom,
                "state": names.get(current, current), "size": record.size,
                "sha256": record.sha256}))
        for task in self.v2_records.values():
            items.append((task.sequence, {
                "id": task.id, "api": "imports/v2", "product": task.product,
                "path": task.settings["s3"]["dir"], "mode": task.settings.get("mode"),
                "merge_custom": task.settings.get("merge_custom"),
                "skip_references_check": task.settings.get("skip_references_check"),
                "state": v2.current_state(task, now, step), "size": task.size,
                "sha256": task.sha256}))
        return json_response({"imports": [item for _, item in sorted(items, key=lambda i: i[0])]})

    async def emulator_stats(self, request: Request) -> Response:
        return json_response({"requests": dict(self.requests), "rate_limited": self.rate_limited,
                              "faults": self.faults_injected, "seed": self.seed})

    async def emulator_advance(self, request: Request) -> Response:
        try:
            self.clock.advance(float(request.query_params.get("seconds", "")))
        except ValueError as exc:
            return json_response({"error": f"seconds: {exc}"}, 400)
        return json_response({"now": self.clock.time(), "offset": self.clock.offset})

    async def emulator_faults(self, request: Request) -> Response:
        try:
            faults = parse_faults(request.query_params.get("next", "").split(","))
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        self.faults.queue(faults, request.query_params.get("endpoint") or None)
        return json_response({"queued": [f.value for f in faults]})


def _run_validator(run: Callable[[], state.Verdict]) -> state.Verdict:
    try:
        return run()
    except Exception as exc:  # a crash is the file's verdict, not the server's end
        log.exception("analysis crashed")
        return state.Verdict(False, [{"error": f"analysis failed: {exc}"}])


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_JSON_BODY:
        raise ApiError(413, PAYLOAD_TOO_BIG, "request body is too large")
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise ApiError(400, INPUT_ERROR, "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, INPUT_ERROR, "request body must be a JSON object")
    return body


def import_request(body: dict[str, Any]) -> tuple[str, str, bool | None]:
    """`{path, mode, merge_custom?}` checked as Stream's CreateImportRequest."""
    path, mode, merge_custom = body.get("path"), body.get("mode"), body.get("merge_custom")
    if not isinstance(path, str) or not path:
        raise ApiError(400, INPUT_ERROR, "path is a required field")
    if mode not in ("insert", "upsert"):
        raise ApiError(400, INPUT_ERROR, "mode must be one of insert, upsert")
    if merge_custom is not None and not isinstance(merge_custom, bool):
        raise ApiError(400, INPUT_ERROR, "merge_custom must be a boolean")
    return path, mode, merge_custom


def _api_routes(emu: Emulator) -> list[BaseRoute]:
    def route(path: str, endpoint: Endpoint, handler: Handler, method: str) -> Route:
        return Route(path, emu.api(endpoint, handler), methods=[method], name=endpoint.key)

    return [
        route("/import_urls", CREATE_IMPORT_URL, emu.create_import_url, "POST"),
        # Import V2 first: `/imports/{import_id}` would take `/imports/v2` for an id.
        route("/imports/v2", CREATE_IMPORT_V2, emu.create_import_v2, "POST"),
        route("/imports/v2", LIST_IMPORTS_V2, emu.list_imports_v2, "GET"),
        route("/imports/v2/{import_id}", GET_IMPORT_V2, emu.get_import_v2, "GET"),
        route("/imports/v2/{import_id}", DELETE_IMPORT_V2, emu.delete_import_v2, "DELETE"),
        route("/imports/v2/{import_id}/cancel", CANCEL_IMPORT_V2, emu.cancel_import_v2, "POST"),
        route("/imports", CREATE_IMPORT, emu.create_import, "POST"),
        route("/imports", LIST_IMPORTS, emu.list_imports, "GET"),
        route("/imports/{import_id}", GET_IMPORT, emu.get_import, "GET"),
        route("/roles", LIST_ROLES, emu.list_roles, "GET"),
        route("/channeltypes", LIST_CHANNEL_TYPES, emu.list_channel_types, "GET"),
        route("/channeltypes/{name}", GET_CHANNEL_TYPE, emu.get_channel_type, "GET"),
        route("/rate_limits", GET_RATE_LIMITS, emu.get_rate_limits, "GET"),
    ]


def _loopback_only(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        if not is_loopback(request):
            return json_response({"error": "the /_emulator endpoints answer loopback only"}, 403)
        return await handler(request)
    return run


def _test_routes(emu: Emulator) -> list[BaseRoute]:
    return [
        Route("/imports", _loopback_only(emu.emulator_imports), methods=["GET"]),
        Route("/stats", _loopback_only(emu.emulator_stats), methods=["GET"]),
        Route("/advance", _loopback_only(emu.emulator_advance), methods=["POST"]),
        Route("/faults", _loopback_only(emu.emulator_faults), methods=["POST"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown routes and methods get Stream's error shape, not Starlette's plain text."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = DOES_NOT_EXIST if status == 404 else INPUT_ERROR
    return json_response(error_body("Request", status, code, str(getattr(exc, "detail", exc)), 0.0),
                         status)


def create_app(
    config: EmulatorConfig | None = None,
    clock: Clock | None = None,
    validator: Validator = streamdrop_validator,
    v2_validator: V2Validator = streamdrop_v2_validator,
) -> Starlette:
    """The emulator as an ASGI app. `clock` drives import states and rate windows
    (e.g. streamdrop.testing.FakeClock); `validator` analyses uploaded files,
    `v2_validator` the files of Import V2 tasks."""
    emu = Emulator(config or EmulatorConfig(), clock or SystemClock(), validator, v2_validator)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(emu.open)
        log.info("emulator ready", seed=emu.seed, data_dir=str(emu.data_dir))
        try:
            async with anyio.create_task_group() as group:
                emu.task_group = group
                yield
                group.cancel_scope.cancel()
        finally:
            emu.task_group = None
            await anyio.to_thread.run_sync(emu.close)

    api = _api_routes(emu)
    routes: list[BaseRoute] = [
        *api,
        Mount("/api/v2", routes=api),
        Route(f"/{UPLOAD_BUCKET}/{{slot_id}}", emu.upload, methods=["PUT"]),
        Mount("/_emulator", routes=_test_routes(emu)),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error})
    app.state.emulator = emu
    return app
