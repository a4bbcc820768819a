"""The emulator's settings, with Stream's defaults, and the parsing of their CLI spellings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from streamdrop.validation.model import DEFAULT_CHANNEL_TYPES, DEFAULT_MAX_MESSAGE_LENGTH
from streamdrop.validation.model import parse_channel_types as parse_channel_types  # noqa: PLC0414 - re-export
from streamdrop.validation.model import parse_roles as parse_roles  # noqa: PLC0414 - re-export

StateSpelling = Literal["docs", "sdk", "novel"]
STATE_SPELLINGS: tuple[StateSpelling, ...] = ("docs", "sdk", "novel")

# Stream's built-ins (spec §3.1, §3.2), as the validator knows them; the
# `--roles`/`--channel-types` syntax is the validator's too.
BUILTIN_ROLES: tuple[str, ...] = ("user", "admin", "guest", "anonymous")
BUILTIN_CHANNEL_TYPES: tuple[str, ...] = tuple(DEFAULT_CHANNEL_TYPES)

DEFAULT_API_KEY = "demo-key"
# Long enough (32+ bytes) that JWT libraries do not warn about a weak HMAC key.
DEFAULT_API_SECRET = "demo-secret-of-the-streamdrop-emulator"
MAX_UPLOAD_BYTES = 300_000_000  # Stream's documented cap ("300 MB")


def _builtin_channel_types() -> dict[str, int]:
    return dict.fromkeys(BUILTIN_CHANNEL_TYPES, DEFAULT_MAX_MESSAGE_LENGTH)


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything the emulator can be told; every field has a usable default.

    Times are in seconds. `rate_limit` applies to each endpoint separately,
    `endpoint_limits` overrides it per Stream endpoint name (`GetImport`, ...).
    `fault_rate` is the share of requests that get a fault, drawn from
    `fault_kinds` (`500`, `503`, `slow`, `drop` for API routes, `upload` for
    the upload PUT); `seed` makes the draw repeatable (None: a random seed,
    logged at start).
    """

    host: str = "127.0.0.1"
    port: int = 8765
    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET
    app_id: str = "1000001"
    s3_region: str = "us-east-1"  # named in upload URLs, expected back in Import V2 settings
    roles: tuple[str, ...] = BUILTIN_ROLES
    channel_types: Mapping[str, int] = field(default_factory=_builtin_channel_types)
    rate_limit: int = 1_000
    rate_window_seconds: int = 60
    endpoint_limits: Mapping[str, int] = field(default_factory=dict)
    plain_429: bool = False
    step_seconds: float = 2.0
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = ("500", "503", "slow", "drop", "upload")
    slow_seconds: float = 8.0
    seed: int | None = None
    states: StateSpelling = "docs"
    upload_ttl_seconds: float = 3_600.0
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    data_dir: Path | None = None
    public_url: str | None = None
    # How long a GET waits for a due analysis still running before it answers `analyzing`.
    analysis_wait_seconds: float = 2.0

    def __post_init__(self) -> None:
        problems = list(_problems(self))
        if problems:
            raise ValueError("; ".join(problems))


def _problems(config: EmulatorConfig) -> list[str]:
    problems: list[str] = []
    if not config.api_key or not config.api_secret:
        problems.append("api_key and api_secret must not be empty")
    if config.rate_limit < 1 or any(n < 1 for n in config.endpoint_limits.values()):
        problems.append("rate limits must be at least 1")
    if config.rate_window_seconds < 1:
        problems.append("rate_window_seconds must be at least 1")
    if not 0.0 <= config.fault_rate <= 1.0:
        problems.append("fault_rate must be between 0 and 1")
    if config.step_seconds < 0 or config.latency_ms < 0 or config.slow_seconds < 0:
        problems.append("step_seconds, latency_ms and slow_seconds must not be negative")
    if config.states not in STATE_SPELLINGS:
        problems.append(f"states must be one of {', '.join(STATE_SPELLINGS)}")
    if not config.roles or not config.channel_types:
        problems.append("roles and channel_types must not be empty")
    return problems


def parse_endpoint_limit(text: str) -> tuple[str, int]:
    """`GetImport=300` -> ("GetImport", 300)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"bad endpoint limit {text!r}: want NAME=N")
    return name.strip(), int(value)
