"""Operator commands on the task database: status, tasks, show, retry, skip, pause, resume.

Results go to stdout (`--output json|tree`, `--json`; JSON when piped); they talk to
the database only, so they work while daemons run, from any machine that reaches it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamdrop.commands import Subparsers
from streamdrop.commands.arguments import positive_int
from streamdrop.commands.output import add_output_option, print_json

if TYPE_CHECKING:  # the commands import lazily: a type is only a name here
    from streamdrop.service.settings import Settings
    from streamdrop.storage.protocol import TaskStore
    from streamdrop.storage.rows import DaemonRow, TaskRow

    Handler = Callable[[TaskStore, argparse.Namespace, Settings], Awaitable[int]]

EXIT_CONFIG = 2
REPORT_SUFFIX = ".report.json"  # service.files.REPORT_SUFFIX (the commands import lazily)
EXIT_FAILED = 1
TASK_FIELDS = ("id", "file", "sha256", "mode", "target", "state", "product", "import_id",
               "import_state", "attempts", "size", "rule", "source_path", "dest_path",
               "remote_path", "duplicate_of", "batch_id", "part_number", "error", "move_error",
               "next_attempt_at", "found_at", "finished_at")


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    from streamdrop.storage.states import State  # pure: an enum

    _command(subparsers, "status", "counts by state, the oldest unfinished task", cmd_status)

    tasks = _command(subparsers, "tasks", "list tasks (all, unless --limit)", cmd_tasks)
    tasks.add_argument("--state", choices=[state.value for state in State],
                       help="only tasks in this state")
    tasks.add_argument("--limit", type=positive_int, default=None,
                       help="only the newest this many (still listed oldest first)")
    show = _command(subparsers, "show", "one task with its events", cmd_show)
    show.add_argument("task", type=int, metavar="TASK")
    retry = _command(subparsers, "retry", "run a finished task again, on purpose", cmd_retry)
    retry.add_argument("task", type=int, metavar="TASK")
    skip = _command(subparsers, "skip", "give up an unfinished task (its worker lets go)",
                    cmd_skip)
    skip.add_argument("task", type=int, metavar="TASK")
    pause = _command(subparsers, "pause", "hold a target's next imports", cmd_pause)
    pause.add_argument("target", metavar="TARGET", help="'default' is [stream]")
    resume = _command(subparsers, "resume", "let a paused target go on", cmd_resume)
    resume.add_argument("target", metavar="TARGET")


def _command(subparsers: Subparsers[argparse.ArgumentParser], name: str, text: str,
             handler: Handler) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=text, description=text)
    parser.add_argument("--config", type=Path, required=True, metavar="FILE",
                        help="the daemon's TOML configuration")
    add_output_option(parser, people="lines")
    parser.set_defaults(handler=lambda args: _run(handler, args))
    return parser


def _run(handler: Handler, args: argparse.Namespace) -> int:
    import anyio

    from streamdrop.service import settings
    from streamdrop.storage import db
    from streamdrop.storage.protocol import Conflict, NotFound
    from streamdrop.storage.repository import Repository

    try:
        config = settings.load(args.config)
    except settings.ConfigError as exc:
        print(f"streamdrop: configuration error in {args.config}: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    missing = db.missing_database(config.database_url)
    if missing is not None:
        print(f"streamdrop: no database at {missing} ([database] url in {args.config}); "
              "`streamdrop run` or `streamdrop db upgrade` creates it", file=sys.stderr)
        return EXIT_CONFIG

    async def main() -> int:
        await db.upgrade(config.database_url)  # an existing one: brought to this version
        repo = Repository.from_url(config.database_url)
        try:
            return int(await handler(repo, args, config))
        except (NotFound, Conflict) as exc:
            print(f"streamdrop: {exc}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            await repo.close()

    _quiet_logs()
    return anyio.run(main)


def _quiet_logs() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


def _iso(seconds: float | None) -> str | None:
    from datetime import UTC, datetime

    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


def task_json(task: TaskRow) -> dict[str, object]:
    out: dict[str, object] = {name: getattr(task, name, None) for name in TASK_FIELDS}
    out["file"] = task.rel_path
    out["found_at"], out["finished_at"] = _iso(task.found_at), _iso(task.finished_at)
    # when a task given back after a failure is tried again (only while it waits)
    out["next_attempt_at"] = _iso(task.next_attempt_at) if task.state == "pending" else None
    return out


def _done(args: argparse.Namespace, sentence: str, data: dict[str, object]) -> int:
    """What an action did: a sentence for people, its fields as JSON for programs."""
    if args.output == "json":
        print_json(data)
    else:
        print(sentence)
    return 0


def _unknown_target(args: argparse.Namespace, config: Settings) -> int | None:
    """Exit 2 naming the valid targets when TARGET is not one of the config's."""
    if args.target in config.targets:
        return None
    print(f"streamdrop {args.command}: no target {args.target!r} in {args.config}; "
          f"choose from: {', '.join(sorted(config.targets))}", file=sys.stderr)
    return EXIT_CONFIG


