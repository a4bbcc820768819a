"""The only module that speaks Stream's import API: URLs, auth, bodies, statuses, errors.

Everything Stream-specific on the wire lives here (Stream's REST API for chat imports):
server auth is the `api_key` query parameter plus an HS256 JWT `{"server": true}`
in `Authorization` (no `Bearer`) and `stream-auth-type: jwt`; every answer's
`X-RateLimit-*` headers feed the per-endpoint budget (`ratelimit`), failed
requests become the exception tree of `errors`, and retryable ones are retried
under `retry`'s policy. Callers get small typed values, never httpx responses.

Import V2 (`/api/v2/imports/v2`, Feeds v3 and S3 imports; spec
stream-import-v2.md) shares the upload step; its tasks are `ImportV2Task`s
with integer states, named in `import_states`.

Never logged: the secret, the JWT, a presigned upload URL (only its scheme and
host). httpx logs every full URL at INFO, so its loggers are set to WARNING.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import random
import re
import socket
import ssl
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeVar
from urllib.parse import quote

import anyio
import httpx
import jwt
import orjson
import structlog
from tenacity import AsyncRetrying, RetryCallState

from streamdrop import __version__, concurrency
from streamdrop.stream.contact import Contact
from streamdrop.stream.credentials import Credentials
from streamdrop.stream.errors import (
    AuthenticationError,
    FileChangedError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RetryableError,
    StreamError,
    TerminalError,
)
from streamdrop.stream.import_states import (
    Outcome,
    outcome_of,
    v2_outcome,
    v2_state_label,
    v2_state_name,
)
from streamdrop.stream.ratelimit import RateLimiter, parse_header_number
from streamdrop.stream.retry import RetryPolicy
from streamdrop.stream.retrying import retrying
from streamdrop.stream.s3_location import S3Location, s3_location
from streamdrop.validation.model import Options

log = structlog.get_logger(__name__)

Mode = Literal["upsert", "insert"]
MODES: tuple[Mode, ...] = ("upsert", "insert")


def as_mode(value: str) -> Mode:
    """`value` (a stored or configured mode) as one of Stream's import modes."""
    if value not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {value!r}")
    return value


# Stream's names for its endpoints (as in GET /rate_limits); budgets are kept per name.
CREATE_IMPORT_URL = "CreateImportURL"
GET_RATE_LIMITS = "GetRateLimits"
UPLOAD = "Upload"  # the presigned PUT: not Stream's API, not rate limited
CREATE_IMPORT = "CreateImport"
GET_IMPORT = "GetImport"
LIST_IMPORTS = "ListImports"
LIST_ROLES = "ListRoles"
LIST_CHANNEL_TYPES = "ListChannelTypes"
CREATE_IMPORT_V2 = "CreateImportV2Task"
GET_IMPORT_V2 = "GetImportV2Task"
LIST_IMPORTS_V2 = "ListImportV2Tasks"
CANCEL_IMPORT_V2 = "CancelImportV2Task"
DELETE_IMPORT_V2 = "DeleteImportV2Task"

Product = Literal["chat", "feeds"]
PRODUCTS: tuple[Product, ...] = ("chat", "feeds")
# Import V2 lives only under the /api/v2 prefix (as the official CLI calls it).
IMPORTS_V2 = "api/v2/imports/v2"

CLIENT_HEADER = f"streamdrop-{__version__}"
DEFAULT_TIMEOUT = httpx.Timeout(10.0)
# A 300 MB body takes a while, and the object store may think before it answers.
UPLOAD_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=60.0, pool=10.0)
# Stream's load balancer drops a connection idle for 60 s; reusing one it is
# about to drop fails the request, so ours are dropped first.
KEEPALIVE_EXPIRY = 50.0
UPLOAD_CHUNK_SIZE = 256 * 1024
# After an ambiguous failure of POST /imports, or a crash between the upload and
# storing the import id, the new task (if it was created) is among the newest: this
# many are searched for its path before creating again. A daemon may come back hours
# later on a busy app, so the search goes deep (20 list calls at most).
RECONCILE_SEARCH = 500
DEFAULT_MAX_MESSAGE_LENGTH = 5_000


