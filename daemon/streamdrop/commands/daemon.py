"""`streamdrop run`, `streamdrop demo` and `streamdrop db upgrade`: the daemon's commands."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from streamdrop.commands import Subparsers

if TYPE_CHECKING:
    from streamdrop.service.settings import Settings

EXIT_CONFIG = 2


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser(
        "run", help="run the daemon: watch the drop folder, import what lands in it",
        description="Watch the drop folder and take every complete file through validation, "
        "upload and import, until stopped (SIGTERM/SIGINT drain; a second signal exits).")
    run.add_argument("--config", type=Path, required=True, metavar="FILE",
                     help="the TOML configuration (see config/streamdrop.example.toml)")
    run.add_argument("--once", action="store_true",
                     help="take the files present now and unfinished tasks, wait until every "
                     "task is final, then exit: 0 when all are, 1 when some could not finish")
    run.set_defaults(handler=cmd_run)

    demo = subparsers.add_parser(
        "demo", help="the daemon against a local emulator, with a sample file",
        description="Start a local Stream emulator and the daemon on embedded defaults "
        "(SQLite and folders under ./var/demo), drop a sample chat file and follow it to "
        "completed. Runs until Ctrl-C.")
    demo.add_argument("--dir", type=Path, default=Path("var/demo"),
                      help="where the demo keeps its database and folders (default var/demo; "
                      "emptied at start)")
    demo.set_defaults(handler=cmd_demo)

    database = subparsers.add_parser("db", help="database maintenance")
    actions = database.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="apply pending migrations (safe to run twice "
                                 "or while a daemon starts)")
    upgrade.add_argument("--config", type=Path, required=True, metavar="FILE")
    upgrade.set_defaults(handler=cmd_db_upgrade)


def _load(path: Path) -> Settings | None:
    from streamdrop.service import settings

    try:
        return settings.load(path)
    except settings.ConfigError as exc:
        print(f"streamdrop: configuration error in {path}: {exc}", file=sys.stderr)
        return None


def _refusals(path: Path, config: Settings) -> bool:
    """What `check --offline` rejects stops `run` too, with the same message (exit 2)."""
    from streamdrop.service import check

    refused = check.refusals(config)
    for finding in refused:
        print(f"streamdrop: configuration error in {path}: {finding.key}: {finding.message}",
              file=sys.stderr)
    return bool(refused)


def cmd_run(args: argparse.Namespace) -> int:
    import anyio

    from streamdrop import log
    from streamdrop.service import app

    config = _load(args.config)
    if config is None or _refusals(args.config, config):
        return EXIT_CONFIG
    log.configure(config.log.level, config.log.format)
    # SIGHUP re-reads the configuration once the daemon listens for it; until then (start-up,
    # migrations) it must not end the process, as its default action would.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    return anyio.run(lambda: app.run(config, once=args.once))


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    import anyio

    from streamdrop import log
    from streamdrop.storage import db

    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    log.configure(config.log.level, config.log.format)
    revision = anyio.run(db.upgrade, config.database_url)
    print(revision or "")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streamdrop import demo

    return demo.main(args.dir)
