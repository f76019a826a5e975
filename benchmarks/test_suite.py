"""The test suite's wall time: one pytest process (the named baseline) against the way `make test` runs it
(pytest-xdist workers, a module per worker, one thread and one Prefect server per worker), in one run, with the
ratio and the slowest tests of the second.

Both runs are whole suites (about 20 minutes on 2 cores together); ``--paths`` times a part of it instead.

Usage: .venv/bin/python benchmarks/test_suite.py [--workers 2] [--slowest 10] [--paths tests/flows ...]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(r"(\d+) passed")
DURATION = re.compile(r"^(\d+\.\d+)s (call|setup|teardown)\s+(\S+)$")


def run_suite(*, extra: list[str], paths: list[str], slowest: int) -> tuple[float, str, list[str]]:
    """Run pytest once; (wall seconds, the summary line, the ``slowest`` longest phases as printed)."""
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--durations={slowest}", *extra, *paths]
    started = time.perf_counter()
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = result.stdout.splitlines()
    summary = next((line.strip("= ") for line in reversed(lines) if SUMMARY.search(line)), "no summary")
    if result.returncode != 0:
        sys.exit(f"pytest {' '.join(extra)} failed ({result.returncode}): {summary}")
    return wall, summary, [line for line in lines if DURATION.match(line)][:slowest]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers of the make-test way")
    parser.add_argument("--slowest", type=int, default=10, help="slowest tests to list")
    parser.add_argument("--paths", nargs="*", default=[], help="test paths (default: the whole suite)")
    args = parser.parse_args()
    if args.workers < 1 or args.slowest < 1:
        parser.error("--workers and --slowest must be at least 1")
    serial, serial_summary, _ = run_suite(extra=[], paths=args.paths, slowest=args.slowest)
    print(f"one process (baseline):  {serial:7.1f} s  ({serial_summary})")
    xdist = ["-n", str(args.workers), "--dist", "loadfile"]
    parallel, summary, slow = run_suite(extra=xdist, paths=args.paths, slowest=args.slowest)
    print(f"make test ({args.workers} workers):    {parallel:7.1f} s  ({summary})")
    print(f"ratio baseline / make test: {serial / parallel:.2f}x")
    print(f"the {len(slow)} slowest phases under make test:")
    print("\n".join(f"  {line}" for line in slow))


if __name__ == "__main__":
    main()
