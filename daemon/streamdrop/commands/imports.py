"""`upload-import`, `get-import`, `list-imports`, `cancel-import`: stream-cli's import commands,
done right, for both of Stream's import APIs: chat files go to `/imports`, Feeds v3 files to
Import V2 (`/imports/v2`, product `feeds`); a task is printed with its `product`.

Results go to stdout (pretty JSON, or a tree with `--output tree`); progress,
logs and errors go to stderr. Exit status:
  0  done (for `get-import --watch`: the import completed)
  1  the file is invalid, the import failed, or Stream refused the request
  2  usage, credentials (missing, or refused by Stream), local files, or Stream
     unreachable after retries
  3  `get-import --watch --timeout` ran out before the import ended

Credentials come from STREAM_KEY / STREAM_SECRET (or STREAM_SECRET_FILE) /
STREAM_CHAT_URL; `--api-key`, `--api-secret-file` and `--base-url` override
them. A secret is never taken on the command line.
"""

# Heavy imports (httpx, structlog, the client) wait inside the handlers, so that
# the dispatcher stays fast for every other command.

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamdrop.commands import Subparsers
from streamdrop.commands.arguments import (
    non_negative_int,
    positive_float,
    positive_int,
    refuse_secret_option,
)
from streamdrop.commands.output import add_output_option, emit

if TYPE_CHECKING:
    from streamdrop.commands.verdict import Progress
    from streamdrop.stream.client import StreamClient
    from streamdrop.stream.credentials import Credentials
    from streamdrop.stream.errors import StreamError
    from streamdrop.stream.follow import AnyImportTask

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3

FEEDS_V3 = "feeds-v3"  # validation's name for the format Import V2 takes as product feeds


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    _register_upload(subparsers)
    _register_get(subparsers)
    _register_list(subparsers)
    _register_cancel(subparsers)


def _register_upload(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "upload-import",
        help="validate a file against the app, upload it and create an import",
        description="Validate FILE (a chat file with the app's own roles and channel types), "
                    "then upload it and create an import task: a chat file through /imports, "
                    "a Feeds v3 file through Import V2 (product feeds); prints the task.",
    )
    parser.add_argument("file", metavar="FILE", type=Path, help="the import file")
    parser.add_argument("--mode", choices=("upsert", "insert"), default=None,
                        help="upsert (the default for chat) overwrites existing items; insert "
                             "skips them (sent for Feeds v3 only when given)")
    parser.add_argument("--merge-custom", action=argparse.BooleanOptionalAction, default=None,
                        help="merge custom data into existing items instead of replacing it "
                             "(sent only when given)")
    parser.add_argument("--skip-references-check", action="store_true",
                        help="Feeds v3: ask Stream not to check references against the app")
    parser.add_argument("--no-validate", action="store_true",
                        help="upload without validating first (the format is still detected)")
    _add_common_options(parser)
    parser.set_defaults(handler=upload_import)


def _register_get(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "get-import", help="show an import task, or watch it to its end",
        description="Print the import task ID, a chat import or an Import V2 task. With --watch, "
                    "follow it until it completes (exit 0) or fails (exit 1).",
    )
    parser.add_argument("import_id", metavar="ID", help="the import task's id")
    parser.add_argument("--watch", action="store_true",
                        help="poll until the import ends (growing intervals, within the rate "
                             "limit); exit 0 on completed, 1 on a failed state")
    parser.add_argument("--interval", type=positive_float, default=2.0, metavar="SECONDS",
                        help="first polling interval for --watch (default 2)")
    parser.add_argument("--max-interval", type=positive_float, default=30.0, metavar="SECONDS",
                        help="longest polling interval for --watch (default 30)")
    parser.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS",
                        help="with --watch: give up after this long (exit 3)")
    _add_common_options(parser)
    parser.set_defaults(handler=get_import)


def _register_list(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "list-imports", help="list import tasks, newest first",
        description="Print a JSON array of the app's import tasks of both APIs, newest first, "
                    "each with its product.",
    )
    parser.add_argument("--product", choices=("chat", "feeds"), default=None,
                        help="only this product's tasks (chat: /imports and Import V2 chat "
                             "tasks; feeds: Import V2 feeds tasks)")
    parser.add_argument("--limit", type=positive_int, default=10,
                        help="tasks per API, 1 or more, default 10")
    parser.add_argument("--offset", type=non_negative_int, default=0,
                        help="of the chat /imports list, default 0")
    parser.add_argument("--cursor", default=None,
                        help="an Import V2 page's cursor (printed to stderr when there is more)")
    parser.add_argument("--state", type=_v2_state, default=None, metavar="STATE",
                        help="only Import V2 tasks in this state: 1-4 or queued, processing, "
                             "completed, failed (the names are streamdrop's guess)")
    _add_common_options(parser)
    parser.set_defaults(handler=list_imports)


