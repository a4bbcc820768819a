"""Memory of validation on hostile files: many errors, a huge value, an endless device.

Each case is generated once (cached in bench/out/) and validated in a fresh
process running `streamdrop validate`; its peak RSS (the process and its
children) and time are printed. The goal is that none grows with the number
of errors or the size of one value: under 200 MiB for 1 M distinct errors.

    python -m bench hostile [--items 1000000] [--cases roles,references,...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"

MEASURE = """
import resource, sys, time
from streamdrop.cli import main
start = time.perf_counter()
code = main(["validate", *sys.argv[1:], "--output", "json"])
elapsed = time.perf_counter() - start
# This process and its helper (if the file was checked on two cores), each's peak.
own, helper = (resource.getrusage(who).ru_maxrss * 1024
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print(elapsed, own, helper, code, file=sys.stderr)
"""

def _users_with_bad_roles(count: int) -> Iterator[bytes]:
    for n in range(count):
        yield b'{"type":"user","item":{"id":"u%d","role":"role-%d"}}' % (n, n)


def _messages_of_missing_users(count: int) -> Iterator[bytes]:
    yield b'{"type":"user","item":{"id":"owner"}}'
    yield b'{"type":"channel","item":{"id":"c","type":"messaging","created_by":"owner"}}'
    for n in range(count):
        yield (b'{"type":"message","item":{"id":"m%d","channel_type":"messaging",'
               b'"channel_id":"c","user":"missing-%d","text":"hi"}}' % (n, n))


def _huge_string(count: int) -> Iterator[bytes]:
    yield b'{"type":"user","item":{"id":"u","bio":"' + b"x" * (200 * 1000 * 1000) + b'"}}'


CASES: dict[str, tuple[Callable[[int], Iterator[bytes]], str]] = {
    "roles": (_users_with_bad_roles, "N users, each with a distinct unknown role"),
    "references": (_messages_of_missing_users, "N messages naming N missing users"),
    "huge-value": (_huge_string, "one user with a 200 MB custom string"),
}


def ensure(case: str, count: int, jsonl: bool) -> Path:
    OUT.mkdir(exist_ok=True)
    items = CASES[case][0]
    path = OUT / f"hostile-{case}-{count}.{'jsonl' if jsonl else 'json'}"
    if not path.exists():
        with path.open("wb") as out:
            if jsonl:
                for item in items(count):
                    out.write(item.replace(b'"item":', b'"data":') + b"\n")
            else:
                out.write(b"[\n")
                for n, item in enumerate(items(count)):
                    out.write((b",\n" if n else b"") + item)
                out.write(b"\n]\n")
    return path


def measure(args: list[str]) -> tuple[float, float, float, int]:
    run = subprocess.run([sys.executable, "-c", MEASURE, *args], check=True,
                         capture_output=True, text=True, timeout=900)
    seconds, own, helper, code = run.stderr.split()[-4:]
    return float(seconds), float(own) / 2**20, float(helper) / 2**20, int(code)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench hostile", description=__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--cases", default=",".join([*CASES, "fifo", "dev-zero"]))
    args = parser.parse_args(argv)
    print(f"{'case':<48} {'format':<6} {'seconds':>8} {'RSS MiB: all':>12} "
          f"{'(own + helper)':>15} {'exit':>4}")
    for case in args.cases.split(","):
        if case == "dev-zero":
            rows = [("/dev/zero", "jsonl", ["/dev/zero", "--format", "chat-jsonl"])]
        elif case == "fifo":
            fifo = OUT / "hostile.fifo"
            if not fifo.exists():
                import os
                os.mkfifo(fifo)
            rows = [("a FIFO without a writer", "auto", [str(fifo)])]
        else:
            label = CASES[case][1].replace("N", f"{args.items:,}")
            rows = [(label, fmt, [str(ensure(case, args.items, fmt == "jsonl")), "--max-size", "0"])
                    for fmt in ("array", "jsonl")]
        for label, fmt, command in rows:
            started = time.perf_counter()
            try:
                seconds, own, helper, code = measure(command)
            except subprocess.CalledProcessError:
                print(f"{label:<48} {fmt:<6} failed after {time.perf_counter() - started:.1f} s")
                continue
            print(f"{label:<48} {fmt:<6} {seconds:8.2f} {own + helper:12.0f} "
                  f"{f'({own:.0f} + {helper:.0f})':>15} {code:4d}", flush=True)
    print("exit 1 = reported invalid; RSS: the peaks of the validating process and of its "
          "helper (files of 16 MiB or more), summed; shared pages count twice")


if __name__ == "__main__":
    main()
