"""`streamdrop demo`: the daemon on embedded defaults against a local emulator, with a sample.

Everything lives under one folder (default ./var/demo, emptied at start so the
sample is new each time): the SQLite database, the drop folder and its
done/failed/ready/duplicates siblings. The emulator runs in a thread of the
same process; the sample chat file is dropped once the daemon watches.
"""

from __future__ import annotations

import json
import shutil
import sys
from importlib import resources
from pathlib import Path

import anyio
import structlog

from streamdrop import log
from streamdrop.service import app, settings

SAMPLE = "demo-chat.jsonl"
logger = structlog.get_logger("streamdrop.demo")


CONFIG_NAME = "streamdrop.toml"
CONFIG = """\
# Written by `streamdrop demo` for this run (the emulator listens on a new port each time):
# `streamdrop status|tasks|show --config {config}` reads its database.
[stream]
base_url = {base_url}
api_key = {api_key}
api_secret = {api_secret}

[database]
url = {database}

[drop]
path = {drop}
settle_seconds = 1
rescan_seconds = 10

[poll]
min_interval_seconds = 1
max_interval_seconds = 5

[daemon]
grace_seconds = 5

[[rules]]
glob = "insert/**"
mode = "insert"

[[rules]]
glob = "**"
mode = "upsert"
"""


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a TOML basic string


def write_config(root: Path, base_url: str, api_key: str, api_secret: str) -> Path:
    """The demo's configuration as a file, so that the operations commands can read it."""
    path = root / CONFIG_NAME
    path.write_text(CONFIG.format(
        config=path, base_url=_toml_string(base_url), api_key=_toml_string(api_key),
        api_secret=_toml_string(api_secret),
        database=_toml_string(f"sqlite+aiosqlite:///{root / 'streamdrop.db'}"),
        drop=_toml_string(str(root / "drop"))))
    return path


def demo_settings(root: Path, base_url: str, api_key: str, api_secret: str) -> settings.Settings:
    return settings.load(write_config(root, base_url, api_key, api_secret), env={})


def _shown(path: Path) -> str:
    """A path as short as it can be said from here."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def banner(root: Path, base_url: str, api_key: str, api_secret: str) -> str:
    """What a person needs at start: where things are, and how to point the CLI here."""
    sample = Path(str(resources.files("streamdrop").joinpath("samples", SAMPLE)))
    config = _shown(root / CONFIG_NAME)
    return (
        f"streamdrop demo: a local Stream emulator at {base_url} and the daemon\n"
        f"  drop files into {_shown(root / 'drop')}/ (insert/** in insert mode, the rest "
        "upsert); results in done/, failed/, duplicates/ beside it\n"
        f"  the sample {_shown(sample)} is dropped in a second\n"
        "  the command line against this emulator, from another shell:\n"
        f"    export STREAM_CHAT_URL={base_url}\n"
        f"    export STREAM_KEY={api_key}\n"
        f"    export STREAM_SECRET={api_secret}\n"
        "    streamdrop list-imports\n"
        f"    streamdrop tasks --config {config}\n"
        "  Ctrl-C stops.\n")


def _fresh(root: Path) -> Path:
    root = root.resolve()
    if root.exists():
        shutil.rmtree(root)
    (root / "drop").mkdir(parents=True)
    return root


def _drop_sample(root: Path) -> None:
    sample = resources.files("streamdrop").joinpath("samples", SAMPLE).read_bytes()
    staging = root / "drop" / f".{SAMPLE}.part"
    staging.write_bytes(sample)
    staging.rename(root / "drop" / SAMPLE)  # renamed in: complete at once
    logger.info("demo.sample_dropped", file=SAMPLE, drop=str(root / "drop"))


async def _run(config: settings.Settings, root: Path) -> int:
    daemon = app.Daemon(config)
    async with anyio.create_task_group() as group:
        async def drop_later() -> None:
            await anyio.sleep(1.0)
            await anyio.to_thread.run_sync(_drop_sample, root)

        group.start_soon(drop_later)
        code = await daemon.run()
        group.cancel_scope.cancel()
    return code


def main(root: Path) -> int:
    from streamdrop.testing import running_emulator

    log.configure("info", "auto")
    root = _fresh(root)
    with running_emulator(step_seconds=1.5) as emulator:
        credentials = (emulator.base_url, emulator.api_key, emulator.api_secret)
        config = demo_settings(root, *credentials)
        sys.stderr.write(banner(root, *credentials))
        sys.stderr.flush()
        return anyio.run(_run, config, root)

