"""Run a benchmark by name: `python -m bench NAME [options]` (bench/bench_NAME.py).

Without a name, the validation benchmark runs; `python -m bench --help` lists them and
`python -m bench NAME --help` shows one's options. Each benchmark prints figures; none
of them passes or fails.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).parent
DEFAULT = "validate"


def benchmarks() -> dict[str, str]:
    """Each benchmark's name and the first line of its docstring (read, not imported)."""
    found = {}
    for path in sorted(HERE.glob("bench_*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        found[path.stem.removeprefix("bench_")] = doc.splitlines()[0] if doc else ""
    return found


def usage() -> str:
    listing = benchmarks()
    width = max(map(len, listing))
    lines = ["usage: python -m bench [NAME] [options]   (NAME --help: its options)", "",
             f"benchmarks (default: {DEFAULT}):"]
    lines += [f"  {name:<{width}}  {text}" for name, text in listing.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] in ("-h", "--help"):
        sys.stdout.write(usage())
        return
    names = benchmarks()
    name = args.pop(0) if args and not args[0].startswith("-") else DEFAULT
    if name not in names:
        raise SystemExit(f"unknown benchmark {name!r}; choose from: {', '.join(names)}")
    importlib.import_module(f"bench.bench_{name}").main(args)


main()
