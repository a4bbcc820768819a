"""SIGHUP: read the configuration again and apply what a running daemon can change.

Rules (and with them their notification URLs), poll intervals, retry delays and the
log level apply at once; what the running parts were built from (targets and their
credentials, the database, the folders, workers, leases, the metrics listener) keeps its
old value until a restart, and the reload names those keys. An invalid file changes
nothing: the error is logged and the old configuration stays.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import structlog

from streamdrop.service import settings as config
from streamdrop.service.settings import Settings

log = structlog.get_logger("streamdrop.service.reload")

# (section, field) that only a restart changes; a whole section when field is None.
RESTART_ONLY: tuple[tuple[str, str | None], ...] = (
    ("targets", None), ("database_url", None), ("drop", None), ("metrics", None),
    ("daemon", "workers"), ("daemon", "lease_seconds"), ("daemon", "grace_seconds"),
    ("daemon", "validation_cache_seconds"), ("log", "format"), ("notify", "max_attempts"))


class ReloadRefused(ValueError):
    """The new configuration cannot be applied without a restart (the message says why)."""


def _key(section: str, name: str | None) -> str:
    section = {"targets": "stream/targets", "database_url": "database.url"}.get(section, section)
    return section if name is None else f"{section}.{name}"


def restart_only_changes(old: Settings, new: Settings) -> list[str]:
    """The keys whose new values wait for a restart."""
    changed = []
    for section, name in RESTART_ONLY:
        before, after = getattr(old, section), getattr(new, section)
        if name is not None:
            before, after = getattr(before, name), getattr(after, name)
        if before != after:
            changed.append(_key(section, name))
    return changed


def _keep(old: Settings, new: Settings) -> Settings:
    """`new`, with every restart-only value taken from `old`."""
    kept: dict[str, Any] = {}
    for section, name in RESTART_ONLY:
        if name is None:
            kept[section] = getattr(old, section)
        else:
            base = kept.get(section, getattr(new, section))
            kept[section] = dataclasses.replace(base, **{name: getattr(getattr(old, section),
                                                                       name)})
    return dataclasses.replace(new, **kept)


def merge(old: Settings, new: Settings, running_targets: Iterable[str],
          ) -> tuple[Settings, list[str]]:
    """What to run with now, and the keys that need a restart; ReloadRefused when the new
    rules name a target this daemon has no client for."""
    running = set(running_targets)
    missing = sorted({rule.target for rule in new.rules} - running)
    if missing:
        raise ReloadRefused("rules name targets this daemon was not started with ("
                            + ", ".join(missing) + "): restart to use them")
    return _keep(old, new), restart_only_changes(old, new)


def reread(path: Path, old: Settings, running_targets: Iterable[str]) -> Settings | None:
    """The settings to switch to, or None (logged) when the file is invalid or refused."""
    problem = None
    try:
        new, restart = merge(old, config.load(path), running_targets)
    except (config.ConfigError, ReloadRefused) as exc:
        problem = str(exc)
    if problem is not None:  # one line, no traceback: the file is wrong, not the daemon
        log.error("config.reload_failed", config=str(path), error=problem,
                  kept="the configuration in use")
        return None
    logging.getLogger().setLevel(new.log.level.upper())
    log.info("config.reloaded", config=str(path), rules=len(new.rules),
             restart_needed=restart or None)
    if restart:
        log.warning("config.restart_needed", keys=restart,
                    detail="these keep their old values until the daemon restarts")
    return new
