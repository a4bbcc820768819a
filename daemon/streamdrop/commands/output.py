"""One output convention for every command: `--output json|tree` (`--json` the same as
`--output json`); without either, a tree or table for people on a terminal, JSON when piped."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

OUTPUT_CHOICES = ("json", "tree")


def add_output_option(parser: argparse.ArgumentParser, people: str = "a tree") -> None:
    """`--output json|tree` and its alias `--json`; `resolve` fills in the default."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--output", choices=OUTPUT_CHOICES, default=None,
                       help=f"json for programs, tree for people ({people}); default: tree on "
                       "a terminal, json when piped")
    group.add_argument("--json", dest="output", action="store_const", const="json",
                       help="the same as --output json")


def resolve(args: argparse.Namespace) -> None:
    """An output not chosen follows stdout: a terminal gets the tree, a pipe or file JSON."""
    if "output" in vars(args) and args.output is None:
        args.output = "tree" if sys.stdout.isatty() else "json"


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def emit(value: Any, output: str, *, label: str) -> None:
    """JSON, or the value drawn as a tree under `label`."""
    if output == "tree":
        from streamdrop.commands.tree import render_tree

        print(render_tree(value, label))
        return
    print_json(value)