def quiet_http_loggers() -> None:
    """httpx logs each request's full URL at INFO, presigned upload tokens included."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def server_token(api_secret: str) -> str:
    """The server-side JWT: HS256 over `{"server": true}`, no expiry (as the official SDKs)."""
    with warnings.catch_warnings():
        # PyJWT warns on HMAC keys under 32 bytes; the secret is Stream's (or the
        # emulator's) to choose, not ours, and a warning per client is only noise.
        warnings.filterwarnings("ignore", message=".*minimum recommended length.*")
        return jwt.encode({"server": True}, api_secret, algorithm="HS256")


def redact_url(url: str | httpx.URL) -> str:
    """Only the scheme and host of a URL: presigned URLs carry a token in their query."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")


# ---------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class ImportUrl:
    """Where to PUT a file (`upload_url`, secret: never logged) and its `path` for create_import."""

    path: str
    upload_url: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ImportTask:
    """One import task as Stream reported it; `raw` is the whole object, for printing."""

    id: str
    state: str
    path: str
    mode: str
    size: int | None
    created_at: str | None
    updated_at: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> ImportTask:
        if not isinstance(data, Mapping):
            raise ProtocolError(f"an import task must be an object, got {type(data).__name__}")
        size = data.get("size")
        return cls(
            id=_required_str(data, "id"),
            state=_required_str(data, "state"),
            path=str(data.get("path") or ""),
            mode=str(data.get("mode") or ""),
            size=size if isinstance(size, int) else None,
            created_at=_optional_str(data, "created_at"),
            updated_at=_optional_str(data, "updated_at"),
            raw=dict(data),
        )

    @property
    def product(self) -> Product:
        return "chat"  # the classic /imports API imports chat only

    @property
    def state_label(self) -> str:
        return self.state

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.state)

    @property
    def terminal(self) -> bool:
        return self.outcome.terminal

    @property
    def history(self) -> list[Any]:
        history = self.raw.get("history")
        return list(history) if isinstance(history, list) else []

    @property
    def result(self) -> Any:
        return self.raw.get("result")

    def to_json(self) -> dict[str, Any]:
        """Stream's object, with the API it came from (`product`) when Stream leaves it out."""
        return {"product": self.product, **self.raw}


@dataclass(frozen=True, slots=True)
class ImportV2Task:
    """One Import V2 task; `state` is Stream's integer, named by `import_states` (a guess)."""

    id: str
    product: str
    state: int
    settings: Mapping[str, Any] = field(repr=False)
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> ImportV2Task:
        if not isinstance(data, Mapping):
            raise ProtocolError(f"an import v2 task must be an object, got {type(data).__name__}")
        state = data.get("state")
        if not isinstance(state, int) or isinstance(state, bool):
            raise ProtocolError("Stream's answer lacks the integer field 'state'")
        settings = data.get("settings")
        return cls(id=_required_str(data, "id"), product=_required_str(data, "product"),
                   state=state, settings=dict(settings) if isinstance(settings, Mapping) else {},
                   raw=dict(data))

    @property
    def state_name(self) -> str | None:
        return v2_state_name(self.state)

    @property
    def state_label(self) -> str:
        return v2_state_label(self.state)

    @property
    def outcome(self) -> Outcome:
        return v2_outcome(self.state)

    @property
    def terminal(self) -> bool:
        return self.outcome.terminal

    @property
    def dir(self) -> str:
        """The uploaded path the task imports (`settings.s3.dir`), "" when absent."""
        s3 = self.settings.get("s3")
        value = s3.get("dir") if isinstance(s3, Mapping) else None
        return value if isinstance(value, str) else ""

    @property
    def result(self) -> Any:
        return self.raw.get("result")

    def to_json(self) -> dict[str, Any]:
        """Stream's object, `duration` left out, and the state's guessed name beside its number."""
        out = {key: value for key, value in self.raw.items() if key != "duration"}
        out["state_name"] = self.state_name or "unknown"
        return out


@dataclass(frozen=True, slots=True)
class ImportV2Page:
    """A page of ListImportV2Tasks; `next`/`prev` are Stream's cursors (None at the ends)."""

    tasks: list[ImportV2Task]
    next: str | None
    prev: str | None


def _required_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"Stream's answer lacks the text field {key!r}")
    return value


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


