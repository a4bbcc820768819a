"""The configuration: globs, defaults, overrides and messages that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamdrop.service import settings
from streamdrop.service.globs import glob_regex
from streamdrop.service.settings import ConfigError

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("insert/**", "insert/2026/11/x.json", True),
    ("insert/**", "insert/x.json", True),
    ("insert/**", "upsert/insert/x.json", False),
    ("**", "a/b/c.jsonl", True),
    ("*.jsonl", "deep/down/x.jsonl", True),
    ("*.jsonl", "x.json", False),
    ("a/*/c.json", "a/b/c.json", True),
    ("a/*/c.json", "a/b/d/c.json", False),
    ("a/**/c.json", "a/c.json", True),
    ("a/**/c.json", "a/x/y/c.json", True),
    ("feeds/", "feeds/x.json", True),
    ("**", "two\nlines/x.jsonl", True),  # a name may hold any character
    ("insert/**", "insert/two\nlines.jsonl", True),
    ("*.jsonl", "a/two\nlines.jsonl", True),
    ("a?c.jsonl", "a\nc.jsonl", True),
    ("a/*.jsonl", "a/b\n/c.jsonl", False),
])
def test_globs_match_like_gitignore(pattern: str, path: str, matches: bool) -> None:
    assert (glob_regex(pattern).fullmatch(path) is not None) is matches


def parse(text: str, tmp_path: Path, env: dict[str, str] | None = None) -> settings.Settings:
    import tomllib

    return settings.parse(tomllib.loads(text), base=tmp_path, env=env or {})


def test_folders_default_beside_the_drop_folder(tmp_path: Path) -> None:
    s = parse('[drop]\npath = "in/drop"\n', tmp_path)
    assert s.drop.path == tmp_path / "in" / "drop"
    assert s.drop.done == tmp_path / "in" / "done"
    assert s.drop.duplicates == tmp_path / "in" / "duplicates"
    assert s.rules[0].glob == "**"
    assert s.rules[0].mode == "upsert"


def test_first_matching_rule_wins(tmp_path: Path) -> None:
    s = parse('[drop]\npath="d"\n[[rules]]\nglob="insert/**"\nmode="insert"\n'
              '[[rules]]\nglob="**"\nmode="upsert"\n', tmp_path)
    rule = s.rule_for("insert/2026/x.json")
    assert rule is not None
    assert rule.mode == "insert"
    other = s.rule_for("x.json")
    assert other is not None
    assert other.mode == "upsert"


@pytest.mark.parametrize(("text", "key"), [
    ('[drop]\npath="d"\nsettle_seconds="soon"\n', "drop.settle_seconds"),
    ('[drop]\npath="d"\nsetle_seconds=2\n', "drop.setle_seconds"),
    ('[stream]\nmax_active_imports=0\n[drop]\npath="d"\n', "stream.max_active_imports"),
    ('[drop]\npath="d"\n[[rules]]\nglob="**"\nmode="merge"\n', "rules[0].mode"),
    ('[drop]\npath="d"\n[[rules]]\nglob="**"\nmode="insert"\ntarget="eu"\n', "rules[0].target"),
    ('[drop]\npath="d"\n[[rules]]\nmode="insert"\n', "rules[0].glob"),
    ("[drop]\n", "drop.path"),
    ('[drop]\npath="d"\ndone="d/done"\n', "drop.done"),
    ('[drops]\npath="d"\n', "drops"),
])
def test_a_bad_config_names_the_key(text: str, key: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text, tmp_path)
    assert info.value.key == key
    assert str(info.value).startswith(key + ":")


def test_environment_wins_for_the_default_target_only(tmp_path: Path) -> None:
    s = parse('[stream]\napi_key="file-key"\napi_secret="file-secret"\n'
              '[targets.eu]\napi_key="eu-key"\napi_secret="eu-secret"\n[drop]\npath="d"\n',
              tmp_path)
    env = {"STREAM_KEY": "env-key", "STREAM_SECRET": "env-secret",
           "STREAM_CHAT_URL": "http://127.0.0.1:1"}
    default = s.targets["default"].credentials(env)
    assert (default.api_key, default.base_url) == ("env-key", "http://127.0.0.1:1")
    assert s.targets["eu"].credentials(env).api_key == "eu-key"


def test_database_url_from_environment_and_relative_sqlite(tmp_path: Path) -> None:
    s = parse('[database]\nurl="sqlite+aiosqlite:///var/x.db"\n[drop]\npath="d"\n', tmp_path)
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'var' / 'x.db'}"
    s = parse('[drop]\npath="d"\n', tmp_path, {"STREAMDROP_DATABASE_URL": "sqlite+aiosqlite:////x"})
    assert s.database_url == "sqlite+aiosqlite:////x"


def test_absolute_sqlite_urls_mean_what_they_say(tmp_path: Path) -> None:
    s = parse('[database]\nurl="sqlite+aiosqlite:////var/lib/x/y.db"\n[drop]\npath="d"\n',
              tmp_path)
    assert s.database_url == "sqlite+aiosqlite:////var/lib/x/y.db"


def test_default_database_is_in_systemds_state_directory(tmp_path: Path) -> None:
    state = tmp_path / "state"
    s = parse('[drop]\npath="d"\n', tmp_path, {"STATE_DIRECTORY": f"{state}:/var/lib/other"})
    assert s.database_url == f"sqlite+aiosqlite:///{state / 'streamdrop.db'}"
    s = parse('[drop]\npath="d"\n', tmp_path, {})
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'streamdrop.db'}"


def test_example_config_names_the_units_state_directory() -> None:
    s = settings.load(ROOT / "config" / "streamdrop.example.toml", env={})
    assert s.database_url == "sqlite+aiosqlite:////var/lib/streamdrop/streamdrop.db"


@pytest.mark.parametrize("name", ["streamdrop.example.toml", "demo.toml"])
def test_shipped_configs_load(name: str) -> None:
    s = settings.load(ROOT / "config" / name, env={})
    assert s.rules
