"""The emulator's stand-in for S3: presigned one-time upload slots and bytes streamed to disk.

Uploaded files live under `<data dir>/uploads/<slot id>`, named by the slot id,
never by the client's filename, and are never held whole in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio


@dataclass(frozen=True, slots=True)
class StoredObject:
    file: Path
    size: int
    sha256: str


@dataclass(slots=True)
class UploadSlot:
    """What `POST /import_urls` hands out: one PUT with `token` before `expires_at`."""

    id: str
    token: str
    expires_at: int
    path: str
    filename: str
    claimed: bool = False  # a PUT holds it or has used it
    stored: StoredObject | None = None


class UploadRefused(Exception):
    """The PUT may not go on; `status` and `s3_code` say how S3 would answer."""

    def __init__(self, status: int, s3_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.s3_code = s3_code
        self.message = message


def too_large() -> UploadRefused:
    message = "Your proposed upload exceeds the maximum allowed size"
    return UploadRefused(413, "EntityTooLarge", message)


def check_declared_size(content_length: str | None, max_bytes: int) -> None:
    """Refuse before reading a byte: no declared length (S3's presigned PUT takes no
    chunked bodies), or one already over the cap."""
    if content_length is None or not content_length.isdigit():
        message = "You must provide the Content-Length HTTP header."
        raise UploadRefused(411, "MissingContentLength", message)
    if int(content_length) > max_bytes:
        raise too_large()


def clean_filename(name: object) -> str:
    """The base name only, as stream-cli sends it; no path tricks reach the object key."""
    if not isinstance(name, str):
        return ""
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip()


class UploadSlots:
    """The slots handed out, looked up by id (for the PUT) and by path (for create import)."""

    def __init__(self, app_id: str, ttl_seconds: float) -> None:
        self._app_id = app_id
        self._ttl = ttl_seconds
        self._by_id: dict[str, UploadSlot] = {}
        self._by_path: dict[str, UploadSlot] = {}

    def create(self, filename: str, now: float) -> UploadSlot:
        slot_id = uuid.uuid4().hex
        path = f"s3://stream-import/{self._app_id}/{uuid.uuid4()}/{filename}"
        slot = UploadSlot(slot_id, secrets.token_urlsafe(24), int(now + self._ttl), path, filename)
        self._by_id[slot_id] = slot
        self._by_path[path] = slot
        return slot

    def by_path(self, path: str) -> UploadSlot | None:
        return self._by_path.get(path)

    def claim(self, slot_id: str, token: str, expires: str, now: float) -> UploadSlot:
        """Check a PUT's URL and reserve the slot for it; raise UploadRefused if it may not."""
        slot = self._by_id.get(slot_id)
        if slot is None or not hmac.compare_digest(token.encode(), slot.token.encode()):
            raise UploadRefused(403, "AccessDenied", "The upload URL is not valid")
        if expires != str(slot.expires_at) or now >= slot.expires_at:
            raise UploadRefused(403, "AccessDenied", "Request has expired")
        if slot.claimed:
            raise UploadRefused(403, "AccessDenied", "The upload URL was already used")
        slot.claimed = True
        return slot

    def release(self, slot: UploadSlot) -> None:
        """A PUT that failed gives its slot back, so the client may try again."""
        if slot.stored is None:
            slot.claimed = False

    def stored(self) -> list[UploadSlot]:
        return [s for s in self._by_id.values() if s.stored is not None]


async def write_stream(
    chunks: AsyncIterator[bytes], target: Path, max_bytes: int
) -> StoredObject:
    """Stream the body to `target` (via a temp name), hashing as it goes.

    Raises UploadRefused(413) past `max_bytes`, leaving nothing behind.
    """
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    size = 0
    try:
        async with await anyio.open_file(partial, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise too_large()
                digest.update(chunk)
                await out.write(chunk)
        await anyio.Path(partial).rename(target)
    finally:
        await anyio.Path(partial).unlink(missing_ok=True)
    return StoredObject(target, size, digest.hexdigest())


async def discard_stream(chunks: AsyncIterator[bytes]) -> None:
    """Read a body to its end without keeping it (a failed upload still receives the bytes)."""
    async for _ in chunks:
        pass