async def cmd_status(repo: TaskStore, args: argparse.Namespace, _config: Settings,
                     ) -> int:
    from streamdrop.service.moves import RETRY_SECONDS

    counts = await repo.counts()
    oldest = await repo.oldest_unfinished()
    paused = [t.name for t in await repo.list_targets() if t.paused]
    daemons = [daemon_json(d, repo.clock(), _config.daemon.lease_seconds)
               for d in await repo.list_daemons()]
    unmoved = await repo.pending_moves()
    result = {"counts": counts, "total": sum(counts.values()),
              "oldest_unfinished": task_json(oldest) if oldest else None, "paused": paused,
              "daemons": daemons,
              "moves_pending": [{"id": t.id, "file": t.rel_path, "state": t.state,
                                 "move_to": t.dest_path, "error": t.move_error}
                                for t in unmoved]}
    if args.output == "json":
        print_json(result)
        return 0
    for state, n in sorted(counts.items()):
        print(f"{state:<11} {n}")
    print(f"{'total':<11} {result['total']}")
    if oldest is not None:
        print(f"oldest unfinished: task {oldest.id} {oldest.rel_path} ({oldest.state}, found "
              f"{_iso(oldest.found_at)})")
    if paused:
        print("paused targets: " + ", ".join(paused))
    for d in daemons:
        print(f"daemon {d['host']} pid {d['pid']}: {d['status']}, started {_iso(d['started_at'])}, "
              f"last heartbeat {_iso(d['heartbeat_at'])}, holds {d['holds']} task(s)")
    if unmoved:
        print(f"files waiting for their move ({len(unmoved)}, retried every "
              f"{int(RETRY_SECONDS)} s):")
    for t in unmoved:
        print(f"  task {t.id} {t.rel_path} ({t.state}) -> {t.dest_path}: {t.move_error}")
    return 0


def daemon_json(daemon: DaemonRow, now: float, lease_seconds: float) -> dict[str, Any]:
    """A daemon as `status` shows it: running, stopped, or gone (silent too long)."""
    from streamdrop.service.owners import is_silent

    status = ("stopped" if daemon.stopped_at is not None
              else "gone" if is_silent(daemon, now, lease_seconds) else "running")
    return {**dataclasses.asdict(daemon), "status": status}


async def cmd_tasks(repo: TaskStore, args: argparse.Namespace, _config: Settings,
                    ) -> int:
    rows = await repo.list_tasks(state=args.state, limit=args.limit)
    if args.output == "json":
        print_json([task_json(t) for t in rows])
        return 0
    for t in rows:
        print(f"{t.id:>6}  {t.state:<10} {t.mode:<6} {t.target:<10} {t.import_id or '-':<36}  "
              f"{t.rel_path}")
    return 0


