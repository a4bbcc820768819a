"""What a SIGHUP applies at once, and what waits for a restart (pure merging)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from streamdrop.service import settings
from streamdrop.service.reload import ReloadRefused, merge

BASE = """
[stream]
api_key = "k"
api_secret = "s"
[drop]
path = "drop"
[poll]
min_interval_seconds = 2
[daemon]
workers = 4
[log]
level = "info"
[[rules]]
glob = "**"
mode = "upsert"
"""


def parse(text: str, tmp_path: Path) -> settings.Settings:
    return settings.parse(tomllib.loads(text), base=tmp_path, env={})


def test_rules_poll_and_log_level_apply_at_once(tmp_path: Path) -> None:
    old = parse(BASE, tmp_path)
    new = parse(BASE.replace('mode = "upsert"', 'mode = "insert"\nnotify = ["json://h/p"]')
                .replace("min_interval_seconds = 2", "min_interval_seconds = 5")
                .replace('level = "info"', 'level = "debug"'), tmp_path)
    applied, restart = merge(old, new, ["default"])
    assert restart == []
    assert applied.rules[0].mode == "insert"
    assert applied.rules[0].notify == ("json://h/p",)
    assert applied.poll.min_interval_seconds == 5
    assert applied.log.level == "debug"


def test_restart_only_keys_keep_their_values_and_are_named(tmp_path: Path) -> None:
    old = parse(BASE, tmp_path)
    new = parse(BASE.replace("workers = 4", "workers = 8").replace('path = "drop"',
                                                                    'path = "elsewhere"')
                .replace('api_key = "k"', 'api_key = "other"'), tmp_path)
    applied, restart = merge(old, new, ["default"])
    assert restart == ["stream/targets", "drop", "daemon.workers"]
    assert applied.daemon.workers == 4
    assert applied.drop == old.drop
    assert applied.targets == old.targets


def test_rules_naming_a_target_without_a_client_are_refused(tmp_path: Path) -> None:
    old = parse(BASE, tmp_path)
    new = parse(BASE.replace('mode = "upsert"', 'mode = "upsert"\ntarget = "eu"')
                + '[targets.eu]\napi_key = "k"\napi_secret = "s"\n', tmp_path)
    with pytest.raises(ReloadRefused, match="eu"):
        merge(old, new, ["default"])
