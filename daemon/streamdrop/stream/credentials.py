"""Where the Stream API key, secret and base URL come from: environment, config, secret file.

The environment uses the names of Stream's official SDKs (`STREAM_KEY`,
`STREAM_SECRET`, `STREAM_CHAT_URL`) and wins over the config file, so one
config can serve several apps. The secret may live in a file instead
(`api_secret_file`, or `STREAM_SECRET_FILE`), e.g. a systemd credential: a
relative name is looked up in `$CREDENTIALS_DIRECTORY`. A secret is never
accepted on a command line, where `ps` would show it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamdrop.stream.errors import CredentialsError

DEFAULT_BASE_URL = "https://chat.stream-io-api.com"

KEY_ENV = "STREAM_KEY"
SECRET_ENV = "STREAM_SECRET"
SECRET_FILE_ENV = "STREAM_SECRET_FILE"
URL_ENV = "STREAM_CHAT_URL"
CREDENTIALS_DIRECTORY_ENV = "CREDENTIALS_DIRECTORY"  # set by systemd's LoadCredential=


@dataclass(frozen=True, slots=True)
class Credentials:
    """An app's key and secret and the API's base URL; the secret never shows in repr."""

    api_key: str
    api_secret: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL


def _text(value: Any) -> str | None:
    """A setting's value as stripped text, or None when unset or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def read_secret_file(name: str, env: Mapping[str, str]) -> str:
    """The secret in a file, blanks trimmed; a relative name is in $CREDENTIALS_DIRECTORY."""
    path = Path(name).expanduser()
    directory = env.get(CREDENTIALS_DIRECTORY_ENV)
    if not path.is_absolute() and directory:
        path = Path(directory) / path
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CredentialsError(f"cannot read the API secret file {path}: {exc.strerror}") from exc
    if not secret:
        raise CredentialsError(f"the API secret file {path} is empty")
    return secret


def _secret(config: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
    if (secret := _text(env.get(SECRET_ENV))) is not None:
        return secret
    if (name := _text(env.get(SECRET_FILE_ENV))) is not None:
        return read_secret_file(name, env)
    if (secret := _text(config.get("api_secret"))) is not None:
        return secret
    if (name := _text(config.get("api_secret_file"))) is not None:
        return read_secret_file(name, env)
    return None


def load_credentials(
    config: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Credentials:
    """Credentials from `env` (default: os.environ) over `config` (keys `api_key`,
    `api_secret`, `api_secret_file`, `base_url`); raises CredentialsError naming what is missing.
    """
    config = config or {}
    env = os.environ if env is None else env
    api_key = _text(env.get(KEY_ENV)) or _text(config.get("api_key"))
    api_secret = _secret(config, env)
    missing = []
    if api_key is None:
        missing.append(f"the API key ({KEY_ENV} or api_key)")
    if api_secret is None:
        missing.append(f"the API secret ({SECRET_ENV}, {SECRET_FILE_ENV}, api_secret_file "
                       "or api_secret)")
    if api_key is None or api_secret is None:
        raise CredentialsError("missing " + " and ".join(missing))
    base_url = _text(env.get(URL_ENV)) or _text(config.get("base_url")) or DEFAULT_BASE_URL
    return Credentials(api_key=api_key, api_secret=api_secret, base_url=base_url.rstrip("/"))
