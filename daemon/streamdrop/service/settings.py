"""The daemon's configuration: a TOML file, checked whole, with one clear message per mistake.

Every key is documented in config/streamdrop.example.toml. Each section is a
dataclass below: its fields are the section's keys, their defaults the
defaults, their types (or a field's `check`) what a value must be; nothing
else lists them. Unknown keys are errors too (a typo would otherwise be
silently ignored). The environment wins over the file for the default target's
credentials (`STREAM_KEY`, `STREAM_SECRET`, `STREAM_SECRET_FILE`,
`STREAM_CHAT_URL`) and for the database (`STREAMDROP_DATABASE_URL`).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

from streamdrop.service.globs import glob_regex
from streamdrop.stream.client import MODES
from streamdrop.stream.credentials import DEFAULT_BASE_URL, Credentials, load_credentials
from streamdrop.stream.import_states import PollSchedule
from streamdrop.validation import FORMATS as FILE_FORMATS

DEFAULT_TARGET = "default"
# Without [database] url: streamdrop.db in $STATE_DIRECTORY (systemd's StateDirectory=),
# else beside the config file.
DEFAULT_DATABASE_FILE = "streamdrop.db"
STATE_DIRECTORY_ENV = "STATE_DIRECTORY"
DATABASE_URL_ENV = "STREAMDROP_DATABASE_URL"
FORMATS = ("auto", *FILE_FORMATS)
ON_FAILURE = ("continue", "pause")
LOG_FORMATS = ("auto", "json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error")

T = TypeVar("T")
S = TypeVar("S")


# -- what a value must be (each checker's docstring is its error message) --------------


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


def _port(value: Any) -> int | None:
    """must be a port number from 0 (off) to 65535"""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        return None
    return value


def _choice(options: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return value if value in options else None

    check.__doc__ = "must be one of " + ", ".join(repr(o) for o in options)
    return check


def check(checker: Callable[[Any], Any], default: Any = dataclasses.MISSING) -> Any:
    """A field whose values `checker` accepts (instead of the one its type implies)."""
    if default is dataclasses.MISSING:
        return field(metadata={"check": checker})
    return field(default=default, metadata={"check": checker})


class ConfigError(ValueError):
    """A bad configuration; the message names the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}" if key else problem)  # "": the file itself
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
    # Stream's cap on one import; a bigger chat file is split into parts (rule key `split`).
    max_import_bytes: int = 300_000_000

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
    work: Path  # the parts of files being imported as batches
    skipped: Path  # files an operator skipped (`streamdrop skip`), with their reports
    settle_seconds: float = 2.0
    rescan_seconds: float = 60.0
    polling: bool = False
    create: bool = False  # make the drop folder when it is missing (else: refuse to start)


@dataclass(frozen=True, slots=True)
class PollSettings:
    min_interval_seconds: float = 2.0
    max_interval_seconds: float = 60.0
    stuck_after_seconds: float = 6 * 3600.0
    # With more active imports than this, refresh them through list-imports pages.
    list_threshold: int = 10

    @property
    def schedule(self) -> PollSchedule:
        return PollSchedule(initial=self.min_interval_seconds, maximum=self.max_interval_seconds)


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    workers: int = 4
    lease_seconds: float = 30.0
    grace_seconds: float = 20.0
    retry_max_delay_seconds: float = 300.0
    # --once gives up on a task after this many failed tries (the API stayed unreachable).
    once_max_attempts: int = 5
    # --once exits 1 once every target it waits for was unreachable or refused our
    # credentials this long without a break.
    once_give_up_seconds: float = 60.0
    validation_cache_seconds: float = 300.0
    # Valid files checked ahead of the import slots that may wait for one at most.
    validate_ahead: int = 3
    # A target with no call for this long is probed (readiness stays fresh while idle).
    target_probe_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class Rule:
    glob: str
    mode: str = check(_choice(MODES))
    target: str = DEFAULT_TARGET
    format: str = check(_choice(FORMATS), "auto")
    merge_custom: bool | None = check(_bool, None)
    lighter_validation_id: bool = False
    strict_references: bool = False
    on_failure: str = check(_choice(ON_FAILURE), "continue")
    notify: tuple[str, ...] = ()
    # A chat file over the target's max_import_bytes is split into parts imported in
    # order; false: it is refused, as Stream would.
    split: bool = True

    def matches(self, rel_path: str) -> bool:
        return glob_regex(self.glob).fullmatch(rel_path) is not None


