"""`streamdrop check`: is this configuration one the daemon can run with? One finding per check.

Offline: the credentials are there, the folders exist or can be made and are writable
(another filesystem than the drop folder's is only a warning: moves become copies),
every notification URL is one Apprise knows. Then the database (reachable, which
migration) and, unless offline, each used target's credentials with a real call to Stream.
`run` refuses to start on any finding `invalid` from the offline part.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from streamdrop.service.settings import DEFAULT_TARGET, DROP_FOLDERS, Settings
from streamdrop.storage import db
from streamdrop.stream.client import StreamClient
from streamdrop.stream.errors import AuthenticationError, CredentialsError, StreamError
from streamdrop.stream.retry import NO_RETRY

Level = Literal["ok", "warning", "invalid", "failed"]
EXIT_OK = 0
EXIT_FAILED = 1  # a live check failed: unreachable, credentials refused
EXIT_INVALID = 2  # the configuration is wrong


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    key: str
    message: str

    def line(self) -> str:
        return f"{self.level:<8}{self.key}: {self.message}"


def exit_code(findings: Iterable[Finding]) -> int:
    levels = {f.level for f in findings}
    if "invalid" in levels:
        return EXIT_INVALID
    return EXIT_FAILED if "failed" in levels else EXIT_OK


def target_key(name: str) -> str:
    return "stream" if name == DEFAULT_TARGET else f"targets.{name}"


def used_targets(settings: Settings) -> list[str]:
    return sorted({rule.target for rule in settings.rules})


# -- offline ------------------------------------------------------------------------


def offline(settings: Settings) -> list[Finding]:
    """Everything that needs neither the network nor the database."""
    return [*credentials(settings), *folders(settings), *notification_urls(settings)]


def credentials(settings: Settings) -> Iterator[Finding]:
    for name in used_targets(settings):
        key = target_key(name)
        try:
            settings.targets[name].credentials()
        except CredentialsError as exc:
            yield Finding("invalid", key, str(exc))
        else:
            yield Finding("ok", key, "key and secret present")


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK | os.X_OK)


def drop_folder(path: Path, create: bool) -> Finding:
    """The drop folder must exist (a typo or an unmounted share must not start an empty
    watch) unless the config says to create it."""
    if path.is_dir():
        if not _writable(path):
            return Finding("invalid", "drop.path", f"{path} is not writable (files are moved "
                           "out of it)")
        return Finding("ok", "drop.path", f"{path} exists, writable")
    if path.exists():
        return Finding("invalid", "drop.path", f"{path} is not a folder")
    if not create:
        return Finding("invalid", "drop.path", f"{path} does not exist (create it, or set "
                       "[drop] create = true)")
    return _can_make("drop.path", path)


def _can_make(key: str, path: Path) -> Finding:
    ancestor = _existing_ancestor(path)
    if ancestor.is_dir() and _writable(ancestor):
        return Finding("ok", key, f"{path} will be created (in {ancestor})")
    return Finding("invalid", key, f"{path} does not exist and cannot be made: {ancestor} "
                   "is not a writable folder")


def other_folder(key: str, path: Path, drop: Path) -> list[Finding]:
    if path.is_dir():
        found = Finding("ok", key, f"{path} exists, writable") if _writable(path) else \
            Finding("invalid", key, f"{path} is not writable")
    elif path.exists():
        found = Finding("invalid", key, f"{path} is not a folder")
    else:
        found = _can_make(key, path)
    out = [found]
    here, there = _existing_ancestor(path), _existing_ancestor(drop)
    if found.level == "ok" and here.stat().st_dev != there.stat().st_dev:
        out.append(Finding("warning", key, f"{path} is on another filesystem than the drop "
                           "folder: files are copied there, not moved"))
    return out


def folders(settings: Settings) -> list[Finding]:
    drop = settings.drop
    out = [drop_folder(drop.path, drop.create)]
    for name in DROP_FOLDERS:
        out += other_folder(f"drop.{name}", getattr(drop, name), drop.path)
    return out


def apprise_knows(url: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its plugins import imghdr
        import apprise

        return bool(apprise.Apprise().add(url))


def notification_urls(settings: Settings) -> Iterator[Finding]:
    sources = [("notify.urls", settings.notify.urls)]
    sources += [(f"rules[{i}].notify", rule.notify) for i, rule in enumerate(settings.rules)
                if rule.notify != settings.notify.urls]
    for key, urls in sources:
        bad = [url for url in urls if not apprise_knows(url)]
        if bad:
            # Only the scheme: the rest of a notification URL often holds a token.
            shown = ", ".join(repr(url.split("://", 1)[0] + "://…" if "://" in url else url)
                              for url in bad)
            yield Finding("invalid", key, f"not a notification URL Apprise knows: {shown}")
        elif urls:
            yield Finding("ok", key, f"{len(urls)} notification URL(s) known to Apprise")


def refusals(settings: Settings) -> list[Finding]:
    """What makes `run` refuse to start: the invalid findings of the offline checks."""
    return [f for f in offline(settings) if f.level == "invalid"]


# -- live ---------------------------------------------------------------------------


async def database(settings: Settings) -> Finding:
    url = settings.database_url
    missing = db.missing_database(url)
    if missing is not None:
        return Finding("ok", "database.url", f"{missing} does not exist yet: `run` or "
                       "`db upgrade` creates it")
    try:
        current = await db.revision_of(url)
    except Exception as exc:  # the driver's own errors: unreachable, refused, not a database
        return Finding("failed", "database.url", f"cannot open the database: "
                       f"{type(exc).__name__}: {exc}".splitlines()[0])
    head = db.head_revision()
    if current == head:
        return Finding("ok", "database.url", f"reachable, at the latest migration ({head})")
    return Finding("warning", "database.url", f"reachable, at migration {current or 'none'}; "
                   f"`run` or `db upgrade` brings it to {head}")


async def target(settings: Settings, name: str) -> Finding:
    """A real, cheap call with the target's credentials (one ListImports of one task)."""
    key = target_key(name)
    try:
        creds = settings.targets[name].credentials()
    except CredentialsError as exc:
        return Finding("invalid", key, str(exc))
    async with StreamClient(creds, policy=NO_RETRY) as client:
        try:
            await client.list_imports(limit=1)
        except AuthenticationError as exc:
            return Finding("failed", key, f"credentials refused by Stream ({exc.status}) at "
                           f"{creds.base_url}")
        except StreamError as exc:
            return Finding("failed", key, f"cannot reach Stream at {creds.base_url}: {exc}")
    return Finding("ok", key, f"credentials accepted by {creds.base_url}")


async def live(settings: Settings, *, offline_only: bool) -> list[Finding]:
    out = [await database(settings)]
    if not offline_only:
        out += [await target(settings, name) for name in used_targets(settings)]
    return out
