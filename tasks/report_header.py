"""The report's header: what was run, on what, for how long, by which code; and what the numbers can mean.

Everything here is read from the stage outputs the report was given (their ``stage.json``): the profile's
name, the data source and its face counts, the network and its size, the epochs each run trained and why it
stopped, the seeds, the device, the wall time of each stage (as recorded when the output was computed: a cached
output keeps its first time), the code versions and the date the report was made.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime

from kit.store import StageOutput
from landmark_core.config import from_dict
from landmark_core.model import CascadedLandmarkNet, parameter_count
from landmark_core.train_config import ModelConfig

TWIN_WARNING = (
    "**The data is the synthetic twin**, not WFLW: rendered faces with WFLW's file format, landmark order and "
    "subset flags. Its numbers show that every stage runs and how the rows compare on these faces; they are "
    "not comparable with the study's values printed beside them (the study's are on the real WFLW test "
    "split), and a small demo network trained for a few epochs on CPU is not the study's network."
)
STUDY_NETWORK = ModelConfig()
MADE_LINE = "- **Made**:"
WALL_TIME_TITLE = "## Wall time per stage"


def header_markdown(
    *,
    profile: str,
    runs: tuple[tuple[str, str, int], ...],
    trainings: Mapping[str, StageOutput],
    evaluations: Mapping[str, StageOutput],
    inputs: Mapping[str, StageOutput | None],
) -> str:
    """The header section (Markdown).

    Args:
        profile: the profile's name.
        runs: (family member, row, seed) of every run.
        trainings, evaluations: the runs' training and evaluation outputs.
        inputs: the other stage outputs the report read (data stages, GAN branch), by input name.
    """
    dataset = inputs.get("dataset")
    twin = dataset is not None and dataset.stage == "synth_wflw"
    given = [o for o in inputs.values() if o is not None]
    meta = {(o.stage, o.key): o.metadata() for o in [*given, *trainings.values(), *evaluations.values()]}  # once

    def metas(outputs) -> list[dict]:
        return [meta[(o.stage, o.key)] for o in outputs]

    trained, evaluated, other = metas(trainings.values()), metas(evaluations.values()), metas(given)
    lines = [
        "# ELT-Repro report",
        "",
        f"- **Profile**: `{profile or '(unnamed)'}`",
        f"{MADE_LINE} {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- **Data**: {_data_line(dataset, inputs.get('index'))}",
        f"- **Network**: {_network_line(trained)}",
        f"- **Seeds**: {_seeds_line(runs)}",
        f"- **Device**: {_device_line(trained + evaluated)}",
        f"- **Code**: {_code_line(trained + evaluated + other)}",
        "",
    ]
    if twin:
        lines += [f"> {TWIN_WARNING}", ""]
    by_run = dict(zip(trainings, trained, strict=True))
    lines += ["## Runs: epochs trained and why each stopped", "", *_epochs_table(runs, by_run), ""]
    lines += [WALL_TIME_TITLE, "", *_wall_table(other + trained + evaluated), ""]
    return "\n".join(lines)


def without_machine_facts(markdown: str) -> str:
    """A report's Markdown without the lines that say when it was made and how long its stages took: what is
    left depends only on the stage outputs, so two stores with the same key give the same text."""
    lines = [line for line in markdown.splitlines() if not line.startswith(MADE_LINE)]
    start = lines.index(WALL_TIME_TITLE) if WALL_TIME_TITLE in lines else len(lines)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return "\n".join(lines[:start] + lines[end:])


def _data_line(dataset: StageOutput | None, index: StageOutput | None) -> str:
    if dataset is None:
        return "not given"
    source = "the synthetic twin (`synth_wflw`)" if dataset.stage == "synth_wflw" else f"WFLW (`{dataset.stage}`)"
    if index is None:
        return source
    counts = index.manifest()["split"].value_counts()
    return source + ", " + ", ".join(f"{int(counts.get(s, 0))} {s} faces" for s in ("train", "test"))


def _network_line(trained: list[dict]) -> str:
    if not trained:
        return "no training output given"
    shapes = {}
    for meta in trained:
        model = meta["config"]["model"]
        shapes[repr(model)] = model
    parts = []
    for model in shapes.values():
        config = from_dict(ModelConfig, model, where="training config")
        params = parameter_count(CascadedLandmarkNet(config))
        which = "the study's network" if config == STUDY_NETWORK else "a smaller network than the study's"
        parts.append(
            f"{which}: {config.stages}-stage cascade, {config.size}x{config.size} input and heatmaps, encoder "
            f"{list(config.encoder_channels)}, {params / 1e6:.2f} M parameters"
        )
    return "; ".join(parts)


def _seeds_line(runs: tuple[tuple[str, str, int], ...]) -> str:
    seeds: dict[str, list[int]] = defaultdict(list)
    for _, row, seed in runs:
        seeds[row].append(seed)
    groups: dict[tuple[int, ...], list[str]] = defaultdict(list)
    for row, values in seeds.items():
        groups[tuple(values)].append(f"`{row}`")
    return "; ".join(f"{list(s)} for {', '.join(rows)}" for s, rows in groups.items()) or "none"


def _device_line(metas: list[dict]) -> str:
    devices = {meta["info"].get("device", "not recorded") for meta in metas}
    return ", ".join(sorted(devices)) or "none"


def _code_line(metas: list[dict]) -> str:
    versions: dict[str, set[str]] = defaultdict(set)
    for meta in metas:
        versions[meta["stage"]].add(meta["code_version"])
    text = ", ".join(f"{stage} {'/'.join(sorted(v))}" for stage, v in versions.items())
    return f"code versions (digests of each stage's source): {text}" if text else "not recorded"


def _epochs_table(runs: tuple[tuple[str, str, int], ...], trained: Mapping[str, dict]) -> list[str]:
    lines = ["| run | row | seed | epochs | best epoch | why it stopped |", "|---|---|---|---|---|---|"]
    for member, row, seed in runs:
        if member not in trained:
            continue
        config, info = trained[member]["config"], trained[member]["info"]
        epochs = int(info["epochs"])
        lines.append(
            f"| `{member}` | `{row}` | {seed} | {epochs} | {info['best_epoch']} | {stop_reason(config, epochs)} |"
        )
    return lines


def stop_reason(config: Mapping, epochs: int) -> str:
    """Why a run stopped after ``epochs`` epochs, from its config (a ``TrainConfig`` as saved in ``stage.json``).

    Args:
        config: the run's training config as plain data.
        epochs: the epochs it trained.
    """
    if config.get("lr_schedule") == "cosine":
        return f"the cosine schedule's fixed budget (max_epochs = {config['max_epochs']})"
    if epochs >= config["max_epochs"]:
        return f"the epoch cap (max_epochs = {config['max_epochs']}) before the plateau rule"
    patience = config["patience"]
    return f"the plateau rule (lr at min_lr {config['min_lr']:g}, no better validation NME for {patience} epochs)"


def _wall_table(metas: list[dict]) -> list[str]:
    seconds: dict[str, list[float]] = defaultdict(list)
    for meta in metas:
        seconds[meta["stage"]].append(float(meta.get("timings", {}).get("seconds", 0.0)))
    lines = ["| stage | outputs | wall time (s) |", "|---|---|---|"]
    lines += [f"| {stage} | {len(v)} | {sum(v):.1f} |" for stage, v in seconds.items()]
    return lines