@dataclass(frozen=True, slots=True)
class NotifySettings:
    urls: tuple[str, ...] = ()  # used by rules that name none
    max_attempts: int = 10


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    port: int = check(_port, 0)  # 0: no metrics endpoint
    host: str = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = check(_choice(LOG_LEVELS), "info")
    format: str = check(_choice(LOG_FORMATS), "auto")


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


# -- reading a section through its dataclass -------------------------------------------

_BY_TYPE: dict[Any, Callable[[Any], Any]] = {
    float: _number, int: _positive_int, bool: _bool, str: _text, str | None: _text,
    tuple[str, ...]: _texts, Path: _text,  # a folder: made absolute by its section
}


def _checkers(cls: type[Any]) -> dict[str, Callable[[Any], Any]]:
    """Each init field of a section and what its value must be."""
    hints = get_type_hints(cls)
    return {f.name: f.metadata.get("check") or _BY_TYPE[hints[f.name]]
            for f in dataclasses.fields(cls) if f.init}


def keys_of(cls: type[Any], *, without: tuple[str, ...] = ()) -> set[str]:
    """The keys a section allows: its dataclass's fields."""
    return set(_checkers(cls)) - set(without)


def _table(data: Mapping[str, Any], key: str, allowed: set[str]) -> Mapping[str, Any]:
    value = data.get(key.rsplit(".", 1)[-1], {})
    if not isinstance(value, Mapping):
        raise ConfigError(key, "must be a table")
    for name in value:
        if name not in allowed:
            raise ConfigError(f"{key}.{name}", "unknown key (allowed: "
                              + ", ".join(sorted(allowed)) + ")")
    return value


def _value(table: Mapping[str, Any], key: str, name: str, kind: Callable[[Any], T | None]) -> T:
    value = kind(table[name])
    if value is None:
        raise ConfigError(f"{key}.{name}", f"{_describe(kind)}, not {table[name]!r}")
    return value


def _describe(kind: Callable[..., Any]) -> str:
    return (kind.__doc__ or "has the wrong type").strip()


def _section(cls: type[S], table: Mapping[str, Any], key: str, **given: Any) -> S:
    """`cls` from `table`: checked values where given, the dataclass's defaults elsewhere."""
    values = {name: _value(table, key, name, kind) for name, kind in _checkers(cls).items()
              if name in table and name not in given}
    return cls(**given, **values)


# -- sections -----------------------------------------------------------------------

DROP_FOLDERS = ("done", "failed", "ready", "duplicates", "work", "skipped")


def _targets(data: Mapping[str, Any]) -> dict[str, TargetSettings]:
    allowed = keys_of(TargetSettings, without=("name",))
    out = {DEFAULT_TARGET: _section(TargetSettings, _table(data, "stream", allowed), "stream",
                                    name=DEFAULT_TARGET)}
    named = data.get("targets", {})
    if not isinstance(named, Mapping):
        raise ConfigError("targets", "must be a table of [targets.NAME] tables")
    for name in named:
        key = f"targets.{name}"
        out[name] = _section(TargetSettings, _table(named, key, allowed), key, name=name)
    return out


