"""`streamdrop validate FILE`: check an import file and print the verdict."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from streamdrop.commands import Subparsers
from streamdrop.commands.arguments import (
    non_negative_int,
    positive_int,
    refuse_secret_option,
)
from streamdrop.commands.output import add_output_option

if TYPE_CHECKING:
    from streamdrop.validation import Options

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
EXIT_REFUSED = 1  # the app refused our credentials: exit 1, as upload-import and check say it
# validation.model.FORMATS, written out: importing the validator here would slow every command.
FORMAT_CHOICES = ("auto", "chat", "chat-jsonl", "feeds", "feeds-v3")


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate", help="check an import file against Stream's rules",
        description="Check a chat (JSON array or JSON Lines), feeds instructions or Feeds v3 "
                    "import file. "
                    "Exit 0 when valid, 1 when invalid, 2 on usage or I/O problems.")
    parser.add_argument("file", help="the import file")
    parser.add_argument("--format", choices=FORMAT_CHOICES,
                        default="auto", help="the file's format (default: detected)")
    parser.add_argument("--roles", help="the app's user roles, comma-separated "
                        "(default: Stream's built-ins user,admin,guest,anonymous)")
    parser.add_argument("--channel-types", metavar="TYPES",
                        help="the app's channel types, `name` or `name:max_message_length`, "
                        "comma-separated (default: Stream's built-ins, max length 5000)")
    parser.add_argument("--feed-groups", metavar="GROUPS",
                        help="the app's feed groups, `name` or `name:flat|aggregated|"
                        "notification`, comma-separated (default: not checked); Feeds v3: a feed's "
                        "group_id must be one of them or a feed_group of the file")
    parser.add_argument("--from-app", action="store_true",
                        help="fetch roles and channel types from the Stream app "
                        "(STREAM_KEY, STREAM_SECRET, STREAM_CHAT_URL)")
    refuse_secret_option(parser)
    parser.add_argument("--lighter-validation-id", action="store_true",
                        help="allow '!' in channel ids")
    parser.add_argument("--strict-references", action="store_true",
                        help="JSON Lines and Feeds v3: a reference to an item not in the file "
                        "is an error")
    parser.add_argument("--max-errors", type=non_negative_int, default=1000, metavar="N",
                        help="list at most N errors (all are still checked and counted)")
    parser.add_argument("--max-size", type=non_negative_int, default=300_000_000, metavar="BYTES",
                        help="larger files are invalid without being parsed (0: no limit)")
    parser.add_argument("--max-item-bytes", type=positive_int, default=4 * 1024 * 1024,
                        metavar="BYTES", help="a longer item (array element or line) is an "
                        "error, skipped unread (default: 4 MiB, far past Stream's own limits)")
    add_output_option(parser)
    parser.set_defaults(handler=run)


def build_options(args: argparse.Namespace) -> Options:
    from streamdrop.validation.feeds import parse_feed_groups
    from streamdrop.validation.model import Options, parse_channel_types, parse_roles

    options = Options(lighter_validation_id=args.lighter_validation_id,
                      strict_references=args.strict_references,
                      max_errors=args.max_errors, max_size=args.max_size,
                      max_item_bytes=args.max_item_bytes)
    changes: dict[str, Any] = {}
    if args.from_app:
        changes.update(_app_lists())
    if args.roles:
        changes["roles"] = frozenset(parse_roles(args.roles))
    if args.channel_types:
        changes["channel_types"] = parse_channel_types(args.channel_types)
    if args.feed_groups:
        changes["feed_groups"] = parse_feed_groups(args.feed_groups)
    from dataclasses import replace

    return replace(options, **changes)


def _app_lists() -> dict[str, Any]:
    """Roles and channel types from the app, through the API client."""
    import anyio

    from streamdrop import log
    from streamdrop.stream.client import StreamClient, fetch_app_options
    from streamdrop.stream.credentials import load_credentials

    log.configure(level="warning")  # to stderr: stdout carries the verdict

    async def fetch() -> Options:
        async with StreamClient(load_credentials()) as client:
            return await fetch_app_options(client)

    fetched = anyio.run(fetch)
    return {"roles": fetched.roles, "channel_types": fetched.channel_types}


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from streamdrop.commands.imports import refused_message
    from streamdrop.commands.verdict import Progress, print_result
    from streamdrop.stream.errors import AuthenticationError
    from streamdrop.validation import validate_path

    try:
        options = build_options(args)
    except ValueError as exc:
        print(f"streamdrop validate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AuthenticationError as exc:
        print(f"streamdrop validate: {refused_message(exc)}", file=sys.stderr)
        return EXIT_REFUSED
    except Exception as exc:
        print(f"streamdrop validate: could not fetch the app's roles and channel types: {exc}",
              file=sys.stderr)
        return EXIT_USAGE
    path = Path(args.file)
    progress = Progress.for_file(path) if sys.stderr.isatty() else None
    try:
        result = validate_path(path, options, args.format,
                               progress.update if progress else None)
    except OSError as exc:
        print(f"streamdrop validate: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if progress:
            progress.close()
    print_result(result, args.output, path)
    return EXIT_VALID if result.valid else EXIT_INVALID