# ---------------------------------------------------------------------------- errors


def parse_json_body(body: bytes) -> dict[str, Any]:
    """A success body, which Stream always sends as a JSON object."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"Stream's answer is not JSON: {body[:80]!r}") from exc
    if not isinstance(data, dict):
        raise ProtocolError(f"Stream's answer is not a JSON object: {body[:80]!r}")
    return data


def _error_fields(body: bytes) -> tuple[int | None, str | None, bool]:
    """Stream's `code`, `message` and `unrecoverable`, or Nones when the body is not its JSON."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None, False
    if not isinstance(data, dict):
        return None, None, False
    code = data.get("code")
    message = data.get("message")
    return (
        code if isinstance(code, int) else None,
        message if isinstance(message, str) and message else None,
        data.get("unrecoverable") is True,
    )


def _plain_text(body: bytes, limit: int = 200) -> str | None:
    """A short readable form of a non-JSON body (the edge's plain-text 429, say)."""
    text = body.decode("utf-8", "replace").strip()
    return " ".join(text.split())[:limit] or None


def _rate_limit_reset(headers: Mapping[str, str], now: float) -> float | None:
    """When a 429'd endpoint may be called again: the window reset, else Retry-After."""
    lowered = {key.lower(): value for key, value in headers.items()}
    reset = parse_header_number(lowered.get("x-ratelimit-reset"))
    if reset is not None and reset > 0:
        return float(reset)
    retry_after = parse_header_number(lowered.get("retry-after"))
    if retry_after is not None and retry_after >= 0:
        return now + retry_after
    return None


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    operation: str,
    now: float,
) -> StreamError:
    """The exception for a failed API answer; understands Stream's error body and plain text."""
    code, message, unrecoverable = _error_fields(body)
    text = message or _plain_text(body) or httpx.codes.get_reason_phrase(status) or "error"
    if not text.startswith(operation):  # Stream's messages often name the operation already
        text = f"{operation}: {text}"
    if status == 429:
        return RateLimitedError(text, reset=_rate_limit_reset(headers, now), status=status,
                                code=code)
    error = error_for_status(status, text, code)
    if unrecoverable and isinstance(error, RetryableError):  # Stream says a retry won't help
        return TerminalError(text, status=status, code=code)
    return error


def error_for_status(status: int, text: str, code: int | None = None) -> StreamError:
    """The one map from an HTTP status (other than 429) to the exception tree."""
    if status == 408 or status >= 500:
        return RetryableError(text, status=status, code=code)
    if status in (401, 403):
        return AuthenticationError(text, status=status, code=code)
    if status == 404:
        return NotFoundError(text, status=status, code=code)
    return TerminalError(text, status=status, code=code)


_S3_CODE = re.compile(rb"<Code>([^<]{1,64})</Code>")


def upload_error(status: int, body: bytes) -> StreamError:
    """A refused PUT; the body is an object store's (S3 XML, say) and may echo the signed URL,
    so only its error code is kept."""
    match = _S3_CODE.search(body)
    code, message, _ = _error_fields(body)
    detail = match.group(1).decode("ascii", "replace") if match else message
    text = f"upload refused: {httpx.codes.get_reason_phrase(status) or 'error'}" + (
        f" ({detail})" if detail else "")
    return error_for_status(status, text, code)


def transport_error(exc: httpx.TransportError, operation: str) -> StreamError:
    """No answer at all: retryable, except a URL httpx cannot speak to."""
    if isinstance(exc, httpx.UnsupportedProtocol):
        return TerminalError(f"{operation}: {str(exc) or type(exc).__name__}")
    return RetryableError(f"{operation}: {describe_transport_error(exc)}")


def _where(exc: httpx.TransportError) -> str:
    """host:port of the request that failed (never its path or query: tokens live there)."""
    try:
        url = exc.request.url
    except RuntimeError:  # an error raised outside a request
        return "the server"
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    return f"{url.host}:{port}" if port else str(url.host)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def describe_transport_error(exc: httpx.TransportError) -> str:
    """What went wrong and with which host, as an operator says it:
    `connection refused to 127.0.0.1:9`, `DNS lookup failed for x.invalid:443`."""
    where = _where(exc)
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out talking to {where} ({type(exc).__name__})"
    causes = list(_causes(exc))
    for cause in reversed(causes):  # the deepest cause is the most precise
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed for {where}: {cause.strerror or cause}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failure with {where}: {getattr(cause, 'reason', None) or cause}"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused to {where}"
        if isinstance(cause, OSError) and cause.errno:
            return f"{os.strerror(cause.errno).lower()} ({where})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{where} closed the connection: {exc}"
    return f"{type(exc).__name__} talking to {where}: {exc}"