def _path(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _drop(data: Mapping[str, Any], base: Path) -> DropSettings:
    table = _table(data, "drop", keys_of(DropSettings))
    if "path" not in table:
        raise ConfigError("drop.path", "is required: the folder to watch")
    drop = _path(base, _value(table, "drop", "path", _text))

    def beside(name: str) -> Path:
        return _path(base, _value(table, "drop", name, _text)) if name in table \
            else drop.parent / name

    folders = {name: beside(name) for name in DROP_FOLDERS}
    for name, folder in folders.items():
        if folder == drop or drop in folder.parents:
            raise ConfigError(f"drop.{name}", f"{folder} must not be inside the drop folder")
    settings = _section(DropSettings, table, "drop", path=drop, **folders)
    return dataclasses.replace(settings, rescan_seconds=max(settings.rescan_seconds, 0.1))


def _poll(data: Mapping[str, Any]) -> PollSettings:
    settings = _section(PollSettings, _table(data, "poll", keys_of(PollSettings)), "poll")
    settings = dataclasses.replace(
        settings, min_interval_seconds=max(settings.min_interval_seconds, 0.01))
    if settings.max_interval_seconds < settings.min_interval_seconds:
        raise ConfigError("poll.max_interval_seconds", "must not be below min_interval_seconds")
    return settings


def _daemon(data: Mapping[str, Any]) -> DaemonSettings:
    settings = _section(DaemonSettings, _table(data, "daemon", keys_of(DaemonSettings)),
                        "daemon")
    if settings.lease_seconds < 1:
        raise ConfigError("daemon.lease_seconds", "must be at least 1")
    return settings


def _rule(index: int, table: Any, targets: Mapping[str, TargetSettings],
          default_notify: tuple[str, ...]) -> Rule:
    key = f"rules[{index}]"
    if not isinstance(table, Mapping):
        raise ConfigError(key, "must be a table ([[rules]])")
    table = _table({key: table}, key, keys_of(Rule))
    for required in ("glob", "mode"):
        if required not in table:
            raise ConfigError(f"{key}.{required}", "is required")
    rule = _section(Rule, table, key, **({} if "notify" in table else
                                         {"notify": default_notify}))
    if rule.target not in targets:
        raise ConfigError(f"{key}.target",
                          f"no target {rule.target!r} ([stream] or [targets.NAME])")
    return rule


def _rules(data: Mapping[str, Any], targets: Mapping[str, TargetSettings],
           notify: NotifySettings) -> tuple[Rule, ...]:
    raw = data.get("rules", [{"glob": "**", "mode": "upsert"}])
    if not isinstance(raw, list) or not raw:
        raise ConfigError("rules", "must be a non-empty list of [[rules]] tables")
    return tuple(_rule(i, table, targets, notify.urls) for i, table in enumerate(raw))


def default_database_url(env: Mapping[str, str], base: Path) -> str:
    """SQLite in systemd's state directory (the first, if several), else beside the config."""
    state = env.get(STATE_DIRECTORY_ENV, "").split(":")[0]
    folder = Path(state) if state.startswith("/") else base
    return f"sqlite+aiosqlite:///{folder / DEFAULT_DATABASE_FILE}"


def _database(data: Mapping[str, Any], env: Mapping[str, str], base: Path) -> str:
    table = _table(data, "database", {"url"})
    url = env.get(DATABASE_URL_ENV) or (_value(table, "database", "url", _text)
                                        if "url" in table else "")
    return _absolute_sqlite(url, base) if url else default_database_url(env, base)


def _absolute_sqlite(url: str, base: Path) -> str:
    """As SQLAlchemy reads them, `sqlite:////abs/x.db` is absolute and `sqlite:///x.db` is
    relative: relative to the config file here, not to wherever the process started."""
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
    notify = _plain(data, "notify", NotifySettings)
    return Settings(targets=targets, database_url=_database(data, env, base),
                    drop=_drop(data, base), rules=_rules(data, targets, notify),
                    poll=_poll(data), daemon=_daemon(data), notify=notify,
                    log=_plain(data, "log", LogSettings),
                    metrics=_plain(data, "metrics", MetricsSettings), source=source)


def _plain(data: Mapping[str, Any], name: str, cls: type[S]) -> S:
    return _section(cls, _table(data, name, keys_of(cls)), name)


TOP_KEYS = {"stream", "targets", "database", "drop", "poll", "daemon", "rules", "notify", "log",
            "metrics"}


def load(path: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read and check a config file; ConfigError (naming the key) when anything is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("", f"cannot read it: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"not valid TOML: {exc}") from exc
    return parse(data, base=path.resolve().parent, env=env, source=path)

