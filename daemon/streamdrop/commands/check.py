"""`streamdrop check --config FILE [--offline]`: one line per check; exit 0, 1 or 2."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from streamdrop.commands import Subparsers
from streamdrop.commands.output import add_output_option, print_json

EXIT_INVALID = 2


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    check = subparsers.add_parser(
        "check", help="check a configuration: keys, folders, database, notification URLs, "
        "credentials",
        description="Check every key, the folders, the database and the notification URLs "
        "and, unless --offline, each target's credentials with a real call to Stream. One "
        "line per check. Exit 0: all good; 1: a live check failed (unreachable, credentials "
        "refused); 2: the configuration is invalid (the line names the key).")
    check.add_argument("--config", type=Path, required=True, metavar="FILE")
    check.add_argument("--offline", action="store_true",
                       help="no call to Stream (the database is still opened if it exists)")
    add_output_option(check, people="one line per check")
    check.set_defaults(handler=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    import anyio

    from streamdrop import log
    from streamdrop.service import check, settings

    log.configure("warning")  # the findings are the output; the client's lines stay quiet

    try:
        config = settings.load(args.config)
    except settings.ConfigError as exc:
        if args.output == "json":
            print_json([{"level": "invalid", "key": "config", "message": str(exc)}])
        else:
            print(f"invalid {exc}")
        return EXIT_INVALID
    findings = [check.Finding("ok", "config", f"{args.config} read, every key known"),
                *check.offline(config)]
    findings += anyio.run(lambda: check.live(config, offline_only=args.offline))
    if args.output == "json":
        print_json([dataclasses.asdict(finding) for finding in findings])
    else:
        for finding in findings:
            print(finding.line())
    code = check.exit_code(findings)
    print({0: "all good", 1: "a live check failed", 2: "the configuration is invalid"}[code],
          file=sys.stderr)
    return code
