"""Soak: `python -m bench soak [--files 2000] [--fault-rate 0.1] [--kills 6] [--seed 7]`.

The files (a few of them invalid) are dropped at once; the daemon runs against an
emulator that answers a `--fault-rate` share of requests with 5xx, slow answers,
dropped connections and failed uploads, and is SIGKILLed `--kills` times at random
moments (each restart goes on where the last stopped); a last `run --once` finishes.
Prints files per second (first start to last exit), the peak RSS of the daemon and of
its workers, and what matters: valid files lost (never imported) and duplicated
(imported more than once), both 0 when all is well, and invalid files without a report.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from hashlib import sha256
from pathlib import Path
from typing import Any

import structlog

from bench.bench_daemon import children_of, rss_kib, small_file, write_config
from streamdrop.testing import EmulatorHandle, running_emulator

INVALID = b'{"type":"user","data":{"role":"user"}}\n{"type":"nonsense","data":{}}\n'


class Runs:
    """The daemon's runs one after the other, with the peak RSS seen across all of them."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.peak_kib = 0
        self.peak_workers_kib = 0
        self.runs = 0

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        log = (self.config.parent / f"daemon-{self.runs}.log").open("wb")
        self.runs += 1
        return subprocess.Popen([sys.executable, "-m", "streamdrop", "run", "--config",
                                 str(self.config), *extra], stdout=subprocess.DEVNULL,
                                stderr=log)

    def watch(self, proc: subprocess.Popen[bytes], seconds: float) -> None:
        """Sample RSS for `seconds` or until the process ends."""
        deadline = time.monotonic() + seconds
        while proc.poll() is None and time.monotonic() < deadline:
            self.peak_kib = max(self.peak_kib, rss_kib(proc.pid) or 0)
            workers = sum(rss_kib(c) or 0 for c in children_of(proc.pid))
            self.peak_workers_kib = max(self.peak_workers_kib, workers)
            time.sleep(0.2)


def drop_files(drop: Path, count: int, invalid: int, rng: random.Random) -> dict[str, bytes]:
    files = {f"d{n // 100:02d}/f{n:05d}.jsonl": small_file(50_000 + n)
             for n in range(count - invalid)}
    for n in rng.sample(range(count), invalid):
        files[f"bad/b{n:05d}.jsonl"] = INVALID + b'{"n":%d}\n' % n
    for rel, data in files.items():
        (drop / rel).parent.mkdir(parents=True, exist_ok=True)
        (drop / rel).write_bytes(data)
    return files


def soak(root: Path, options: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(options.seed)
    with running_emulator(step_seconds=0.05, rate_limit=100_000, fault_rate=options.fault_rate,
                          seed=options.seed) as emulator:
        config = write_config(root, emulator, active=16, workers=8)
        config.write_text(config.read_text().replace(
            "[daemon]\n", "[daemon]\nonce_max_attempts = 50\nretry_max_delay_seconds = 2\n"))
        files = drop_files(root / "drop", options.files, options.invalid, rng)
        runs = Runs(config)
        started = time.monotonic()
        for _ in range(options.kills):
            proc = runs.start()
            runs.watch(proc, rng.uniform(3.0, 12.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        final = runs.start("--once")
        runs.watch(final, options.timeout)
        if final.poll() is None:
            final.kill()
        seconds = time.monotonic() - started
        return figures(root, emulator, files, runs, final.wait(), seconds)


def figures(root: Path, emulator: EmulatorHandle, files: dict[str, bytes], runs: Runs,
            code: int, seconds: float) -> dict[str, Any]:
    imported = Counter(i["sha256"] for i in emulator.imports())
    valid = {sha256(data).hexdigest() for rel, data in files.items() if not rel.startswith("bad/")}
    invalid = [rel for rel in files if rel.startswith("bad/")]
    reported = [rel for rel in invalid if (root / "failed" / f"{rel}.report.json").exists()]
    return {"files": len(files), "valid": len(valid), "invalid": len(invalid),
            "kills": runs.runs - 1, "exit_code": code, "seconds": round(seconds, 1),
            "files_per_second": round(len(files) / seconds, 1),
            "peak_rss_mib": round(runs.peak_kib / 1024, 1),
            "peak_worker_rss_mib": round(runs.peak_workers_kib / 1024, 1),
            "lost": len(valid - set(imported)),
            "duplicated": sum(1 for sha, n in imported.items() if n > 1),
            "imported_not_dropped": len(set(imported) - valid),
            "invalid_without_report": len(invalid) - len(reported),
            "left_in_drop": sum(1 for p in (root / "drop").rglob("*") if p.is_file()),
            "faults_injected": emulator.stats().get("faults")}


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench soak")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--invalid", type=int, default=50, help="of --files, invalid ones")
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=1800, help="for the last run")
    options = parser.parse_args(args)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="streamdrop-soak-") as tmp:
        print("soak:", json.dumps(soak(Path(tmp), options)), flush=True)
