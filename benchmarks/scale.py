"""Every CPU stage of the graph as the data grows to WFLW's size: wall time, peak RSS, files, bytes, growth exponent.

At each size (a fraction of WFLW's 10,000 faces; 1/8, 1/4, 1/2 and 1 by default) the WFLW-shaped twin
(``[synth] shape = "wflw"``) is rendered into a store of its own and the graph's stages run on it one by one,
each in a fresh child process with its upstream stages already cached, so each stage's peak RSS is its own:

* ``synth``, ``index``, ``subsets``: the data branch (the thesis profile's subset rule);
* ``align`` (dlib, the study's upsample 1, on every train photo), ``filter``, ``segment_train``, ``segment``,
  ``paste``: the GAN branch's geometry with the thesis profile's settings; the segmenter is the demo profile's
  small VGG16-FCN trained on the twin's masks (the study's trains on LFW with ImageNet weights: a GPU job);
* ``train_36``: the study's 12 rows x 3 seeds with the demo network, a fixed budget of ``--steps`` steps each
  (a stand-in: the real training is GPU work, see the README's cost table); the two relit rows train with the
  geometry branch's pasted faces in place of the StyleFlow-relit ones (same count and layout);
* ``evaluate_1``: one run on the whole test split; ``evaluate_35``: the other 35 (the report's inputs);
* ``report`` over the 36 runs;
* ``review``: the review page with as many projected faces as the filter kept at this size (small synthetic
  pictures stand in for the projections), driven by chromium: time to the first face shown, to the whole grid;
* ``cached``: every stage above again in one process, all of them cache hits (what a re-run costs): through the
  stage contract (``seconds``), and as cached Prefect tasks in a flow run, like a re-run of ``reproduce``
  (``prefect_s``; an ephemeral Prefect API unless ``PREFECT_API_URL`` names a server).

Printed per stage and size: wall seconds (the stage alone, without the child's start and imports), peak RSS of
the child process (its own or its largest worker's, ``ru_maxrss``), files and bytes it wrote, and per stage the
exponent k of time ~ size^k fitted over the sizes (k <= 1.15: no worse than linear).

Usage: .venv/bin/python benchmarks/scale.py [--sizes 0.125 0.25 0.5 1] [--root /tmp/eltrepro-scale]
       [--workers 2] [--steps 2] [--only STEP ...] [--fresh] [--csv scale.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEPS = (
    "synth",
    "index",
    "subsets",
    "align",
    "filter",
    "segment_train",
    "segment",
    "paste",
    "train_36",
    "evaluate_1",
    "evaluate_35",
    "report",
    "review",
    "cached",
)
FOLDERS = {  # the store folder of each step's stage: --fresh deletes it before measuring
    "synth": "synth_wflw",
    "index": "index_wflw",
    "subsets": "subsets",
    "align": "align",
    "filter": "filter_faces",
    "segment_train": "segment_train",
    "segment": "segment",
    "paste": "paste",
    "train_36": "train_landmarks",
    "evaluate_1": "evaluate_landmarks",
    "evaluate_35": "evaluate_landmarks",
    "report": "report",
}
RELIT_ROWS = ("baseline_relit", "rt_l0.25_r0.05_relit")
SEEDS = (0, 1, 2)
MARK = "SCALE-RESULT "


class Graph:
    """The graph's stages on one size's store, run in order; ``step(name)`` runs the stages up to ``name``."""

    def __init__(self, *, store: Path, fraction: float, workers: int, steps: int) -> None:
        from elt_study.run_profile import load_profile, profile_path
        from kit.stage import Runtime
        from kit.store import Store

        self.store = Store(str(store))
        self.fraction, self.steps = fraction, steps
        self.runtime = Runtime(device="cpu", workers=workers)
        self.demo = load_profile(profile_path("demo"))
        self.thesis = load_profile(profile_path("thesis"))
        self.out: dict = {}
        self.runner = None  # a StageRunner: every stage a cached Prefect task, as in the reproduce flow

    def call(self, stage, config, **inputs):
        """One stage's output: directly through the stage contract, or as a Prefect task (``self.runner``)."""
        if self.runner is not None:
            return self.runner(stage, config, **inputs)
        return stage.run(store=self.store, config=config, runtime=self.runtime, **inputs)[0]

    def synth(self):
        from landmark_core.synth.dataset import SynthConfig
        from tasks.synth_wflw import synth_wflw

        config = SynthConfig(shape="wflw", fraction=self.fraction)
        return self.call(synth_wflw, config)

    def index(self):
        from tasks.index_wflw import IndexConfig, index_wflw

        return self.call(index_wflw, IndexConfig(), dataset=self.out["synth"])

    def subsets(self):
        from tasks.subsets import subsets

        return self.call(subsets, self.thesis.subsets, index=self.out["index"])

    def align(self):
        from tasks.align import align

        data = {"dataset": self.out["synth"], "index": self.out["index"]}
        return self.call(align, self.thesis.gan.detect, **data)

    def filter(self):
        from tasks.filter_faces import filter_faces

        data = {"dataset": self.out["synth"], "index": self.out["index"], "aligned": self.out["align"]}
        return self.call(filter_faces, self.thesis.gan.filter, **data)

    def segment_train(self):
        from tasks.segment_train import segment_train

        data = {"dataset": self.out["synth"], "index": self.out["index"]}
        config = self.demo.gan.segment_train
        return self.call(segment_train, config, **data)

    def segment(self):
        from tasks.segment import segment

        data = {"filtered": self.out["filter"], "trained": self.out["segment_train"]}
        return self.call(segment, self.thesis.gan.segment, **data)

    def paste(self):
        from tasks.paste import paste

        data = {"dataset": self.out["synth"], "index": self.out["index"], "filtered": self.out["filter"]}
        return self.call(paste, self.thesis.gan.paste, masks=self.out["segment"], **data)

    def _configs(self) -> dict[str, tuple[str, object]]:
        from elt_study.experiments import load_matrix, seeded_configs

        base = replace(self.demo.train, max_steps=self.steps, val_fraction=0.02, max_epochs=1)
        rows = [r for r in load_matrix(self.thesis.matrix, base=base) if not r.name.endswith("_physical")]
        return {
            name: (row.name, config)
            for row in rows
            for name, config in seeded_configs(base=base, row=row, seeds=SEEDS).items()
        }

    def train_36(self):
        from tasks.train_landmarks import train_landmarks

        made = []
        for row, config in self._configs().values():
            extra = self.out["paste"] if row in RELIT_ROWS else None
            data = {"dataset": self.out["synth"], "index": self.out["index"], "augmented": extra}
            made.append(self.call(train_landmarks, config, **data))
        return made

    def _evaluate(self, trained: list) -> list:
        from tasks.evaluate_landmarks import EvaluateConfig, evaluate_landmarks

        data = {"dataset": self.out["synth"], "index": self.out["index"], "subsets": self.out["subsets"]}
        return [self.call(evaluate_landmarks, EvaluateConfig(), trained=t, **data) for t in trained]

    def evaluate_1(self):
        return self._evaluate(self.out["train_36"][:1])

    def evaluate_35(self):
        return self._evaluate(self.out["train_36"][1:])

    def report(self):
        from elt_study.experiments import load_matrix
        from landmark_core.study_values import load_study_values
        from tasks.report import ReportConfig, ReportRow, report

        runs = self._configs()
        matrix = load_matrix(self.thesis.matrix, base=self.demo.train)
        config = ReportConfig(
            profile=f"scale-{self.fraction:g}",
            rows=tuple(
                ReportRow(name=r.name, label=r.label, control=r.control, tables=r.tables, beyond_study=r.beyond_study)
                for r in matrix
            ),
            runs=tuple((name, row, c.seed) for name, (row, c) in runs.items()),
            study=tuple(load_study_values().items()),
        )
        evaluated = self.out["evaluate_1"] + self.out["evaluate_35"]
        return self.call(
            report,
            config,
            evaluations=dict(zip(runs, evaluated, strict=True)),
            trainings=dict(zip(runs, self.out["train_36"], strict=True)),
            dataset=self.out["synth"],
            index=self.out["index"],
            subsets=self.out["subsets"],
            aligned=self.out["align"],
            filtered=self.out["filter"],
            segmenter=self.out["segment_train"],
            masks=self.out["segment"],
        )

    def review(self) -> dict:
        from benchmarks.review_timing import time_review_page

        faces = len(self.out["filter"].manifest())
        return time_review_page(faces=faces, root=Path(self.store.root).parent / f"review-{self.fraction:g}")

    def step(self, name: str) -> dict:
        """Run every stage before ``name`` (cached), then ``name`` timed; ``cached`` re-runs them all."""
        upstream = [s for s in STEPS[: STEPS.index(name)] if s not in ("review", "cached")]
        for earlier in upstream:
            self.out[earlier] = getattr(self, earlier)()
        if name == "cached":
            return {"seconds": self._timed_all(), "prefect_s": self._timed_flow()}
        began = time.perf_counter()
        made = getattr(self, name)()
        seconds = time.perf_counter() - began
        if isinstance(made, dict):
            return {"seconds": seconds, **made}
        made = made if isinstance(made, list) else [made]
        return {"seconds": seconds, "outputs": [o.local_dir().as_posix() for o in made]}

    def _timed_flow(self) -> float:
        """The same, every stage a cached Prefect task in a flow run (what a re-run of the reproduce flow does)."""
        from prefect import flow

        from kit.prefect_stage import StageRunner

        @flow(name="scale-cached")
        def rerun() -> float:
            self.runner = StageRunner(store=self.store.url, runtime=self.runtime)
            try:
                return self._timed_all()
            finally:
                self.runner = None

        return rerun()

    def _timed_all(self) -> float:
        began = time.perf_counter()
        for name in STEPS[: STEPS.index("review")]:
            self.out[name] = getattr(self, name)()
        return time.perf_counter() - began