def _register_cancel(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "cancel-import", help="cancel a queued or processing Import V2 task",
        description="Ask Stream to stop the Import V2 task ID (only queued or processing tasks "
                    "can be; a processing one stops on its next progress tick), then print it. "
                    "Chat imports through /imports cannot be cancelled.",
    )
    parser.add_argument("import_id", metavar="ID", help="the Import V2 task's id")
    _add_common_options(parser)
    parser.set_defaults(handler=cancel_import)


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    add_output_option(parser)
    parser.add_argument("--api-key", help="the app's API key (default: $STREAM_KEY)")
    parser.add_argument("--api-secret-file", metavar="PATH",
                        help="a file holding the API secret (default: $STREAM_SECRET)")
    refuse_secret_option(parser)
    parser.add_argument("--base-url", help="the API's base URL (default: $STREAM_CHAT_URL or "
                                           "https://chat.stream-io-api.com)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")


def _v2_state(text: str) -> int:
    from streamdrop.stream.import_states import v2_state_number

    try:
        return v2_state_number(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# ---------------------------------------------------------------------------- handlers


def upload_import(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        return _fail(f"{path}: no such file", EXIT_USAGE)
    if not os.access(path, os.R_OK):
        return _fail(f"{path}: not readable", EXIT_USAGE)
    return _run(_upload_import, args)


def get_import(args: argparse.Namespace) -> int:
    return _run(_get_import, args)


def list_imports(args: argparse.Namespace) -> int:
    return _run(_list_imports, args)


def cancel_import(args: argparse.Namespace) -> int:
    return _run(_cancel_import, args)


def _file_format(path: Path) -> str | None:
    """The file's format, by validation's detection (which reads past a long run of
    items both JSON Lines formats have, such as users, to the first one that tells)."""
    from streamdrop.validation import detect_path_format

    return detect_path_format(path)


async def _upload_import(client: StreamClient, args: argparse.Namespace) -> int:
    import anyio

    path: Path = args.file
    fmt = await anyio.to_thread.run_sync(_file_format, path)
    if fmt == "feeds":
        return _fail(f"{path} is in the feeds instruction format, which Stream imports through "
                     "its dashboard only (no API); Feeds v3 files go through Import V2",
                     EXIT_FAILED)
    if not args.no_validate and not await _valid(client, path, fmt, args.output):
        return EXIT_FAILED
    task: AnyImportTask
    progress = _upload_progress(path)
    client.upload_progress = progress.update if progress else None
    try:
        if fmt == FEEDS_V3:
            task = await _import_feeds_v3(client, path, args)
        else:
            task = await client.import_file(path, args.mode or "upsert", args.merge_custom)
    finally:
        if progress:
            progress.close()
    _emit_task(task, args.output)
    return EXIT_OK


def _upload_progress(path: Path) -> Progress | None:
    """A progress line on stderr for a big file's upload, only for a person at a terminal."""
    from streamdrop.commands.verdict import Progress

    return Progress.for_file(path, "uploading") if sys.stderr.isatty() else None


async def _valid(client: StreamClient, path: Path, fmt: str | None, output: str) -> bool:
    """Validate as the detected format (chat against the app's own roles and channel types);
    an invalid file's report goes to stdout."""
    import anyio

    from streamdrop.stream.client import fetch_app_options
    from streamdrop.validation import Options, validate_path

    options = Options() if fmt == FEEDS_V3 else await fetch_app_options(client)
    result = await anyio.to_thread.run_sync(validate_path, path, options, fmt or "auto")
    if result.valid:
        return True
    emit(result.to_json(), output, label=f"validation of {path.name}")
    from streamdrop.wording import plural

    _fail(f"{path} is not a valid import file ({plural(result.error_count, 'error')}); "
          "nothing was uploaded", EXIT_FAILED)
    return False


async def _import_feeds_v3(
    client: StreamClient, path: Path, args: argparse.Namespace
) -> AnyImportTask:
    from streamdrop.stream.s3_location import s3_location

    target = await client.create_import_url(path.name)
    location = s3_location(target.upload_url, target.path)
    await client.upload(target.upload_url, path)
    return await client.create_import_v2("feeds", location, mode=args.mode,
                                         skip_references_check=args.skip_references_check,
                                         merge_custom=args.merge_custom)


async def _get_import(client: StreamClient, args: argparse.Namespace) -> int:
    if not args.watch:
        from streamdrop.stream.follow import get_any_import

        _emit_task(await get_any_import(client, args.import_id), args.output)
        return EXIT_OK
    return await _watch(client, args)


async def _watch(client: StreamClient, args: argparse.Namespace) -> int:
    import anyio

    from streamdrop.stream.follow import watch_import
    from streamdrop.stream.import_states import Outcome, PollSchedule

    schedule = PollSchedule(initial=args.interval,
                            maximum=max(args.interval, args.max_interval))
    last: AnyImportTask | None = None
    with anyio.move_on_after(args.timeout) as scope:
        async with aclosing(watch_import(client, args.import_id, schedule=schedule)) as updates:
            async for task in updates:
                print(f"{task.id}: {task.state_label}", file=sys.stderr, flush=True)
                last = task
    if last is None:  # the timeout struck before the first answer
        return _fail(f"no answer about {args.import_id} within {args.timeout} s", EXIT_TIMEOUT)
    _emit_task(last, args.output)
    if scope.cancelled_caught:
        return _fail(f"{last.id} is still {last.state_label} after {args.timeout} s",
                     EXIT_TIMEOUT)
    return EXIT_OK if last.outcome is Outcome.SUCCEEDED else EXIT_FAILED


async def _list_imports(client: StreamClient, args: argparse.Namespace) -> int:
    tasks: list[AnyImportTask] = []
    if args.product in (None, "chat") and args.cursor is None and args.state is None:
        tasks.extend(await client.list_imports(limit=args.limit, offset=args.offset))
    if args.limit:
        page = await client.list_imports_v2(state=args.state, cursor=args.cursor,
                                            limit=args.limit)
        tasks.extend(t for t in page.tasks if args.product in (None, t.product))
        if page.next is not None:
            print(f"more Import V2 tasks: --cursor {page.next}", file=sys.stderr)
    tasks.sort(key=lambda task: str(task.raw.get("created_at") or ""), reverse=True)
    if args.output == "tree":
        from streamdrop.commands.tree import render_tree

        for task in tasks:
            print(render_tree(task.to_json(), f"import {task.id}"))
    else:
        emit([task.to_json() for task in tasks], "json", label="imports")
    return EXIT_OK


async def _cancel_import(client: StreamClient, args: argparse.Namespace) -> int:
    from streamdrop.stream import errors

    try:
        await client.cancel_import_v2(args.import_id)
    except errors.NotFoundError:
        return _fail(f"no Import V2 task {args.import_id} (chat imports through /imports "
                     "cannot be cancelled)", EXIT_FAILED)
    _emit_task(await client.get_import_v2(args.import_id), args.output)
    return EXIT_OK


# ---------------------------------------------------------------------------- plumbing


def _run(
    main: Callable[[StreamClient, argparse.Namespace], Awaitable[int]],
    args: argparse.Namespace,
) -> int:
    """Run one command with a client; turn the exception tree into messages and exit codes."""
    import anyio

    from streamdrop.stream import errors
    from streamdrop.stream.client import StreamClient
    from streamdrop.stream.retry import RetryPolicy

    _configure_logging(verbose=args.verbose)
    try:
        credentials = _credentials(args)

        async def with_client() -> int:
            # Someone is waiting at a terminal: fewer retries than the daemon's
            # (at most ~3.5 s of backoff), but still long enough for a 429's reset.
            policy = RetryPolicy(max_attempts=4, max_elapsed=120.0)
            async with StreamClient(credentials, policy=policy) as client:
                return await main(client, args)

        return anyio.run(with_client)
    except errors.CredentialsError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except errors.AuthenticationError as exc:
        return _fail(refused_message(exc), EXIT_FAILED)
    except errors.RetryableError as exc:
        return _fail(f"{exc}; gave up after retries", EXIT_USAGE)
    except errors.StreamError as exc:
        return _fail(str(exc), EXIT_FAILED)
    except BrokenPipeError:
        raise  # stdout's reader left: the dispatcher ends quietly
    except OSError as exc:
        return _fail(str(exc), EXIT_USAGE)


def refused_message(exc: StreamError) -> str:
    """The one line for refused credentials, as every command says it."""
    return f"credentials refused by Stream ({exc.status}): {exc.message}"


def _credentials(args: argparse.Namespace) -> Credentials:
    """Flags over the environment (load_credentials gives the environment priority over config,
    so a variable a flag replaces is left out)."""
    from streamdrop.stream.credentials import (
        KEY_ENV,
        SECRET_ENV,
        SECRET_FILE_ENV,
        URL_ENV,
        load_credentials,
    )

    env = dict(os.environ)
    flags: dict[str, Any] = {}
    if args.api_key:
        flags["api_key"] = args.api_key
        env.pop(KEY_ENV, None)
    if args.api_secret_file:
        flags["api_secret_file"] = args.api_secret_file
        env.pop(SECRET_ENV, None)
        env.pop(SECRET_FILE_ENV, None)
    if args.base_url:
        flags["base_url"] = args.base_url
        env.pop(URL_ENV, None)
    return load_credentials(flags, env)


def _configure_logging(*, verbose: bool) -> None:
    """Logs to stderr (stdout carries the result): warnings, or everything with -v."""
    from streamdrop import log

    log.configure(level="debug" if verbose else "warning")


def _emit_task(task: AnyImportTask, output: str) -> None:
    emit(task.to_json(), output, label=f"import {task.id}")


def _fail(message: str, code: int) -> int:
    print(f"streamdrop: {message}", file=sys.stderr)
    return code