# ---------------------------------------------------------------------------- client


async def _file_chunks(path: Path, size: int, sha256: str | None = None,
                       progress: Callable[[int], None] | None = None) -> AsyncIterator[bytes]:
    """Exactly `size` bytes of the file, unchanged, a chunk at a time; `progress(sent)` after
    each. With `sha256` the bytes are hashed as they are read and the last chunk is held
    back unless they hash to it: a file changed since it was hashed (and validated) never
    arrives whole."""
    digest = hashlib.sha256()
    sent = 0
    async with await anyio.open_file(path, "rb") as file:
        while sent < size:
            chunk = await file.read(min(UPLOAD_CHUNK_SIZE, size - sent))
            if not chunk:
                raise FileChangedError(f"{path} shrank during the upload ({sent} of {size} bytes)")
            sent += len(chunk)
            digest.update(chunk)
            if sent == size:
                await _check_end(file, path, size, digest.hexdigest(), sha256)
            yield chunk
            if progress is not None:
                progress(sent)
        if size == 0:
            await _check_end(file, path, size, digest.hexdigest(), sha256)


async def _check_end(file: anyio.AsyncFile[bytes], path: Path, size: int, read: str,
                     sha256: str | None) -> None:
    if await file.read(1):
        raise FileChangedError(f"{path} grew during the upload (past {size} bytes)")
    if sha256 is not None and read != sha256:
        raise FileChangedError(
            f"{path.name}: the bytes read for the upload (sha256 {read[:16]}...) are not the "
            f"bytes validated (sha256 {sha256[:16]}...); the upload was stopped before its "
            "end")


# What a create's reconciliation finds: a task of either API.
_Found = TypeVar("_Found", ImportTask, ImportV2Task)


