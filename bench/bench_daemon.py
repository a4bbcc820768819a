"""The daemon's throughput and memory: `python -m bench daemon [--files N] [--big-mb M]`.

1. N small chat files dropped at once, `streamdrop run --once` against the
   emulator: files per second (start to exit, migrations included) and the
   daemon's peak RSS.
2. One big generated chat file (default 280 MB): the daemon's RSS sampled
   every 0.2 s while it hashes, validates and uploads, to show it stays flat.

Prints figures; passes or fails nothing. The emulator runs in this process.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

from streamdrop.testing import EmulatorHandle, running_emulator

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = (ROOT / "daemon" / "streamdrop" / "samples" / "demo-chat.jsonl").read_bytes()


def small_file(n: int) -> bytes:
    user = {"type": "user", "data": {"id": f"bench_{n}", "role": "user",
                                     "created_at": "2017-01-01T01:00:00Z"}}
    return json.dumps(user).encode() + b"\n" + SAMPLE


def write_config(root: Path, emulator: EmulatorHandle, *, active: int, workers: int,
                 level: str = "warning") -> Path:
    config = root / "streamdrop.toml"
    config.write_text(f"""
[stream]
base_url = "{emulator.base_url}"
api_key = "{emulator.api_key}"
api_secret = "{emulator.api_secret}"
max_active_imports = {active}
[database]
url = "sqlite+aiosqlite:///{root / 'streamdrop.db'}"
[drop]
path = "{root / 'drop'}"
settle_seconds = 0.2
[poll]
min_interval_seconds = 0.1
max_interval_seconds = 0.5
list_threshold = 10
[daemon]
workers = {workers}
[log]
level = "{level}"
""")
    return config


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def children_of(pid: int) -> list[int]:
    """The daemon's child processes (its validation workers)."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


Samples = list[tuple[float, int]]


def run_daemon(config: Path, timeout: float) -> tuple[int, float, Samples, Samples]:
    """Run `streamdrop run --once`; exit code, seconds, RSS samples (seconds, KiB) of the
    daemon and of its worker processes (summed)."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "streamdrop", "run", "--once", "--config",
                             str(config)], stdout=subprocess.DEVNULL,
                            stderr=(config.parent / "daemon.log").open("wb"))
    samples: Samples = []
    workers: Samples = []
    while proc.poll() is None:
        if (rss := rss_kib(proc.pid)) is not None:
            samples.append((time.time(), rss))
            workers.append((time.time(), sum(rss_kib(c) or 0 for c in children_of(proc.pid))))
        if time.monotonic() - started > timeout:
            proc.kill()
        time.sleep(0.2)
    return proc.returncode, time.monotonic() - started, samples, workers


def bench_files(count: int, root: Path) -> dict[str, Any]:
    with running_emulator(step_seconds=0.05, rate_limit=100_000) as emulator:
        config = write_config(root, emulator, active=32, workers=8)
        drop = root / "drop"
        drop.mkdir()
        for n in range(count):
            (drop / f"d{n // 100:02d}" / f"f{n:05d}.jsonl").parent.mkdir(exist_ok=True)
            (drop / f"d{n // 100:02d}" / f"f{n:05d}.jsonl").write_bytes(small_file(n))
        code, seconds, samples, _workers = run_daemon(config, timeout=1800)
        imported = len(emulator.imports())
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"files": count, "imported": imported, "exit_code": code,
            "seconds": round(seconds, 2), "files_per_second": round(count / seconds, 1),
            "peak_rss_mib": round(max(peak, *(s[1] for s in samples)) / 1024, 1)}


def bench_big(mb: int, root: Path) -> dict[str, Any]:
    from bench.generate import write  # only this benchmark needs it

    drop = root / "drop"
    drop.mkdir()
    big = drop / "big.jsonl"
    write(big, mb * 1_000_000, "jsonl")
    size = big.stat().st_size
    with running_emulator(step_seconds=0.5, rate_limit=100_000) as emulator:
        config = write_config(root, emulator, active=1, workers=1, level="info")
        code, seconds, samples, workers = run_daemon(config, timeout=3600)
        imported = len(emulator.imports())
    phases = phase_times(root / "daemon.log")
    upload = [kib for t, kib in samples
              if phases.get("task.uploading", 0) <= t <= phases.get("stream.uploaded", 0)]
    return {"file_mb": round(size / 1e6, 1), "imported": imported, "exit_code": code,
            "seconds": round(seconds, 1),
            "upload_seconds": round(phases.get("stream.uploaded", 0)
                                    - phases.get("task.uploading", 0), 1),
            "rss_mib_max": round(max(kib for _, kib in samples) / 1024, 1),
            "rss_mib_during_upload_min": round(min(upload, default=0) / 1024, 1),
            "rss_mib_during_upload_max": round(max(upload, default=0) / 1024, 1),
            "rss_mib_every_2s": [round(kib / 1024) for _, kib in samples[::10]],
            "worker_rss_mib_max": round(max((kib for _, kib in workers), default=0) / 1024, 1),
            "worker_rss_mib_every_2s": [round(kib / 1024) for _, kib in workers[::10]]}


def phase_times(log: Path) -> dict[str, float]:
    """When each event was first logged (Unix seconds), from the daemon's JSON lines."""
    from datetime import datetime

    out: dict[str, float] = {}
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            moment = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
            out.setdefault(record["event"], moment.timestamp())
    return out


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench daemon")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--big-mb", type=int, default=280, help="decimal MB (Stream caps at 300)")
    parser.add_argument("--only", choices=("files", "big"))
    options = parser.parse_args(args)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    if options.only in (None, "files"):
        with tempfile.TemporaryDirectory(prefix="streamdrop-bench-") as tmp:
            print("small files:", json.dumps(bench_files(options.files, Path(tmp))), flush=True)
    if options.only in (None, "big"):
        with tempfile.TemporaryDirectory(prefix="streamdrop-bench-") as tmp:
            print("big upload:", json.dumps(bench_big(options.big_mb, Path(tmp))), flush=True)
