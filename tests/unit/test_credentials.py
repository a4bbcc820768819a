"""Credentials: environment over config, secret files, clear errors naming what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamdrop.stream.credentials import DEFAULT_BASE_URL, Credentials, load_credentials
from streamdrop.stream.errors import CredentialsError


def test_environment_wins_over_config() -> None:
    env = {"STREAM_KEY": "env-key", "STREAM_SECRET": "env-secret",
           "STREAM_CHAT_URL": "http://127.0.0.1:8765/"}
    config = {"api_key": "cfg-key", "api_secret": "cfg-secret", "base_url": "https://cfg"}
    assert load_credentials(config, env) == Credentials("env-key", "env-secret",
                                                        "http://127.0.0.1:8765")


def test_config_alone_is_enough_and_base_url_defaults_to_stream() -> None:
    creds = load_credentials({"api_key": "k", "api_secret": "s"}, {})
    assert creds == Credentials("k", "s", DEFAULT_BASE_URL)


def test_secret_file_is_read_and_trimmed(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("s3cret\n")
    creds = load_credentials({"api_key": "k", "api_secret_file": str(secret_file)}, {})
    assert creds.api_secret == "s3cret"


def test_relative_secret_file_is_found_in_systemd_credentials_directory(tmp_path: Path) -> None:
    (tmp_path / "stream-secret").write_text("from-systemd")
    env = {"STREAM_KEY": "k", "CREDENTIALS_DIRECTORY": str(tmp_path)}
    creds = load_credentials({"api_secret_file": "stream-secret"}, env)
    assert creds.api_secret == "from-systemd"


def test_secret_file_from_environment_wins_over_config_secret(tmp_path: Path) -> None:
    (tmp_path / "s").write_text("file-secret")
    env = {"STREAM_KEY": "k", "STREAM_SECRET_FILE": str(tmp_path / "s")}
    assert load_credentials({"api_secret": "cfg"}, env).api_secret == "file-secret"


def test_missing_credentials_name_what_is_missing() -> None:
    with pytest.raises(CredentialsError, match=r"API key \(STREAM_KEY.*API secret \(STREAM_SECRET"):
        load_credentials({}, {})
    with pytest.raises(CredentialsError, match="API secret") as info:
        load_credentials({}, {"STREAM_KEY": "k", "STREAM_SECRET": "   "})
    assert "API key" not in str(info.value)


def test_unreadable_or_empty_secret_file_is_a_credentials_error(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="cannot read the API secret file"):
        load_credentials({"api_key": "k", "api_secret_file": str(tmp_path / "nope")}, {})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(CredentialsError, match="is empty"):
        load_credentials({"api_key": "k", "api_secret_file": str(tmp_path / "empty")}, {})


def test_secret_never_shows_in_repr() -> None:
    assert "hunter2" not in repr(Credentials("k", "hunter2"))