async def cmd_show(repo: TaskStore, args: argparse.Namespace, _config: Settings,
                   ) -> int:
    task = await repo.get(args.task)
    events = await repo.events_of(args.task)
    data = task_json(task)
    data["report"] = json.loads(task.report) if task.report else None
    data["events"] = [{"at": _iso(e.at), "from": e.from_state, "to": e.to_state,
                       "detail": e.detail, "owner": e.owner} for e in events]
    parts = await repo.parts_of(task.id)
    if parts:  # a batch: its parts, in import order
        data["parts"] = [{"part": p.part_number, "task_id": p.id, "state": p.state,
                          "import_id": p.import_id, "size": p.size, "file": p.source_path}
                         for p in parts]
    if args.output == "json":
        print_json(data)
        return 0
    for p in parts:
        print(f"  part {p.part_number:>4}  task {p.id:<6} {p.state:<10} {p.import_id or '-'}")
    for key in TASK_FIELDS:
        if data.get(key) is not None:
            print(f"{key:<13} {data[key]}")
    for e in events:
        print(f"  {_iso(e.at)}  {e.from_state or '-':>10} -> {e.to_state:<10} "
              f"{e.detail or ''}")
    return 0


def _file_of(task: TaskRow) -> str | None:
    """Where the task's file is now: its destination folder, or still where it was found."""
    return next((p for p in (task.dest_path, task.source_path) if p and Path(p).exists()), None)


async def cmd_retry(repo: TaskStore, args: argparse.Namespace, _config: Settings,
                    ) -> int:
    task = await repo.get(args.task)
    where = _file_of(task)
    if where is None:
        print(f"streamdrop: task {task.id}: its file is neither at {task.dest_path} nor at "
              f"{task.source_path}", file=sys.stderr)
        return EXIT_FAILED
    retried = await repo.retry(task.id, where)
    # The old outcome's report goes with it (the database keeps the task's events); the
    # new run writes its own beside the file, wherever that ends.
    Path(where).with_name(Path(where).name + REPORT_SUFFIX).unlink(missing_ok=True)
    return _done(args, f"task {retried.id} is pending again (file {where})",
                 {"task_id": retried.id, "state": retried.state, "file": where})


async def cmd_skip(repo: TaskStore, args: argparse.Namespace, _config: Settings,
                   ) -> int:
    task = await repo.skip(args.task)
    moved_to = await _set_aside_skipped(repo, task, _config)
    where = f", moved to {moved_to}" if moved_to else ""
    return _done(args, f"task {task.id} skipped{where}",
                 {"task_id": task.id, "state": task.state, "moved_to": moved_to})


async def _set_aside_skipped(repo: TaskStore, task: TaskRow, config: Settings) -> str | None:
    """The skipped file to skipped/ with its report (None: it is no longer in the drop
    folder, e.g. a daemon had already moved it)."""
    import anyio

    from streamdrop.service import files
    from streamdrop.service.outcomes import skip_report

    source = Path(task.source_path)
    if not await anyio.Path(source).exists():
        return None
    landed = await anyio.to_thread.run_sync(files.set_aside, source, config.drop.skipped,
                                            task.rel_path, skip_report(task, repo.clock()))
    await repo.set_dest_path(task.id, str(landed))
    return str(landed)


async def cmd_pause(repo: TaskStore, args: argparse.Namespace, config: Settings,
                    ) -> int:
    unknown = _unknown_target(args, config)
    if unknown is not None:
        return unknown
    await repo.set_paused(args.target, True, "operator")
    return _done(args, f"target {args.target} paused", {"target": args.target, "paused": True})


async def cmd_resume(repo: TaskStore, args: argparse.Namespace, config: Settings,
                     ) -> int:
    unknown = _unknown_target(args, config)
    if unknown is not None:
        return unknown
    await repo.set_paused(args.target, False)
    return _done(args, f"target {args.target} resumed", {"target": args.target, "paused": False})
