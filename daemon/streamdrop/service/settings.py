"""The daemon's configuration: a TOML file, checked whole, with one clear message per mistake.

Every key is documented in config/streamdrop.example.toml. Unknown keys are
errors too (a typo would otherwise be silently ignored). The environment wins
over the file for the default target's credentials (`STREAM_KEY`,
`STREAM_SECRET`, `STREAM_SECRET_FILE`, `STREAM_CHAT_URL`) and for the database
(`STREAMDROP_DATABASE_URL`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from streamdrop.stream.credentials import DEFAULT_BASE_URL, Credentials, load_credentials

DEFAULT_TARGET = "default"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/lib/streamdrop/streamdrop.db"
DATABASE_URL_ENV = "STREAMDROP_DATABASE_URL"
MODES = ("insert", "upsert")
FORMATS = ("auto", "chat", "chat-jsonl", "feeds")
ON_FAILURE = ("continue", "pause")
LOG_FORMATS = ("auto", "json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error")

T = TypeVar("T")


class ConfigError(ValueError):
    """A bad configuration; the message names the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


@dataclass(frozen=True, slots=True)
class TargetSettings:
    """One Stream app."""

    name: str
    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    api_secret: str | None = field(default=None, repr=False)
    api_secret_file: str | None = None
    max_active_imports: int = 1

    def credentials(self, env: Mapping[str, str] | None = None) -> Credentials:
        """Key and secret; only the default target reads STREAM_* from the environment."""
        env = os.environ if env is None else env
        if self.name != DEFAULT_TARGET:
            env = {k: v for k, v in env.items() if k == "CREDENTIALS_DIRECTORY"}
        config = {"api_key": self.api_key, "api_secret": self.api_secret,
                  "api_secret_file": self.api_secret_file, "base_url": self.base_url}
        return load_credentials(config, env)


@dataclass(frozen=True, slots=True)
class DropSettings:
    path: Path
    done: Path
    failed: Path
    ready: Path
    duplicates: Path
    settle_seconds: float = 2.0
    rescan_seconds: float = 60.0
    polling: bool = False


@dataclass(frozen=True, slots=True)
class PollSettings:
    min_interval_seconds: float = 2.0
    max_interval_seconds: float = 60.0
    stuck_after_seconds: float = 6 * 3600.0
    # With more active imports than this, refresh them through list-imports pages.
    list_threshold: int = 10


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    workers: int = 4
    lease_seconds: float = 30.0
    grace_seconds: float = 20.0
    retry_max_delay_seconds: float = 300.0
    # --once gives up on a task after this many failed tries (the API stayed unreachable).
    once_max_attempts: int = 5
    validation_cache_seconds: float = 300.0


@dataclass(frozen=True, slots=True)
class Rule:
    glob: str
    mode: str
    target: str = DEFAULT_TARGET
    format: str = "auto"
    merge_custom: bool | None = None
    lighter_validation_id: bool = False
    strict_references: bool = False
    on_failure: str = "continue"
    notify: tuple[str, ...] = ()

    def matches(self, rel_path: str) -> bool:
        return glob_regex(self.glob).fullmatch(rel_path) is not None


@dataclass(frozen=True, slots=True)
class NotifySettings:
    urls: tuple[str, ...] = ()  # used by rules that name none
    max_attempts: int = 10


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    port: int = 0  # 0: no metrics endpoint
    host: str = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "info"
    format: str = "auto"


@dataclass(frozen=True, slots=True)
class Settings:
    targets: Mapping[str, TargetSettings]
    database_url: str
    drop: DropSettings
    rules: tuple[Rule, ...]
    poll: PollSettings = PollSettings()
    daemon: DaemonSettings = DaemonSettings()
    notify: NotifySettings = NotifySettings()
    log: LogSettings = LogSettings()
    metrics: MetricsSettings = MetricsSettings()
    source: Path | None = None

    def rule_for(self, rel_path: str) -> Rule | None:
        """The first rule whose glob matches the path (relative to the drop folder)."""
        return next((rule for rule in self.rules if rule.matches(rel_path)), None)


