"""Validation speed and memory beside the `json.load` floor, on generated files.

For each layout (chat: one item per line, a single line, pretty-printed, JSON
Lines; and Feeds v3 JSON Lines, `feeds-v3`) a file of `--mib` MiB is generated
once (cached in bench/out/), then, each in
a fresh process and `--runs` times: CPython's json (`json.load` of the array,
`json.loads` per line for JSON Lines and Feeds v3) and `streamdrop`'s full validation. The
medians are printed with MiB/s, items/s, peak RSS and the ratio to json.

    python -m bench validate [--mib 100] [--runs 3] [--layouts lines,single]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench import generate, generate_feeds

LAYOUTS = (*generate.LAYOUTS, "feeds-v3")
LINE_LAYOUTS = ("jsonl", "feeds-v3")  # json's floor: json.loads per line

OUT = Path(__file__).resolve().parent / "out"

# What stream-cli's Go validator did on this machine (from the issue): 100 MiB
# compact array, 559 k items, in 15.8 s with 112 MiB peak RSS.
GO_SECONDS_PER_MIB = 15.8 / 100

JSON_FLOOR = """
import json, resource, sys, time
path, layout = sys.argv[1], sys.argv[2]
start = time.perf_counter()
with open(path, "rb") as f:
    if layout in ("jsonl", "feeds-v3"):
        items = [json.loads(line) for line in f if line.strip()]
    else:
        items = json.load(f)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "items": len(items),
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

# The import is outside the timing, like json's (start-up is measured apart below).
VALIDATE = """
import json, resource, sys, time
from pathlib import Path
from streamdrop.validation import Options, validate_path
start = time.perf_counter()
result = validate_path(Path(sys.argv[1]), Options(max_size=0))  # 300 MiB is over 300 MB
elapsed = time.perf_counter() - start
rss = max(resource.getrusage(who).ru_maxrss
          for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) * 1024
print(json.dumps({"seconds": elapsed, "items": sum(result.stats.values()), "rss": rss,
                  "errors": result.error_count, "format": result.format}))
"""

STARTUP = """
import subprocess, sys, time
times = []
for _ in range(7):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "streamdrop", "validate", sys.argv[1], "--output",
                    "json"], check=False, capture_output=True)
    times.append(time.perf_counter() - start)
times.sort()
print(times[len(times) // 2])
"""


def ensure_file(layout: str, mib: float) -> Path:
    OUT.mkdir(exist_ok=True)
    suffix = "jsonl" if layout in LINE_LAYOUTS else "json"
    product = "feeds" if layout == "feeds-v3" else "chat"
    path = OUT / f"{product}-{layout}-{mib:g}MiB.{suffix}"
    if not path.exists():
        print(f"generating {path.name} ...", file=sys.stderr, flush=True)
        if layout == "feeds-v3":
            generate_feeds.write(path, int(mib * 2**20))
        else:
            generate.write(path, int(mib * 2**20), layout)
    return path


def measure(code: str, path: Path, layout: str) -> dict[str, float]:
    run = subprocess.run([sys.executable, "-c", code, str(path), layout], check=True,
                         capture_output=True, text=True)
    result: dict[str, float] = json.loads(run.stdout)
    return result


def median_of(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def bench_layout(layout: str, mib: float, runs: int) -> dict[str, float]:
    path = ensure_file(layout, mib)
    size_mib = path.stat().st_size / 2**20
    # Alternate json and streamdrop, so that both see the same moments of a
    # shared machine, and compare them pair by pair.
    floor, ours = [], []
    for _ in range(runs):
        floor.append(measure(JSON_FLOOR, path, layout))
        ours.append(measure(VALIDATE, path, layout))
    if any(run["errors"] for run in ours):
        raise SystemExit(f"{path.name}: the generated file should be valid: {ours[0]}")
    json_s, our_s = median_of(floor, "seconds"), median_of(ours, "seconds")
    items = ours[0]["items"]
    return {
        "layout": layout, "MiB": size_mib, "items": items,  # type: ignore[dict-item]
        "json_s": json_s, "json_rss": median_of(floor, "rss") / 2**20,
        "ours_s": our_s, "ours_rss": max(run["rss"] for run in ours) / 2**20,
        "ours_min_s": min(run["seconds"] for run in ours),
        "json_min_s": min(run["seconds"] for run in floor),
        "paired": statistics.median(j["seconds"] / o["seconds"] for j, o in zip(floor, ours,
                                                                                strict=True)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench validate", description=__doc__)
    parser.add_argument("--mib", type=float, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    args = parser.parse_args(argv)
    print(f"validation benchmark: {args.mib:g} MiB files, median of {args.runs} runs, "
          "each run a fresh process")
    header = (f"{'layout':<7} {'MiB':>6} {'items':>8} | {'json s (min)':>13} {'json RSS':>9} | "
              f"{'ours s (min)':>13} {'MiB/s':>6} {'items/s':>8} {'RSS MiB':>8} | "
              f"{'vs json':>7} {'(min)':>6} {'paired':>6} {'vs Go':>6}")
    print(header)
    print("-" * len(header))
    for layout in args.layouts.split(","):
        row = bench_layout(layout, args.mib, args.runs)
        go_seconds = GO_SECONDS_PER_MIB * row["MiB"]
        print(f"{layout:<7} {row['MiB']:6.1f} {row['items']:8.0f} | {row['json_s']:6.2f} "
              f"({row['json_min_s']:4.2f}) {row['json_rss']:9.0f} | {row['ours_s']:6.2f} "
              f"({row['ours_min_s']:4.2f}) {row['MiB'] / row['ours_s']:6.1f} "
              f"{row['items'] / row['ours_s']:8.0f} {row['ours_rss']:8.0f} | "
              f"{row['json_s'] / row['ours_s']:6.2f}x "
              f"{row['json_min_s'] / row['ours_min_s']:5.2f}x {row['paired']:5.2f}x "
              f"{go_seconds / row['ours_s']:5.1f}x", flush=True)
    small = ensure_file("jsonl", 0.01)
    startup = subprocess.run([sys.executable, "-c", STARTUP, str(small)], check=True,
                             capture_output=True, text=True).stdout.strip()
    print(f"\n`streamdrop validate` on a 10 KiB file, whole process: "
          f"{float(startup) * 1000:.0f} ms (median of 7)")
    print("vs json: json's median time / ours; (min): the same of the fastest runs; paired: the "
          "median of json/ours over runs taken one after the other; above 1 = faster than "
          "json.load. vs Go: stream-cli's 15.8 s per 100 MiB / ours (median).")


if __name__ == "__main__":
    main()
