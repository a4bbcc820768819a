#!/usr/bin/env python3
"""Set up and run streamdrop from a fresh clone with nothing but Python 3.11+.

    python3 dev.py run      # the service on its embedded defaults
    python3 dev.py test     # lint, type-check and the whole test suite
    python3 dev.py test --fast   # the same without the tests marked slow
    python3 dev.py bench    # the benchmarks (prints figures)
    python3 dev.py shell    # print the path of the virtualenv's bin/ folder

The virtualenv lives in .venv/ and is rebuilt when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".streamdrop-installed"


def _requirements_digest() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> None:
    """Create .venv and install the project (editable, with test extras) once."""
    if sys.version_info < (3, 11):
        sys.exit(f"streamdrop needs Python 3.11 or newer, this is {sys.version.split()[0]}")
    digest = _requirements_digest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    if not (BIN / "python").exists():
        print("dev.py: creating .venv", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    print("dev.py: installing streamdrop and its test tools into .venv", file=sys.stderr)
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(digest)


def run(argv: list[str]) -> int:
    try:
        return subprocess.call([str(BIN / argv[0]), *argv[1:]], cwd=ROOT)
    except KeyboardInterrupt:  # Ctrl-C reached the child too; it says what happened
        return 130


def replace_with(argv: list[str]) -> int:
    """Become the command (signals such as Ctrl-C then go straight to it)."""
    os.chdir(ROOT)
    os.execv(str(BIN / argv[0]), [str(BIN / argv[0]), *argv[1:]])


TYPED_TESTS = ["tests/unit/daemon", "tests/integration/daemon"]
FAST_TIER = "not slow"  # tests over ~3 s carry @pytest.mark.slow


def cmd_test(extra: list[str]) -> int:
    if "--fast" in extra:
        extra = ["-m", FAST_TIER, *(a for a in extra if a != "--fast")]
    steps = [
        ["ruff", "check", "daemon", "tests", "bench"],
        ["mypy"],
        # the service's tests type against the same protocols (no `type: ignore` fakes)
        ["mypy", "--explicit-package-bases", *TYPED_TESTS],
        ["lint-imports"],
        ["pytest", "-q", *extra],
    ]
    for step in steps:
        print(f"dev.py: {' '.join(step)}", file=sys.stderr, flush=True)
        code = run(step)
        if code != 0:
            return code
    return 0


def cmd_run(extra: list[str]) -> int:
    return replace_with(["streamdrop", "demo", *extra])


def cmd_bench(extra: list[str]) -> int:
    return replace_with(["python", "-m", "bench", *extra])


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test", "bench", "shell"}:
        print(__doc__, file=sys.stderr)
        return 2
    ensure_venv()
    command, extra = sys.argv[1], sys.argv[2:]
    if command == "shell":
        print(BIN)
        return 0
    return {"run": cmd_run, "test": cmd_test, "bench": cmd_bench}[command](extra)


if __name__ == "__main__":
    sys.exit(main())
