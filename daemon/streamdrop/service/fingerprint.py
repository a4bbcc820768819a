"""Who a file is: its SHA-256, streamed, and the identity of one import of it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """The file's SHA-256, read in 1 MiB chunks (blocking: run it in a worker thread)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def params_digest(params: Mapping[str, Any]) -> str:
    """A digest of every parameter of an import (target, mode, merge_custom, format, options)."""
    return hashlib.sha256(orjson.dumps(dict(params), option=orjson.OPT_SORT_KEYS)).hexdigest()


def identity(sha256: str, params: Mapping[str, Any]) -> str:
    """Same bytes imported the same way: the same identity, unique in the database."""
    return hashlib.sha256(f"{sha256}:{params_digest(params)}".encode()).hexdigest()
