"""`split` beside `validate` of the same file: time ratio and peak memory, on generated files.

For each layout (JSON Lines, an array with one item per line) a chat file of
`--mib` MiB (default 1 GiB: 3.6 times Stream's cap) is generated once
(cached in bench/out/), then, each in a fresh process and `--runs` times,
alternating: full validation, and a split into parts of at most 300,000,000
bytes. Prints the medians, the median paired ratio split/validate and the
peak RSS of each (split runs in one process: its hash thread included).

    python -m bench split [--mib 1024] [--runs 3] [--layouts jsonl,lines]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bench_validate import OUT, VALIDATE, ensure_file
from bench.generate import array_from_jsonl

SPLIT = """
import json, resource, sys, time
from pathlib import Path
from streamdrop.validation.parts import split_path
start = time.perf_counter()
manifest = split_path(Path(sys.argv[1]), Path(sys.argv[3]))
elapsed = time.perf_counter() - start
rss = max(resource.getrusage(who).ru_maxrss
          for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) * 1024
print(json.dumps({"seconds": elapsed, "rss": rss, "parts": len(manifest.parts),
                  "items": sum(sum(p.items.values()) for p in manifest.parts)}))
"""


def measure(code: str, *args: str) -> dict[str, float]:
    run = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True,
                         text=True)
    result: dict[str, float] = json.loads(run.stdout)
    return result


def source_file(layout: str, mib: float) -> Path:
    """The generated file; the array one is the JSON Lines one's items (quicker to make)."""
    if layout == "lines":
        path = OUT / f"chat-lines-{mib:g}MiB.json"
        if not path.exists():
            array_from_jsonl(ensure_file("jsonl", mib), path)
        return path
    return ensure_file(layout, mib)


def bench_layout(layout: str, mib: float, runs: int) -> dict[str, float]:
    path = source_file(layout, mib)
    validations, splits = [], []
    for _ in range(runs):
        validations.append(measure(VALIDATE, str(path), layout))
        out = Path(tempfile.mkdtemp(prefix="bench-split-", dir=path.parent))
        try:
            splits.append(measure(SPLIT, str(path), layout, str(out)))
        finally:
            shutil.rmtree(out)
    if splits[0]["items"] != validations[0]["items"]:
        raise SystemExit(f"{path.name}: split {splits[0]['items']} items, "
                         f"validation counted {validations[0]['items']}")
    return {
        "MiB": path.stat().st_size / 2**20, "items": validations[0]["items"],
        "parts": splits[0]["parts"],
        "validate_s": statistics.median(r["seconds"] for r in validations),
        "split_s": statistics.median(r["seconds"] for r in splits),
        "paired": statistics.median(s["seconds"] / v["seconds"]
                                    for s, v in zip(splits, validations, strict=True)),
        "validate_rss": max(r["rss"] for r in validations) / 2**20,
        "split_rss": max(r["rss"] for r in splits) / 2**20,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench split", description=__doc__)
    parser.add_argument("--mib", type=float, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layouts", default="jsonl,lines")
    args = parser.parse_args(argv)
    print(f"split benchmark: {args.mib:g} MiB files, parts of at most 300,000,000 bytes, "
          f"median of {args.runs} runs, each a fresh process")
    header = (f"{'layout':<6} {'MiB':>7} {'items':>9} {'parts':>5} | {'validate s':>10} "
              f"{'RSS MiB':>7} | {'split s':>8} {'RSS MiB':>7} | {'split/validate':>14}")
    print(header)
    print("-" * len(header))
    for layout in args.layouts.split(","):
        row = bench_layout(layout, args.mib, args.runs)
        print(f"{layout:<6} {row['MiB']:7.0f} {row['items']:9.0f} {row['parts']:5.0f} | "
              f"{row['validate_s']:10.2f} {row['validate_rss']:7.0f} | {row['split_s']:8.2f} "
              f"{row['split_rss']:7.0f} | {row['paired']:13.2f}x", flush=True)
    print("split/validate: the median over runs taken one after the other of split's time "
          "over validation's (goal: at most 1.3x).")


if __name__ == "__main__":
    main()