def child(args: argparse.Namespace) -> None:
    """One step in this process; prints its result as one JSON line."""
    store = args.root / f"store-{args.size:g}"
    if args.fresh and args.child in FOLDERS:  # measure it again: its outputs go (keys are content: nothing else moves)
        for folder in (store / FOLDERS[args.child], store / ".scratch" / FOLDERS[args.child]):
            shutil.rmtree(folder, ignore_errors=True)
    graph = Graph(store=store, fraction=args.size, workers=args.workers, steps=args.steps)
    print(MARK + json.dumps(graph.step(args.child)), flush=True)


def _du(paths: list[str]) -> tuple[int, int]:
    files = [p for folder in paths for p in Path(folder).rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def measure(step: str, size: float, args: argparse.Namespace) -> dict:
    """Run one step in a child process; its result with peak RSS, files and bytes."""
    command = [sys.executable, __file__, "--child", step, "--size", str(size), "--root", str(args.root)]
    command += ["--workers", str(args.workers), "--steps", str(args.steps)] + ["--fresh"] * args.fresh
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    lines = [line for line in output.splitlines() if line.startswith(MARK)]
    if status != 0 or not lines:
        return {"step": step, "size": size, "error": f"exit status {status}: {output[-400:]}"}
    result = json.loads(lines[-1][len(MARK) :])
    files, nbytes = _du(result.pop("outputs", []))
    return {"step": step, "size": size, "rss_mb": usage.ru_maxrss / 1024, "files": files, "bytes": nbytes, **result}


def exponent(sizes: list[float], seconds: list[float]) -> float:
    """k of seconds ~ size^k, least squares in log-log."""
    if len(sizes) < 2 or min(seconds) <= 0:
        return float("nan")
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def table(results: list[dict], sizes: list[float]) -> str:
    """The Markdown table: one line per step, per size time / RSS, then k."""
    head = "| stage | " + " | ".join(f"{s:g} of WFLW: s, MB RSS, files, MB" for s in sizes) + " | k |"
    lines = [head, "|" + "---|" * (len(sizes) + 2)]
    for step in STEPS:
        rows = {r["size"]: r for r in results if r["step"] == step}
        cells, times = [], []
        for size in sizes:
            r = rows.get(size)
            if r is None or "error" in r:
                cells.append("failed" if r else "")
                continue
            times.append(r.get("first_face_s", r["seconds"]))
            cells.append(_cell(r))
        done = [s for s in sizes if s in rows and "error" not in rows[s]]
        k = exponent(done, times) if step != "cached" and len(times) == len(done) else float("nan")
        lines.append(f"| {step} | " + " | ".join(cells) + f" | {k:.2f} |")
    return "\n".join(lines)


def _cell(r: dict) -> str:
    """One step at one size: seconds, MB RSS, files, MB written (the review page: its own times)."""
    if "first_face_s" in r:
        shown = f"first shown {r['first_face_s']:.2f} s, all listed {r['list_s']:.2f} s"
        return f"{r['faces']} faces: {shown}, {r['key_ms']:.0f} ms/key"
    seconds = f"{r['seconds']:.1f}" + (f" ({r['prefect_s']:.1f} as Prefect tasks)" if "prefect_s" in r else "")
    return f"{seconds}, {r['rss_mb']:.0f}, {r.get('files', 0)}, {r.get('bytes', 0) / 1e6:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.125, 0.25, 0.5, 1.0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/eltrepro-scale"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--steps", type=int, default=2, help="training steps per run (the stand-in budget)")
    parser.add_argument("--only", nargs="+", choices=STEPS, help="measure only these steps")
    parser.add_argument("--fresh", action="store_true", help="delete each measured step's outputs first")
    parser.add_argument("--csv", type=Path, help="also write every measurement here as JSON lines")
    parser.add_argument("--child", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    results = []
    for size in args.sizes:
        for step in args.only or STEPS:
            result = measure(step, size, args)
            results.append(result)
            print(json.dumps(result), flush=True)
            if args.csv:
                with args.csv.open("a") as out:
                    out.write(json.dumps(result) + "\n")
            if "error" in result:
                break  # the later steps need this one
    print(table(results, args.sizes))


if __name__ == "__main__":
    main()
