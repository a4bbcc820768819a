"""The emulator's settings and their command-line spellings."""

from __future__ import annotations

import pytest

from streamdrop.emulator.config import (
    EmulatorConfig,
    parse_channel_types,
    parse_endpoint_limit,
    parse_roles,
)


def test_defaults_are_streams_builtins_on_loopback() -> None:
    config = EmulatorConfig()
    assert config.host == "127.0.0.1"
    assert set(config.roles) == {"user", "admin", "guest", "anonymous"}
    assert dict(config.channel_types) == dict.fromkeys(
        ["livestream", "messaging", "team", "gaming", "commerce"], 5000)
    assert len(config.api_secret.encode()) >= 32


def test_channel_types_take_an_optional_max_length() -> None:
    assert parse_channel_types("messaging, support:2000,,") == {"messaging": 5000, "support": 2000}
    with pytest.raises(ValueError, match="bad channel type"):
        parse_channel_types("support:0")


def test_roles_drop_blanks_and_repeats() -> None:
    assert parse_roles("user, admin,,user,editor") == ("user", "admin", "editor")


def test_endpoint_limit() -> None:
    assert parse_endpoint_limit("GetImport=300") == ("GetImport", 300)
    with pytest.raises(ValueError, match="NAME=N"):
        parse_endpoint_limit("GetImport")


@pytest.mark.parametrize(
    "bad",
    [{"fault_rate": 1.5}, {"rate_limit": 0}, {"rate_window_seconds": 0}, {"api_secret": ""},
     {"states": "klingon"}, {"roles": ()}, {"step_seconds": -1}],
)
def test_nonsense_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        EmulatorConfig(**bad)  # type: ignore[arg-type]