# -- globs --------------------------------------------------------------------------


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A gitignore-style glob as a regex over a relative POSIX path.

    `*` and `?` stay inside one folder, `**/` is any number of folders, a
    trailing `/**` is everything inside; a pattern without a slash matches the
    name at any depth (as in .gitignore); a leading `/` only anchors.
    """
    body = pattern.strip()
    if "/" not in body.rstrip("/"):
        body = "**/" + body
    body = body.lstrip("/")
    if body.endswith("/"):
        body += "**"
    out, i = [], 0
    while i < len(body):
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        elif body[i] == "[" and (end := body.find("]", i + 1)) > i:
            inner = body[i + 1:end].replace("\\", "\\\\")
            out.append("[" + ("^" + inner[1:] if inner.startswith("!") else inner) + "]")
            i = end + 1
        else:
            out.append(re.escape(body[i]))
            i += 1
    return re.compile("".join(out))


# -- reading values -----------------------------------------------------------------


def _table(data: Mapping[str, Any], key: str, allowed: set[str]) -> Mapping[str, Any]:
    value = data.get(key.rsplit(".", 1)[-1], {})
    if not isinstance(value, Mapping):
        raise ConfigError(key, "must be a table")
    for name in value:
        if name not in allowed:
            raise ConfigError(f"{key}.{name}", "unknown key (allowed: "
                              + ", ".join(sorted(allowed)) + ")")
    return value


def _get(table: Mapping[str, Any], key: str, name: str, kind: Callable[[Any], T | None],
         default: T) -> T:
    if name not in table:
        return default
    value = kind(table[name])
    if value is None:
        raise ConfigError(f"{key}.{name}", f"{_describe(kind)}, not {table[name]!r}")
    return value


def _describe(kind: Callable[..., Any]) -> str:
    return (kind.__doc__ or "has the wrong type").strip()


def _number(value: Any) -> float | None:
    """must be a number >= 0"""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def _positive_int(value: Any) -> int | None:
    """must be a whole number >= 1"""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


def _bool(value: Any) -> bool | None:
    """must be true or false"""
    return value if isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    """must be a non-empty string"""
    return value if isinstance(value, str) and value.strip() else None


def _texts(value: Any) -> tuple[str, ...] | None:
    """must be a list of strings"""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _choice(options: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return value if value in options else None

    check.__doc__ = "must be one of " + ", ".join(repr(o) for o in options)
    return check


# -- sections -----------------------------------------------------------------------

TARGET_KEYS = {"base_url", "api_key", "api_secret", "api_secret_file", "max_active_imports"}
DROP_KEYS = {"path", "done", "failed", "ready", "duplicates", "settle_seconds",
             "rescan_seconds", "polling"}
POLL_KEYS = {"min_interval_seconds", "max_interval_seconds", "stuck_after_seconds",
             "list_threshold"}
DAEMON_KEYS = {"workers", "lease_seconds", "grace_seconds", "retry_max_delay_seconds",
               "once_max_attempts", "validation_cache_seconds"}
RULE_KEYS = {"glob", "mode", "target", "format", "merge_custom", "lighter_validation_id",
             "strict_references", "on_failure", "notify"}
TOP_KEYS = {"stream", "targets", "database", "drop", "poll", "daemon", "rules", "notify", "log",
            "metrics"}


def _target(name: str, key: str, table: Mapping[str, Any]) -> TargetSettings:
    return TargetSettings(
        name=name,
        base_url=_get(table, key, "base_url", _text, DEFAULT_BASE_URL),
        api_key=_get(table, key, "api_key", _text, None),
        api_secret=_get(table, key, "api_secret", _text, None),
        api_secret_file=_get(table, key, "api_secret_file", _text, None),
        max_active_imports=_get(table, key, "max_active_imports", _positive_int, 1),
    )


def _targets(data: Mapping[str, Any]) -> dict[str, TargetSettings]:
    out = {DEFAULT_TARGET: _target(DEFAULT_TARGET, "stream", _table(data, "stream", TARGET_KEYS))}
    named = data.get("targets", {})
    if not isinstance(named, Mapping):
        raise ConfigError("targets", "must be a table of [targets.NAME] tables")
    for name in named:
        key = f"targets.{name}"
        out[name] = _target(name, key, _table(named, key, TARGET_KEYS))
    return out


def _path(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _drop(data: Mapping[str, Any], base: Path) -> DropSettings:
    table = _table(data, "drop", DROP_KEYS)
    if "path" not in table:
        raise ConfigError("drop.path", "is required: the folder to watch")
    drop = _path(base, _get(table, "drop", "path", _text, ""))

    def beside(name: str) -> Path:
        given = _get(table, "drop", name, _text, "")
        return _path(base, given) if given else drop.parent / name

    folders = {name: beside(name) for name in ("done", "failed", "ready", "duplicates")}
    for name, folder in folders.items():
        if folder == drop or drop in folder.parents:
            raise ConfigError(f"drop.{name}", f"{folder} must not be inside the drop folder")
    return DropSettings(
        path=drop, **folders,
        settle_seconds=_get(table, "drop", "settle_seconds", _number, 2.0),
        rescan_seconds=max(_get(table, "drop", "rescan_seconds", _number, 60.0), 0.1),
        polling=_get(table, "drop", "polling", _bool, False),
    )


def _poll(data: Mapping[str, Any]) -> PollSettings:
    table = _table(data, "poll", POLL_KEYS)
    low = max(_get(table, "poll", "min_interval_seconds", _number, 2.0), 0.01)
    high = _get(table, "poll", "max_interval_seconds", _number, 60.0)
    if high < low:
        raise ConfigError("poll.max_interval_seconds", "must not be below min_interval_seconds")
    return PollSettings(low, high,
                        _get(table, "poll", "stuck_after_seconds", _number, 6 * 3600.0),
                        _get(table, "poll", "list_threshold", _positive_int, 10))


def _daemon(data: Mapping[str, Any]) -> DaemonSettings:
    table = _table(data, "daemon", DAEMON_KEYS)
    lease = _get(table, "daemon", "lease_seconds", _number, 30.0)
    if lease < 1:
        raise ConfigError("daemon.lease_seconds", "must be at least 1")
    return DaemonSettings(
        workers=_get(table, "daemon", "workers", _positive_int, 4),
        lease_seconds=lease,
        grace_seconds=_get(table, "daemon", "grace_seconds", _number, 20.0),
        retry_max_delay_seconds=_get(table, "daemon", "retry_max_delay_seconds", _number, 300.0),
        once_max_attempts=_get(table, "daemon", "once_max_attempts", _positive_int, 5),
        validation_cache_seconds=_get(table, "daemon", "validation_cache_seconds", _number,
                                      300.0),
    )


def _rule(index: int, table: Any, targets: Mapping[str, TargetSettings],
          default_notify: tuple[str, ...]) -> Rule:
    key = f"rules[{index}]"
    if not isinstance(table, Mapping):
        raise ConfigError(key, "must be a table ([[rules]])")
    for name in table:
        if name not in RULE_KEYS:
            raise ConfigError(f"{key}.{name}", "unknown key (allowed: "
                              + ", ".join(sorted(RULE_KEYS)) + ")")
    for required in ("glob", "mode"):
        if required not in table:
            raise ConfigError(f"{key}.{required}", "is required")
    target = _get(table, key, "target", _text, DEFAULT_TARGET)
    if target not in targets:
        raise ConfigError(f"{key}.target", f"no target {target!r} ([stream] or [targets.NAME])")
    merge = table.get("merge_custom")
    if merge is not None and not isinstance(merge, bool):
        raise ConfigError(f"{key}.merge_custom", f"must be true or false, not {merge!r}")
    return Rule(
        glob=_get(table, key, "glob", _text, "**"),
        mode=_get(table, key, "mode", _choice(MODES), "upsert"),
        target=target,
        format=_get(table, key, "format", _choice(FORMATS), "auto"),
        merge_custom=merge,
        lighter_validation_id=_get(table, key, "lighter_validation_id", _bool, False),
        strict_references=_get(table, key, "strict_references", _bool, False),
        on_failure=_get(table, key, "on_failure", _choice(ON_FAILURE), "continue"),
        notify=_get(table, key, "notify", _texts, default_notify),
    )


def _rules(data: Mapping[str, Any], targets: Mapping[str, TargetSettings],
           notify: NotifySettings) -> tuple[Rule, ...]:
    raw = data.get("rules", [{"glob": "**", "mode": "upsert"}])
    if not isinstance(raw, list) or not raw:
        raise ConfigError("rules", "must be a non-empty list of [[rules]] tables")
    return tuple(_rule(i, table, targets, notify.urls) for i, table in enumerate(raw))


def _notify(data: Mapping[str, Any]) -> NotifySettings:
    table = _table(data, "notify", {"urls", "max_attempts"})
    return NotifySettings(urls=_get(table, "notify", "urls", _texts, ()),
                          max_attempts=_get(table, "notify", "max_attempts", _positive_int, 10))


def _log(data: Mapping[str, Any]) -> LogSettings:
    table = _table(data, "log", {"level", "format"})
    return LogSettings(level=_get(table, "log", "level", _choice(LOG_LEVELS), "info"),
                       format=_get(table, "log", "format", _choice(LOG_FORMATS), "auto"))


def _port(value: Any) -> int | None:
    """must be a port number from 0 (off) to 65535"""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        return None
    return value


def _metrics(data: Mapping[str, Any]) -> MetricsSettings:
    table = _table(data, "metrics", {"port", "host"})
    return MetricsSettings(port=_get(table, "metrics", "port", _port, 0),
                           host=_get(table, "metrics", "host", _text, "127.0.0.1"))


def _database(data: Mapping[str, Any], env: Mapping[str, str], base: Path) -> str:
    table = _table(data, "database", {"url"})
    url = env.get(DATABASE_URL_ENV) or _get(table, "database", "url", _text, DEFAULT_DATABASE_URL)
    return _absolute_sqlite(url, base)


def _absolute_sqlite(url: str, base: Path) -> str:
    """A relative SQLite file is relative to the config file, not to wherever we started."""
    prefix, sep, path = url.partition(":///")
    if not sep or not prefix.startswith("sqlite") or path.startswith("/") or not path:
        return url
    return f"{prefix}:///{(base / path).resolve()}"


def parse(data: Mapping[str, Any], *, base: Path, env: Mapping[str, str] | None = None,
          source: Path | None = None) -> Settings:
    """Settings from a parsed TOML document; relative paths are relative to `base`."""
    env = os.environ if env is None else env
    for name in data:
        if name not in TOP_KEYS:
            raise ConfigError(name, "unknown section (allowed: " + ", ".join(sorted(TOP_KEYS))
                              + ")")
    targets = _targets(data)
    notify = _notify(data)
    return Settings(targets=targets, database_url=_database(data, env, base),
                    drop=_drop(data, base), rules=_rules(data, targets, notify),
                    poll=_poll(data), daemon=_daemon(data), notify=notify, log=_log(data),
                    metrics=_metrics(data), source=source)


def load(path: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read and check a config file; ConfigError (naming the key) when anything is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from exc
    return parse(data, base=path.resolve().parent, env=env, source=path)


def relative_posix(path: Path, root: Path) -> str:
    return PurePosixPath(path.relative_to(root).as_posix()).as_posix()
