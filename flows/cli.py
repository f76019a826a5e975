"""The ``eltrepro`` command line."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from flows.train_cli import register as register_training
from landmark_core.atomic import atomic_write
from landmark_core.download import WFLW_FILES, DownloadError, fetch_files
from landmark_core.subsets import SubsetConfig, compute_subsets, subset_table
from landmark_core.synth.dataset import SynthConfig, synthesize_wflw
from landmark_core.wflw_index import index_wflw
from tasks.data import default_workers, index_stage, subsets_stage, synth_stage
from tasks.stage import StageOutput, Store

app = typer.Typer(help="ELT-Repro: reproduce the ELT + GAN-relighting facial-landmark study.", no_args_is_help=True)
data_app = typer.Typer(help="WFLW data: fetch, synthesise, index.", no_args_is_help=True)
app.add_typer(data_app, name="data")
register_training(app)
console = Console(width=None if sys.stdout.isatty() else 120)

DEFAULT_STORE = Path("artifacts")


def _print_subsets(table: pd.DataFrame, title: str) -> None:
    view = Table(title=title)
    view.add_column("subset")
    for split in table.columns:
        view.add_column(split, justify="right")
    for name, row in table.iterrows():
        view.add_row(str(name), *(str(v) for v in row))
    console.print(view)


@data_app.command("synth")
def data_synth(
    out: Path = typer.Option(..., help="Destination folder (WFLW layout)."),
    train: int = typer.Option(600, help="Training images."),
    test: int = typer.Option(200, help="Test images."),
    seed: int = typer.Option(0, help="Random seed; the same seed gives the same files."),
    workers: int = typer.Option(0, help="Rendering processes (0: one per core, at most 8)."),
) -> None:
    """Render the synthetic WFLW twin in the exact WFLW on-disk layout."""
    started = time.perf_counter()
    counts = synthesize_wflw(
        out=out, config=SynthConfig(train=train, test=test, seed=seed), workers=workers or default_workers()
    )
    console.print(f"wrote {counts} faces to {out} in {time.perf_counter() - started:.1f} s")


@data_app.command("index")
def data_index(
    root: Path = typer.Option(..., help="WFLW root holding WFLW_images/ and WFLW_annotations/."),
    out: Path = typer.Option(..., help="Folder for faces.parquet and quarantine.parquet."),
    pose: bool = typer.Option(True, help="Also estimate head pose and add the frontal subsets."),
) -> None:
    """Index a WFLW root: faces.parquet (one row per face) and quarantine.parquet (rejected lines)."""
    try:
        result = index_wflw(root=root)
    except FileNotFoundError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    faces = result.faces
    if pose:
        extra = compute_subsets(faces=faces, config=SubsetConfig())
        faces = faces.drop(columns=[c for c in faces.columns if c.startswith("in_")]).merge(
            extra.drop(columns=["split"]), on="face_id"
        )
    out.mkdir(parents=True, exist_ok=True)
    _atomic_parquet(faces, out / "faces.parquet")
    _atomic_parquet(result.quarantine, out / "quarantine.parquet")
    counts = faces["split"].value_counts().to_dict()
    console.print(f"indexed {len(faces)} faces {counts}; quarantined {len(result.quarantine)} lines")
    for reason, n in result.quarantine["reason"].str.split(":").str[0].value_counts().items():
        console.print(f"  quarantined: {n} x {reason}")
    if pose:
        _print_subsets(subset_table(faces), "faces per subset")


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


@data_app.command("fetch")
def data_fetch(
    dest: Path = typer.Option(..., help="Destination folder for the archives and the extracted WFLW root."),
    mirror: str = typer.Option(None, help="Base URL replacing the official locations (<mirror>/<file name>)."),
    sha256: list[str] = typer.Option([], help="NAME=HEX digest for a file (repeatable)."),
    trust_first_download: bool = typer.Option(False, help="Pin the digest of files the project has none for."),
) -> None:
    """Download and extract the real WFLW images and annotations (resumable, checksummed, safe)."""
    digests = dict(item.split("=", 1) for item in sha256)
    last: dict[str, float] = {}

    def progress(name: str, done: int, total: int | None) -> None:
        if time.monotonic() - last.get(name, 0.0) > 2.0:
            last[name] = time.monotonic()
            console.print(f"  {name}: {done / 1e6:.1f} MB" + (f" of {total / 1e6:.1f} MB" if total else ""))

    try:
        report = fetch_files(
            files=WFLW_FILES, dest=dest, mirror=mirror, sha256=digests,
            trust_first_download=trust_first_download, progress=progress,
        )  # fmt: skip
    except DownloadError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from error
    for name, action in report.actions.items():
        console.print(f"{name}: {action} (sha256 {report.sha256[name]})")


@app.command("run")
def run(
    profile: str = typer.Option("demo", help="A profile name in flows/profiles/ (demo), or a path to a .toml profile."),
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store: a local path or an fsspec URL."),
    experiments: str = typer.Option(None, help="Comma-separated matrix rows to train (default: all)."),
) -> None:
    """Run the Prefect DAG of a profile in-process: data -> index -> subsets -> train/evaluate per row."""
    from flows.reproduce import reproduce  # Prefect is imported only by the commands that use it

    rows = [r.strip() for r in experiments.split(",")] if experiments else None
    started = time.perf_counter()
    try:
        by_path = {"profile_file": profile} if profile.endswith(".toml") else {"profile": profile}
        refs = reproduce(store=store, experiments=rows, **by_path)
    except (ValueError, FileNotFoundError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    report = refs.pop("report")["report"].output().local_dir()
    for name, outputs in refs.items():
        console.print(f"{name}: " + ", ".join(f"{k} {v.stage}/{v.key}" for k, v in outputs.items()))
    console.print(f"report: {report / 'report.md'} (also report.html, tables/*.csv)")
    console.print(f"done in {time.perf_counter() - started:.1f} s (store {store})")


@app.command("demo")
def demo(
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store: a local path or an fsspec URL."),
    train: int = typer.Option(600, help="Synthetic training images."),
    test: int = typer.Option(200, help="Synthetic test images."),
    seed: int = typer.Option(0, help="Random seed of the synthetic twin."),
) -> None:
    """Run the pipeline that exists so far on the synthetic twin: synthesise -> index -> subsets."""
    target = Store(store)
    console.print(f"demo profile: synthetic WFLW twin ({train} train / {test} test images, seed {seed}), store {store}")
    started = time.perf_counter()
    dataset = _report(*synth_stage(store=target, config=SynthConfig(train=train, test=test, seed=seed),
                                   workers=default_workers()))  # fmt: skip
    index = _report(*index_stage(store=target, dataset=dataset))
    subsets = _report(*subsets_stage(store=target, index=index, config=SubsetConfig()))
    _print_subsets(subset_table(subsets.manifest()), "faces per subset (frontal: |yaw|, |pitch|, |roll| < 12.5 deg)")
    console.print(f"done in {time.perf_counter() - started:.1f} s. Training and evaluation: `eltrepro run` (the "
                  "Prefect flow over the experiment matrix) or `eltrepro train` / `evaluate` (see README); the "
                  "report tables and the GAN branch come with their issues.")  # fmt: skip


def _report(output: StageOutput, computed: bool) -> StageOutput:
    meta = output.metadata()
    verb = f"computed in {meta['timings']['seconds']:.1f} s" if computed else "cached (already complete)"
    counts = meta["counts"]
    console.print(
        f"  {output.stage:<11} {verb:<28} key {output.key}  rows {counts['rows']}, quarantined {counts['quarantined']}"
    )
    return output


if __name__ == "__main__":
    app()
