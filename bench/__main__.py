"""Run a benchmark by name: `python -m bench NAME [options]` (bench/bench_NAME.py).

Without a name, the validation benchmark runs. Each benchmark prints figures;
none of them passes or fails.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main() -> None:
    names = sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))
    args = sys.argv[1:]
    name = args.pop(0) if args and not args[0].startswith("-") else "validate"
    if name not in names:
        raise SystemExit(f"unknown benchmark {name!r}; choose from: {', '.join(names)}")
    importlib.import_module(f"bench.bench_{name}").main(args)


main()