class StreamClient:
    """An async client of Stream's import API for one app; use it as an async context manager.

    `transport` replaces the network (httpx.MockTransport in tests); `clock`
    (Unix seconds), `sleep` and `rng` make waiting and jitter testable.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        upload_timeout: httpx.Timeout = UPLOAD_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        quiet_http_loggers()
        self.base_url = credentials.base_url
        self.contact = Contact()  # what the latest calls showed (readiness reads it)
        self.upload_progress: Callable[[int], None] | None = None  # bytes sent, per chunk
        self._policy = policy or RetryPolicy()
        self._limiter = limiter or RateLimiter(clock)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        limits = httpx.Limits(max_keepalive_connections=5, keepalive_expiry=KEEPALIVE_EXPIRY)
        self._http = httpx.AsyncClient(
            base_url=credentials.base_url,
            params={"api_key": credentials.api_key},
            headers={
                "Authorization": server_token(credentials.api_secret),
                "stream-auth-type": "jwt",
                "X-Stream-Client": CLIENT_HEADER,
            },
            timeout=timeout,
            limits=limits,
            transport=transport,
        )
        # The upload goes to an object store, not to Stream: no key, no JWT.
        self._upload_http = httpx.AsyncClient(
            headers={"X-Stream-Client": CLIENT_HEADER},
            timeout=upload_timeout,
            limits=limits,
            transport=transport,
        )

    @property
    def limiter(self) -> RateLimiter:
        return self._limiter

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._upload_http.aclose()

    # ------------------------------------------------------------ the API calls

    async def create_import_url(self, filename: str) -> ImportUrl:
        """POST /import_urls: where to upload `filename` (a base name) and its import path."""
        data = await self._call(CREATE_IMPORT_URL, "POST", "import_urls",
                                body={"filename": filename})
        return ImportUrl(path=_required_str(data, "path"),
                         upload_url=_required_str(data, "upload_url"))

    async def upload(self, upload_url: str, path: Path, sha256: str | None = None) -> int:
        """PUT the file's bytes, streamed from disk unchanged; returns the number of bytes sent.
        `sha256`: the digest the bytes must have (FileChangedError, the PUT cut short, if not)."""
        size = (await anyio.Path(path).stat()).st_size
        async for attempt in self._retrying(UPLOAD):
            with attempt:
                await self._put(upload_url, path, size, sha256)
        log.info("stream.uploaded", to=redact_url(upload_url), bytes=size, filename=path.name)
        return size

    async def create_import(
        self, path: str, mode: Mode = "upsert", merge_custom: bool | None = None
    ) -> ImportTask:
        """POST /imports for an uploaded `path`; `merge_custom` is sent only when set.

        A retried create may follow one that Stream did carry out (a timeout or a
        dropped connection after the request left), so before each retry the
        newest tasks are searched for `path`: a file is never imported twice.
        """
        body: dict[str, Any] = {"path": path, "mode": as_mode(mode)}
        if merge_custom is not None:
            body["merge_custom"] = merge_custom
        data = await self._create_reconciled(CREATE_IMPORT, "imports", body,
                                             lambda: self.find_import(path))
        if isinstance(data, ImportTask):
            return data
        return ImportTask.from_json(data.get("import_task"))

    async def get_import(self, import_id: str) -> ImportTask:
        """GET /imports/{id}; NotFoundError when there is no such task."""
        data = await self._call(GET_IMPORT, "GET", f"imports/{quote(import_id, safe='')}")
        return ImportTask.from_json(data.get("import_task"))

    async def list_imports(self, limit: int = 10, offset: int = 0) -> list[ImportTask]:
        """GET /imports: a page of tasks, newest first (as Stream orders them)."""
        data = await self._call(LIST_IMPORTS, "GET", "imports",
                                params={"limit": limit, "offset": offset})
        tasks = data.get("import_tasks")
        if not isinstance(tasks, list):
            raise ProtocolError("Stream's answer lacks the list 'import_tasks'")
        return [ImportTask.from_json(task) for task in tasks]

    async def list_roles(self) -> frozenset[str]:
        """GET /roles: the names of the app's roles, built-in and custom."""
        data = await self._call(LIST_ROLES, "GET", "roles")
        roles = data.get("roles")
        if not isinstance(roles, list):
            raise ProtocolError("Stream's answer lacks the list 'roles'")
        return frozenset(str(role["name"]) for role in roles
                         if isinstance(role, Mapping) and role.get("name"))

    async def list_channel_types(self) -> dict[str, int]:
        """GET /channeltypes: channel type name -> its max message length."""
        data = await self._call(LIST_CHANNEL_TYPES, "GET", "channeltypes")
        types = data.get("channel_types")
        if not isinstance(types, Mapping):
            raise ProtocolError("Stream's answer lacks the object 'channel_types'")
        return {str(name): _max_message_length(config) for name, config in types.items()}

    # ------------------------------------------------------------ Import V2

    async def create_import_v2(
        self,
        product: Product,
        location: S3Location,
        *,
        skip_references_check: bool = False,
        mode: Mode | None = None,
        merge_custom: bool | None = None,
    ) -> ImportV2Task:
        """POST /imports/v2 for a file uploaded to `location`; `mode` and `merge_custom` are
        sent only when given. A retry after an ambiguous failure first looks for a task
        importing the same `dir`, as create_import does for its path.
        """
        if product not in PRODUCTS:
            raise ValueError(f"product must be one of {PRODUCTS}, not {product!r}")
        settings: dict[str, Any] = {"skip_references_check": skip_references_check,
                                    "s3": location.to_json()}
        if mode is not None:
            settings["mode"] = mode
        if merge_custom is not None:
            settings["merge_custom"] = merge_custom
        body = {"product": product, "settings": settings}
        data = await self._create_reconciled(CREATE_IMPORT_V2, IMPORTS_V2, body,
                                             lambda: self.find_import_v2(location.dir))
        if isinstance(data, ImportV2Task):
            return data
        return self._v2_task(data)

    async def get_import_v2(self, import_id: str) -> ImportV2Task:
        """GET /imports/v2/{id}. Stream answers 400 to this GET without a JSON body (the
        official CLI's note), so `{}` is sent."""
        data = await self._call(GET_IMPORT_V2, "GET", f"{IMPORTS_V2}/{quote(import_id, safe='')}",
                                body={})
        return self._v2_task(data)

    async def list_imports_v2(
        self, *, state: int | None = None, cursor: str | None = None, limit: int | None = None
    ) -> ImportV2Page:
        """GET /imports/v2: a page of tasks, optionally of one state; `cursor` is a page's
        `next` (or `prev`). [guess] the cursor and limit go as `next` and `limit`."""
        params: dict[str, Any] = {}
        if state is not None:
            params["state"] = state
        if cursor is not None:
            params["next"] = cursor
        if limit is not None:
            params["limit"] = limit
        data = await self._call(LIST_IMPORTS_V2, "GET", IMPORTS_V2, params=params)
        tasks = data.get("import_tasks")
        if not isinstance(tasks, list):
            raise ProtocolError("Stream's answer lacks the list 'import_tasks'")
        return ImportV2Page([self._v2_task(task) for task in tasks],
                            _optional_str(data, "next") or None,
                            _optional_str(data, "prev") or None)

    async def cancel_import_v2(self, import_id: str) -> None:
        """POST /imports/v2/{id}/cancel: only a queued or processing task can be cancelled."""
        await self._call(CANCEL_IMPORT_V2, "POST",
                         f"{IMPORTS_V2}/{quote(import_id, safe='')}/cancel", body={})

    async def delete_import_v2(self, import_id: str) -> None:
        """DELETE /imports/v2/{id}: only a queued task can be deleted."""
        await self._call(DELETE_IMPORT_V2, "DELETE", f"{IMPORTS_V2}/{quote(import_id, safe='')}")

    async def find_import_v2(
        self, dir: str, *, search: int = RECONCILE_SEARCH
    ) -> ImportV2Task | None:
        """The task importing the uploaded path `dir`, among the first `search` listed."""
        seen = 0
        cursor: str | None = None
        while seen < search:
            page = await self.list_imports_v2(cursor=cursor)
            for task in page.tasks:
                if task.dir == dir:
                    return task
            seen += len(page.tasks)
            if page.next is None or not page.tasks:
                return None
            cursor = page.next
        return None

    async def import_file_v2(
        self, path: Path, product: Product = "feeds", *, skip_references_check: bool = False
    ) -> ImportV2Task:
        """The whole Import V2 flow: create the URL, upload, create the task."""
        target = await self.create_import_url(path.name)
        location = s3_location(target.upload_url, target.path)
        await self.upload(target.upload_url, path)
        task = await self.create_import_v2(product, location,
                                           skip_references_check=skip_references_check)
        log.info("stream.import_created", import_id=task.id, state=task.state_label,
                 product=product, filename=path.name)
        return task

    @staticmethod
    def _v2_task(data: Mapping[str, Any]) -> ImportV2Task:
        task = ImportV2Task.from_json(data)
        if task.state_name is None:
            log.warning("stream.unknown_import_state", import_id=task.id, state=task.state,
                        detail="not a state streamdrop knows; followed as still in progress")
        return task

    # ------------------------------------------------------------ built on the calls

    async def probe(self) -> None:
        """One cheap call (GetRateLimits, no retries) that refreshes `contact`."""
        await self._call_once(GET_RATE_LIMITS, "GET", "/rate_limits",
                              params={"server_side": "true"})

    async def find_import(self, path: str, *, search: int = RECONCILE_SEARCH) -> ImportTask | None:
        """The newest task importing `path`, among the `search` newest tasks."""
        page = min(search, 25)
        for offset in range(0, search, page):
            tasks = await self.list_imports(limit=page, offset=offset)
            for task in tasks:
                if task.path == path:
                    return task
            if len(tasks) < page:
                break
        return None

    async def import_file(
        self, path: Path, mode: Mode = "upsert", merge_custom: bool | None = None
    ) -> ImportTask:
        """The whole flow for one file: create the URL, upload, create the import."""
        target = await self.create_import_url(path.name)
        await self.upload(target.upload_url, path)
        task = await self.create_import(target.path, mode, merge_custom)
        log.info("stream.import_created", import_id=task.id, state=task.state, mode=mode,
                 filename=path.name)
        return task

    # ------------------------------------------------------------ the plumbing

    async def _create_reconciled(
        self,
        endpoint: str,
        url: str,
        body: Mapping[str, Any],
        find: Callable[[], Awaitable[_Found | None]],
    ) -> dict[str, Any] | _Found:
        """POST a create, retrying; after an ambiguous failure (the request may have been
        carried out) `find` looks for what it made before trying again."""
        ambiguous = False
        async for attempt in self._retrying(endpoint):
            with attempt:
                if ambiguous and (found := await find()) is not None:
                    log.info("stream.import_reconciled", endpoint=endpoint, import_id=found.id)
                    return found
                try:
                    return await self._call_once(endpoint, "POST", url, body=body)
                except RateLimitedError:
                    raise  # refused before doing anything
                except RetryableError:
                    ambiguous = True
                    raise
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _retrying(self, endpoint: str) -> AsyncRetrying:
        async def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            log.warning("stream.retry", endpoint=endpoint, attempt=state.attempt_number,
                        wait=round(state.upcoming_sleep, 3),
                        error=type(error).__name__, detail=str(error))

        return retrying(self._policy, rng=self._rng, clock=self._clock, sleep=self._sleep,
                        before_sleep=before_sleep)

    async def _call(
        self,
        endpoint: str,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        async for attempt in self._retrying(endpoint):
            with attempt:
                return await self._call_once(endpoint, method, url, params=params, body=body)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _wait_for_budget(self, endpoint: str) -> None:
        while (delay := self._limiter.delay(endpoint)) > 0:
            log.info("stream.rate_limit_wait", endpoint=endpoint, wait=round(delay, 3))
            await self._sleep(delay)

    async def _call_once(
        self,
        endpoint: str,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        await self._wait_for_budget(endpoint)
        self._limiter.spend(endpoint)
        content = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else None
        started = time.monotonic()
        try:
            response = await self._http.request(method, url, params=params, content=content,
                                                headers=headers)
        except httpx.TransportError as exc:
            error = transport_error(exc, endpoint)
            self.contact.failed_to_connect(self._clock(), str(error))
            raise error from exc
        self._limiter.observe(endpoint, response.headers)
        log.debug("stream.response", endpoint=endpoint, status=response.status_code,
                  ms=round((time.monotonic() - started) * 1000, 1))
        if not response.is_success:
            error = error_from_response(response.status_code, response.headers,
                                        response.content, operation=endpoint, now=self._clock())
            if isinstance(error, RateLimitedError):
                self._limiter.exhausted(endpoint, error.reset)
            self.contact.answered(self._clock(), response.status_code, str(error))
            raise error
        self.contact.succeeded(self._clock())
        return parse_json_body(response.content)

    async def _put(self, upload_url: str, path: Path, size: int, sha256: str | None) -> None:
        headers = {"Content-Type": "application/json", "Content-Length": str(size)}
        try:
            chunks = _file_chunks(path, size, sha256, self.upload_progress)
            response = await self._upload_http.put(upload_url, content=chunks, headers=headers)
        except httpx.TransportError as exc:
            raise transport_error(exc, UPLOAD) from exc
        if not response.is_success:
            raise upload_error(response.status_code, response.content)


def _max_message_length(config: Any) -> int:
    if isinstance(config, Mapping):
        value = config.get("max_message_length")
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_MAX_MESSAGE_LENGTH


async def fetch_app_options(client: StreamClient, base: Options | None = None) -> Options:
    """Validation options with the app's own roles and channel types (over `base`, by default
    Stream's defaults); the two lists are fetched concurrently.

    ListChannelTypes is limited to 60 a minute: fetch once per batch of files, not per file.
    """
    roles: frozenset[str] = frozenset()
    channel_types: dict[str, int] = {}

    async def fetch_roles() -> None:
        nonlocal roles
        roles = await client.list_roles()

    async def fetch_channel_types() -> None:
        nonlocal channel_types
        channel_types = await client.list_channel_types()

    async with concurrency.task_group() as group:  # fails with the call's own error
        group.start_soon(fetch_roles)
        group.start_soon(fetch_channel_types)
    return dataclasses.replace(base or Options(), roles=roles, channel_types=channel_types)
