"""The `streamdrop` command line: finds the command's module and hands it the arguments."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from streamdrop import __version__
from streamdrop.commands.arguments import Parser

# command name -> module under streamdrop.commands that registers it.
COMMAND_MODULES: dict[str, str] = {
    "validate": "validate",
    "split": "split",
    "convert": "split",
    "upload-import": "imports",
    "get-import": "imports",
    "list-imports": "imports",
    "cancel-import": "imports",
    "emulator": "emulator",
    "run": "daemon",
    "demo": "daemon",
    "db": "daemon",
    "check": "check",
    "completion": "completion",
    "status": "ops",
    "tasks": "ops",
    "show": "ops",
    "retry": "ops",
    "skip": "ops",
    "pause": "ops",
    "resume": "ops",
}

EXIT_USAGE = 2


def _modules_for(argv: Sequence[str]) -> list[str]:
    """Only the module of the command asked for, or all of them for help."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    if command in COMMAND_MODULES and command != "completion":  # completion: the whole tree
        return [COMMAND_MODULES[command]]
    return sorted(set(COMMAND_MODULES.values()))


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = Parser(
        prog="streamdrop",
        description="Validate, upload and follow Stream chat and feeds imports.",
    )
    parser.add_argument("--version", action="version", version=f"streamdrop {__version__}")
    parser.set_defaults(root_parser=parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in _modules_for(argv):
        importlib.import_module(f"streamdrop.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from streamdrop.commands.output import resolve

    resolve(args)
    try:
        code = int(handler(args))
        sys.stdout.flush()  # a pipe closed early shows here, not in the interpreter's exit
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_left()
    return code


def _reader_left() -> int:
    """The reader of stdout went away (`| head -1`): it had what it wanted. End quietly,
    exit 0, and point stdout at /dev/null so that no later flush complains."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0
