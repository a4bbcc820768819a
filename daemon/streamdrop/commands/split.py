"""`streamdrop split` and `streamdrop convert`: a chat file as JSON Lines parts, or as one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from streamdrop.commands.arguments import positive_int
from streamdrop.commands.output import add_output_option, emit

EXIT_DONE, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
DEFAULT_MAX_BYTES = 300_000_000  # validation.split.DEFAULT_MAX_PART_BYTES (imports stay lazy)


def register(subparsers: Any) -> None:
    split = subparsers.add_parser(
        "split", help="split a chat file into JSON Lines parts Stream can import in order",
        description="Write a chat file (JSON array or JSON Lines) as JSON Lines parts "
                    "<stem>.part-0001.jsonl, ... of at most --max-bytes each, every part "
                    "valid alone and referring only to itself and earlier parts, and the "
                    "manifest <stem>.parts.json. Validate the file first. Exit 0 when "
                    "written, 1 when the file cannot be split, 2 on usage or I/O problems.")
    split.add_argument("file", help="the chat import file")
    split.add_argument("--out", required=True, metavar="DIR", help="folder for the parts")
    split.add_argument("--max-bytes", type=positive_int, default=DEFAULT_MAX_BYTES, metavar="N",
                       help=f"the largest part, in bytes (default {DEFAULT_MAX_BYTES:,}: "
                       "Stream's limit)")
    add_output_option(split)
    split.set_defaults(handler=run_split)
    convert = subparsers.add_parser(
        "convert", help="convert a chat JSON array file to Stream's JSON Lines format",
        description="Write a chat file as one JSON Lines file in Stream's item order "
                    "(`item` becomes `data`, each object's bytes unchanged). Exit 0 when "
                    "written, 1 when the file cannot be converted, 2 on usage or I/O problems.")
    convert.add_argument("file", help="the chat import file")
    convert.add_argument("--out", required=True, metavar="FILE.jsonl", help="the file to write")
    add_output_option(convert)
    convert.set_defaults(handler=run_convert)




def run_split(args: argparse.Namespace) -> int:
    from streamdrop.validation.parts import SplitRefused, split_path

    source = Path(args.file)
    try:
        manifest = split_path(source, Path(args.out), args.max_bytes)
    except (SplitRefused, ValueError) as exc:
        print(f"streamdrop split: {source}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except OSError as exc:
        print(f"streamdrop split: {exc.filename or source}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_USAGE
    emit(manifest.to_json(), args.output, label=f"parts of {source}")
    return EXIT_DONE


def run_convert(args: argparse.Namespace) -> int:
    from streamdrop.validation.parts import SplitRefused, convert_path

    source, target = Path(args.file), Path(args.out)
    if target.exists() and target.resolve() == source.resolve():
        print("streamdrop convert: --out must not be the file itself", file=sys.stderr)
        return EXIT_USAGE
    try:
        manifest = convert_path(source, target)
    except SplitRefused as exc:
        print(f"streamdrop convert: {source}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except OSError as exc:
        print(f"streamdrop convert: {exc.filename or source}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_USAGE
    part = manifest.parts[0]
    emit({"source": manifest.to_json()["source"], "out": str(target), "sha256": part.sha256,
          "bytes": part.bytes, "items": part.items}, args.output, label=f"{source} as {target}")
    return EXIT_DONE
