"""Validation speed and memory beside the `json.load` floor, on generated files.

For each layout (chat: one item per line, a single line, pretty-printed, JSON
Lines; and Feeds v3 JSON Lines, `feeds-v3`) a file of `--mib` MiB is generated
once (cached in bench/out/), then, each in a fresh process and `--runs` times,
one after the other: CPython's json (`json.load` of the array, `json.loads`
per line for JSON Lines and Feeds v3),
`streamdrop`'s full validation on the machine's cores (the default), and the
same on one core. Printed: medians with MiB/s, items/s, peak RSS of all the
processes (the validating process's peak plus its helper's), and the time as
a fraction of json's (below 1 = quicker than json.load; "paired" is the
median of the ratios of runs taken side by side).

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
before = resource.getrusage(resource.RUSAGE_SELF)
cpu_before = before.ru_utime + before.ru_stime
start = time.perf_counter()
with open(path, "rb") as f:
    if layout in ("jsonl", "feeds-v3"):
        items = [json.loads(line) for line in f if line.strip()]
    else:
        items = json.load(f)
elapsed = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": elapsed, "items": len(items), "rss": usage.ru_maxrss * 1024,
                  "cpu": usage.ru_utime + usage.ru_stime - cpu_before}))
"""

# The import is outside the timing, like json's (start-up is measured apart below).
# argv[2]: "one core" keeps validation in this process (no helper).
VALIDATE = """
import json, resource, sys, time
from pathlib import Path
from streamdrop.validation import Options, parallel, validate_path
if sys.argv[2] == "one":
    parallel.MIN_BYTES = 1 << 62
before = resource.getrusage(resource.RUSAGE_SELF)
cpu_before = before.ru_utime + before.ru_stime
start = time.perf_counter()
result = validate_path(Path(sys.argv[1]), Options(max_size=0))  # 300 MiB is over 300 MB
elapsed = time.perf_counter() - start
own, helper = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                   resource.RUSAGE_CHILDREN))
# The longer of the two processes' CPU times: the wall time on an otherwise idle machine.
cpu = max(own.ru_utime + own.ru_stime - cpu_before, helper.ru_utime + helper.ru_stime)
print(json.dumps({"seconds": elapsed, "items": sum(result.stats.values()),
                  "rss": (own.ru_maxrss + helper.ru_maxrss) * 1024, "cpu": cpu,
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


def measure(code: str, path: Path, arg: str) -> dict[str, float]:
    run = subprocess.run([sys.executable, "-c", code, str(path), arg], check=True,
                         capture_output=True, text=True)
    result: dict[str, float] = json.loads(run.stdout)
    return result


def median_of(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def paired(ours: list[dict[str, float]], floor: list[dict[str, float]]) -> float:
    """The median of ours/json over runs taken side by side."""
    return statistics.median(o["seconds"] / j["seconds"] for o, j in zip(ours, floor,
                                                                       strict=True))


def bench_layout(layout: str, mib: float, runs: int) -> dict[str, float]:
    path = ensure_file(layout, mib)
    size_mib = path.stat().st_size / 2**20
    # Alternate json and streamdrop, so that all see the same moments of a
    # shared machine, and compare them run by run.
    floor: list[dict[str, float]] = []
    cores: list[dict[str, float]] = []
    one: list[dict[str, float]] = []
    for _ in range(runs):
        floor.append(measure(JSON_FLOOR, path, layout))
        cores.append(measure(VALIDATE, path, "cores"))
        one.append(measure(VALIDATE, path, "one"))
    if any(run["errors"] for run in cores + one):
        raise SystemExit(f"{path.name}: the generated file should be valid: {cores[0]}")
    return {
        "MiB": size_mib, "items": cores[0]["items"],
        "json_s": median_of(floor, "seconds"), "json_rss": median_of(floor, "rss") / 2**20,
        "cores_s": median_of(cores, "seconds"), "one_s": median_of(one, "seconds"),
        "cores_rss": max(run["rss"] for run in cores) / 2**20,
        "one_rss": max(run["rss"] for run in one) / 2**20,
        "cores_paired": paired(cores, floor), "one_paired": paired(one, floor),
        "json_cpu": median_of(floor, "cpu"), "cores_cpu": median_of(cores, "cpu"),
        "one_cpu": median_of(one, "cpu"),
        "cores_min_s": min(r["seconds"] for r in cores),
        "cores_max_s": max(r["seconds"] for r in cores),
    }


def go_ratio(layout: str, row: dict[str, float]) -> str:
    """stream-cli's time / ours; it has no Feeds v3 validator."""
    if layout == "feeds-v3":
        return "    -"
    return f"{GO_SECONDS_PER_MIB * row['MiB'] / row['cores_s']:4.1f}x"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench validate", description=__doc__)
    parser.add_argument("--mib", type=float, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    args = parser.parse_args(argv)
    print(f"validation benchmark: {args.mib:g} MiB files, median of {args.runs} runs, "
          "each run a fresh process")
    header = (f"{'layout':<7} {'MiB':>6} {'items':>7} | {'json s':>6} {'RSS':>5} | "
              f"{'cores s':>7} {'(min-max)':>11} {'MiB/s':>6} {'RSS':>5} | {'1 core s':>8} "
              f"{'RSS':>5} | {'x json: cores':>13} {'paired':>6} | {'1 core':>6} "
              f"{'paired':>6} | {'vs Go':>5}")
    print(header)
    print("-" * len(header))
    cpu_rows: list[str] = []
    for layout in args.layouts.split(","):
        row = bench_layout(layout, args.mib, args.runs)
        low, high = row["cores_min_s"], row["cores_max_s"]
        print(f"{layout:<7} {row['MiB']:6.1f} {row['items']:7.0f} | {row['json_s']:6.2f} "
              f"{row['json_rss']:5.0f} | {row['cores_s']:7.2f} ({low:4.2f}-{high:4.2f}) "
              f"{row['MiB'] / row['cores_s']:6.1f} {row['cores_rss']:5.0f} | "
              f"{row['one_s']:8.2f} {row['one_rss']:5.0f} | "
              f"{row['cores_s'] / row['json_s']:12.2f}x {row['cores_paired']:5.2f}x | "
              f"{row['one_s'] / row['json_s']:5.2f}x {row['one_paired']:5.2f}x | "
              + go_ratio(layout, row), flush=True)
        json_cpu, cores_cpu, one_cpu = row["json_cpu"], row["cores_cpu"], row["one_cpu"]
        cpu_rows.append(f"{layout:<7} CPU s: json {json_cpu:5.2f} | cores (the longer process) "
                        f"{cores_cpu:5.2f} = {cores_cpu / json_cpu:4.2f}x | 1 core "
                        f"{one_cpu:5.2f} = {one_cpu / json_cpu:4.2f}x")
    print("\n" + "\n".join(cpu_rows))
    small = ensure_file("jsonl", 0.01)
    startup = subprocess.run([sys.executable, "-c", STARTUP, str(small)], check=True,
                             capture_output=True, text=True).stdout.strip()
    print(f"\n`streamdrop validate` on a 10 KiB file, whole process: "
          f"{float(startup) * 1000:.0f} ms (median of 7)")
    print("x json: streamdrop's median time / json's (below 1 = quicker than json.load); "
          "paired: the median of ours/json over runs taken side by side; RSS: MiB, the peak "
          "of the validating process plus its helper's. vs Go: stream-cli's 15.8 s per "
          "100 MiB / ours (cores, median).")


if __name__ == "__main__":
    main()
