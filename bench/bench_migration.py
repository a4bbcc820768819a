"""A migration through the daemon: `python -m bench migration [--files 20] [--file-mb 40] ...`.

20 chat files of 40 MB and one of 700 MB (over Stream's cap: a batch of
parts) dropped at once, `max_active_imports = 1`, the emulator moving each
import one state every `--step-seconds` (2): how close the whole run comes
to the time Stream spends importing (the sum, over imports, of creation to
completion), and the gap between one import completing and the next being
created (median, p95; an upload takes part of it). The files are cut from
the generated 1 GiB JSON Lines file at line boundaries (each 40 MB file
starts with a user of its own, so their bytes differ); a JSON Lines file
may name items it does not hold (warnings), so each is valid.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from bench.bench_daemon import run_daemon
from bench.bench_validate import ensure_file
from streamdrop.testing import EmulatorHandle, running_emulator


def cut(source: Path, target: Path, size: int, first_line: bytes = b"") -> None:
    """The first lines of `source` making at most `size` bytes, after `first_line`."""
    with source.open("rb") as lines, target.open("wb") as out:
        written = out.write(first_line)
        for line in lines:
            if written + len(line) > size:
                break
            written += out.write(line)


def drop_files(drop: Path, files: int, file_mb: int, big_mb: int) -> None:
    source = ensure_file("jsonl", 1024)
    drop.mkdir()
    for n in range(files):
        user = {"type": "user", "data": {"id": f"migration_{n}", "role": "user"}}
        name = f"f{n:02d}.jsonl" if n < files // 2 else f"n{n:02d}.jsonl"
        cut(source, drop / name, file_mb * 1_000_000, json.dumps(user).encode() + b"\n")
    cut(source, drop / "m-big.jsonl", big_mb * 1_000_000)  # between the two halves


def write_config(root: Path, emulator: EmulatorHandle) -> Path:
    config = root / "streamdrop.toml"
    config.write_text(f"""
[stream]
base_url = "{emulator.base_url}"
api_key = "{emulator.api_key}"
api_secret = "{emulator.api_secret}"
max_active_imports = 1
[database]
url = "sqlite+aiosqlite:///{root / 'streamdrop.db'}"
[drop]
path = "{root / 'drop'}"
settle_seconds = 0.2
[poll]
min_interval_seconds = 0.5
max_interval_seconds = 1
[log]
level = "info"
""")
    return config


def imports_of(log: Path) -> list[tuple[float, float, float]]:
    """(created, completed, upload seconds) of every import, in order of creation, from the
    daemon's log (the upload: from `task.uploading` to `task.import_created`)."""
    uploading: dict[int, float] = {}
    created: dict[int, float] = {}
    completed: dict[int, float] = {}
    for line in log.read_text().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        at = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()
        if record["event"] == "task.uploading":
            uploading[record["task_id"]] = at
        elif record["event"] == "task.import_created":
            created[record["task_id"]] = at
        elif record["event"] == "task.finished" and record.get("state") == "completed":
            completed[record["task_id"]] = at
    return sorted((created[t], completed[t], created[t] - uploading.get(t, created[t]))
                  for t in created if t in completed)


def spread(values: list[float]) -> dict[str, float | None]:
    """Median, p95 and max, rounded."""
    if not values:
        return {"median": None, "p95": None, "max": None}
    p95 = statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]
    return {"median": round(statistics.median(values), 2), "p95": round(p95, 2),
            "max": round(max(values), 2)}


def bench(files: int, file_mb: int, big_mb: int, step_seconds: float,
          root: Path) -> dict[str, Any]:
    drop_files(root / "drop", files, file_mb, big_mb)
    with running_emulator(step_seconds=step_seconds, rate_limit=100_000) as emulator:
        config = write_config(root, emulator)
        started = time.time()
        code, seconds, samples, workers = run_daemon(config, timeout=7200)
        imported = len(emulator.imports())
    imports = imports_of(root / "daemon.log")
    busy = sum(done - made for made, done, _ in imports)
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(imports)]
    # The goal: each gap is the next file's upload plus under a second.
    beyond_upload = [b[0] - a[1] - b[2] for a, b in itertools.pairwise(imports)]
    first = imports[0][0] - started if imports else 0.0
    last = started + seconds - imports[-1][1] if imports else 0.0
    return {
        "exit_code": code, "imports": imported, "wall_s": round(seconds, 1),
        "sum_of_imports_s": round(busy, 1), "wall_over_imports": round(seconds / busy, 3),
        "until_first_import_s": round(first, 1), "after_last_import_s": round(last, 1),
        "sum_of_gaps_s": round(sum(gaps), 1),
        "gap_s": spread(gaps), "gap_beyond_upload_s": spread(beyond_upload),
        "daemon_rss_mib_max": round(max(kib for _, kib in samples) / 1024, 1),
        "workers_rss_mib_max": round(max((kib for _, kib in workers), default=0) / 1024, 1),
    }


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench migration", description=__doc__)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--file-mb", type=int, default=40)
    parser.add_argument("--big-mb", type=int, default=700)
    parser.add_argument("--step-seconds", type=float, default=2.0)
    options = parser.parse_args(args)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="streamdrop-bench-", dir=ensure_file(
            "jsonl", 1024).parent) as tmp:
        result = bench(options.files, options.file_mb, options.big_mb, options.step_seconds,
                       Path(tmp))
    print("migration:", json.dumps(result), flush=True)
