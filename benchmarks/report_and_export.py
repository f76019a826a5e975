"""Two library paths made cheaper with the same output: a report page with its figures inside, and the ONNX export
of a landmark network. Each is timed against its named baseline, the earlier path, in the same run.

* page: ``markdown_html`` against markdown-it rendering the Markdown with the data URIs already in it (the earlier
  path: markdown-it normalises every character of every link in Python). The two pages are compared byte for byte.
* export: ``export_model(fmt="onnx")`` against the same export of the model with its ReLU6s as they are (the
  earlier path: the exporter decomposes each ReLU6 through shape-symbolic tracing).

The last line is one JSON object with both ratios (new seconds / baseline seconds; below 1 is faster).

Usage: .venv/bin/python benchmarks/report_and_export.py [--figures 7] [--figure-kb 400] [--repeats 3]
       [--size study|demo] [--only page|export]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def _median_seconds(work: Callable[[], object], repeats: int) -> tuple[float, object]:
    """The median wall seconds of ``repeats`` calls of ``work``, and its last result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def page_seconds(*, figures: int, figure_kb: int, repeats: int) -> dict[str, float | bool]:
    """Render a report-like page with ``figures`` random PNG-sized base64 figures both ways.

    Returns:
        ``baseline_s``, ``new_s``, ``ratio`` and ``same_page`` (the two bodies are equal).
    """
    from landmark_core.markdown import embed_images, markdown_html, markdown_parser

    rng = np.random.default_rng(0)
    images = {
        f"figures/f{i}.png": "data:image/png;base64," + base64.b64encode(rng.bytes(figure_kb * 1000)).decode()
        for i in range(figures)
    }
    markdown = "# Report\n\n" + "\n\n".join(f"![figure {i}](figures/f{i}.png)" for i in range(figures))
    earlier = markdown_parser()
    baseline_s, body = _median_seconds(lambda: earlier.render(embed_images(markdown, images)), repeats)
    new_s, page = _median_seconds(lambda: markdown_html(markdown=markdown, title="t", images=images), repeats)
    same = f"<body>\n{body}</body>" in page
    return {"baseline_s": baseline_s, "new_s": new_s, "ratio": new_s / baseline_s, "same_page": same}


def export_seconds(*, size: str) -> dict[str, float]:
    """Export the ``size`` network (``study``: the study's, ``demo``: the demo profile's) to ONNX both ways.

    Returns:
        ``baseline_s``, ``new_s`` and ``ratio``.
    """
    import landmark_core.export as export
    from landmark_core.config import from_dict
    from landmark_core.train import build_model
    from landmark_core.train_config import TrainConfig

    if size == "demo":
        config = from_dict(TrainConfig, tomllib.loads((ROOT / "elt_study/profiles/demo.toml").read_text())["train"])
    else:
        config = TrainConfig()
    model = build_model(config.model, seed=0, device=torch.device("cpu"))
    folder = Path(tempfile.mkdtemp(prefix="export-benchmark-"))

    def run(name: str) -> Path:
        return export.export_model(model=model, config=config, out=folder / name, fmt="onnx")

    with mock.patch.object(export, "_relu6_as_clamp", lambda module: module):  # the earlier path
        baseline_s, _ = _median_seconds(lambda: run("baseline"), 1)
    new_s, _ = _median_seconds(lambda: run("new"), 1)
    return {"baseline_s": baseline_s, "new_s": new_s, "ratio": new_s / baseline_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", type=int, default=7, help="figures on the page (a GAN report has 7)")
    parser.add_argument("--figure-kb", type=int, default=400, help="kilobytes of each figure before base64")
    parser.add_argument("--repeats", type=int, default=3, help="renderings of each page (the median is kept)")
    parser.add_argument("--size", choices=("study", "demo"), default="study", help="the network exported")
    parser.add_argument("--only", choices=("page", "export"), help="time one of the two")
    args = parser.parse_args()
    torch.set_num_threads(1)
    figures: dict[str, dict] = {}
    if args.only in (None, "page"):
        figures["page"] = page_seconds(figures=args.figures, figure_kb=args.figure_kb, repeats=args.repeats)
        print(f"page with {args.figures} figures of {args.figure_kb} KB: {_line(figures['page'])}")
    if args.only in (None, "export"):
        figures["export"] = export_seconds(size=args.size)
        print(f"ONNX export of the {args.size} network, one thread: {_line(figures['export'])}")
    print(json.dumps({name: _rounded(values) for name, values in figures.items()}))


def _rounded(values: dict) -> dict:
    return {key: value if isinstance(value, bool) else round(value, 3) for key, value in values.items()}


def _line(values: dict) -> str:
    return f"baseline {values['baseline_s']:.2f} s, new {values['new_s']:.2f} s, ratio {values['ratio']:.2f}"


if __name__ == "__main__":
    main()
