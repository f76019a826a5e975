"""What a process pays to load the Prefect graph: every entrypoint of prefect.yaml imported in a fresh interpreter
(what ``prefect deploy``, ``eltrepro run`` and each flow run's process do before any work), timed against its named
baseline in the same run: the same imports with matplotlib's pyplot (Agg) and scipy.stats imported first, as the
graph imported them before the report stage took them only when it draws a figure or bootstraps an interval.

Each pair runs the two in fresh processes, in turn (A B A B ...), so the machine's drift falls on both. Figures are
medians over the pairs: wall seconds, and the child's CPU seconds (user + system) from ``getrusage``. The last line
is one JSON object; ``ratio`` is new seconds / baseline seconds (below 1 is faster).

Usage: .venv/bin/python benchmarks/graph_import.py [--pairs 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
EAGER = ("matplotlib.pyplot", "scipy.stats")  # what the graph imported at load time before, and no longer does


def entrypoint_modules() -> list[str]:
    """The module of each entrypoint of prefect.yaml (``flows/reproduce.py:reproduce`` is ``flows.reproduce``)."""
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    return [d["entrypoint"].partition(":")[0].removesuffix(".py").replace("/", ".") for d in deployments]


def import_script(*, preload: tuple[str, ...]) -> str:
    """Python source that imports ``preload`` (pyplot on Agg, as the figure modules chose it), then every entrypoint,
    and prints which of ``EAGER`` ended up loaded (a JSON list)."""
    lines = ["import json, sys"]
    if preload:
        lines += ["import matplotlib", "matplotlib.use('Agg')", *(f"import {m}" for m in preload)]
    lines += [f"import {m}" for m in entrypoint_modules()]
    lines.append(f"print(json.dumps([m for m in {EAGER!r} if m in sys.modules]))")
    return "\n".join(lines)


def one_import(script: str) -> dict[str, object]:
    """Run ``script`` in a fresh interpreter from the repository root: wall and CPU seconds, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "loaded": json.loads(done.stdout.strip().splitlines()[-1])}


def measure(*, pairs: int) -> dict[str, object]:
    """``pairs`` new/baseline pairs; medians, the ratios, and what each way had loaded."""
    new_script, baseline_script = import_script(preload=()), import_script(preload=EAGER)
    runs: dict[str, list[dict[str, object]]] = {"new": [], "baseline": []}
    for _ in range(pairs):
        runs["new"].append(one_import(new_script))
        runs["baseline"].append(one_import(baseline_script))
    figures: dict[str, object] = {}
    for way, results in runs.items():
        for figure in ("wall_s", "cpu_s"):
            figures[f"{way}_{figure}"] = round(statistics.median(r[figure] for r in results), 3)
        figures[f"{way}_loaded"] = results[-1]["loaded"]
    figures["ratio"] = round(figures["new_wall_s"] / figures["baseline_wall_s"], 3)
    figures["cpu_ratio"] = round(figures["new_cpu_s"] / figures["baseline_cpu_s"], 3)
    figures["pairs"] = pairs
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="new/baseline pairs (fresh processes each)")
    args = parser.parse_args()
    figures = measure(pairs=args.pairs)
    print(f"entrypoints: {', '.join(entrypoint_modules())}")
    for way in ("baseline", "new"):
        loaded = ", ".join(figures[f"{way}_loaded"]) or "neither"
        print(f"{way:8s}  wall {figures[f'{way}_wall_s']:.2f} s  cpu {figures[f'{way}_cpu_s']:.2f} s  loaded: {loaded}")
    print(f"ratio (new / baseline): wall {figures['ratio']:.3f}, cpu {figures['cpu_ratio']:.3f}")
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
