"""`streamdrop demo`: the daemon on embedded defaults against a local emulator, with a sample.

Everything lives under one folder (default ./var/demo, emptied at start so the
sample is new each time): the SQLite database, the drop folder and its
done/failed/ready/duplicates siblings. The emulator runs in a thread of the
same process; the sample chat file is dropped once the daemon watches.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import anyio
import structlog

from streamdrop import log
from streamdrop.service import app, settings

SAMPLE = "demo-chat.jsonl"
logger = structlog.get_logger("streamdrop.demo")


def demo_settings(root: Path, base_url: str, api_key: str, api_secret: str) -> settings.Settings:
    data = {
        "stream": {"base_url": base_url, "api_key": api_key, "api_secret": api_secret},
        "database": {"url": f"sqlite+aiosqlite:///{root / 'streamdrop.db'}"},
        "drop": {"path": str(root / "drop"), "settle_seconds": 1, "rescan_seconds": 10},
        "poll": {"min_interval_seconds": 1, "max_interval_seconds": 5},
        "daemon": {"grace_seconds": 5},
        "rules": [{"glob": "insert/**", "mode": "insert"}, {"glob": "**", "mode": "upsert"}],
    }
    return settings.parse(data, base=root, env={})


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
        config = demo_settings(root, emulator.base_url, emulator.api_key, emulator.api_secret)
        logger.info("demo.started", emulator=emulator.base_url, folder=str(root),
                    hint="drop more files into the drop folder; Ctrl-C stops")
        return anyio.run(_run, config, root)

