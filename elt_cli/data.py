"""``eltrepro data``: synthesise the twin, index a WFLW root, fetch the real WFLW."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from elt_cli.console import console
from elt_cli.options import parse_digests, progress_printer
from landmark_core.config import ConfigError

data_app = typer.Typer(help="WFLW data: fetch, synthesise, index.", no_args_is_help=True)


@data_app.command("synth")
def data_synth(
    out: Path = typer.Option(..., help="Destination folder (WFLW layout)."),
    train: int = typer.Option(600, help="Training images."),
    test: int = typer.Option(200, help="Test images."),
    seed: int = typer.Option(0, help="Random seed; the same seed gives the same files."),
    workers: int = typer.Option(0, help="Rendering processes (0: one per core, at most 8)."),
) -> None:
    """Render the synthetic WFLW twin in the exact WFLW on-disk layout."""
    from landmark_core.config import from_dict
    from landmark_core.synth.dataset import SynthConfig, synthesize_wflw
    from tasks.dataset_tree import default_workers

    if workers < 0:
        raise ConfigError(f"--workers {workers}: expected 0 (one per core) or more rendering processes")
    config = from_dict(SynthConfig, {"train": train, "test": test, "seed": seed}, where="options")
    started = time.perf_counter()
    counts = synthesize_wflw(out=out, config=config, workers=workers or default_workers())
    console.print(f"wrote {counts} faces to {out} in {time.perf_counter() - started:.1f} s")


@data_app.command("index")
def data_index(
    root: Path = typer.Option(..., help="WFLW root holding WFLW_images/ and WFLW_annotations/."),
    out: Path = typer.Option(..., help="Folder for faces.parquet and quarantine.parquet."),
    pose: bool = typer.Option(True, help="Also estimate head pose and add the frontal subsets."),
) -> None:
    """Index a WFLW root: faces.parquet (one row per face) and quarantine.parquet (rejected lines)."""
    from landmark_core.atomic import atomic_write
    from landmark_core.subsets import STUDY_TEST_COUNTS, SubsetConfig, compute_subsets, subset_table
    from landmark_core.wflw_index import index_wflw

    if not root.is_dir():
        raise ConfigError(f"{root}: no such folder")
    result = index_wflw(root=root)
    faces = result.faces
    if pose:
        extra = compute_subsets(faces=faces, config=SubsetConfig())
        faces = faces.drop(columns=[c for c in faces.columns if c.startswith("in_")]).merge(
            extra.drop(columns=["split"]), on="face_id"
        )
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("faces", faces), ("quarantine", result.quarantine)):
        atomic_write(out / f"{name}.parquet", lambda tmp, frame=frame: frame.to_parquet(tmp, index=False))
    counts = faces["split"].value_counts().to_dict()
    console.print(f"indexed {len(faces)} faces {counts}; quarantined {len(result.quarantine)} lines")
    for reason, n in result.quarantine["reason"].str.split(":").str[0].value_counts().items():
        console.print(f"  quarantined: {n} x {reason}")
    if pose:
        table = subset_table(faces)
        table["study (test)"] = [STUDY_TEST_COUNTS.get(name, "") for name in table.index]
        _print_table(table, "faces per subset", "subset")
        no_pose = faces[faces["pose_status"] != "ok"]
        if len(no_pose):
            console.print(
                f"  {len(no_pose)} face(s) without a head pose (NaN angles, not frontal), e.g. "
                f"{no_pose['face_id'].iloc[0]}: {no_pose['pose_status'].iloc[0]}"
            )


def _print_table(table, title: str, index_name: str) -> None:
    from rich.table import Table

    view = Table(title=title)
    view.add_column(index_name)
    for column in table.columns:
        view.add_column(str(column), justify="right")
    for name, row in table.iterrows():
        view.add_row(str(name), *(str(v) for v in row))
    console.print(view)


@data_app.command("fetch")
def data_fetch(
    dest: Path = typer.Option(..., help="Destination folder for the archives and the extracted WFLW root."),
    mirror: str = typer.Option(None, help="Base URL replacing the official locations (<mirror>/<file name>)."),
    sha256: list[str] = typer.Option([], help="NAME=HEX digest for a file (repeatable)."),
    trust_first_download: bool = typer.Option(False, help="Pin the digest of files the project has none for."),
) -> None:
    """Download and extract the real WFLW images and annotations (resumable, checksummed, safe)."""
    digests = parse_digests(sha256)
    from tasks.download_wflw import WflwSourceConfig, fetch_wflw

    source = WflwSourceConfig(
        dest=str(dest), mirror=mirror, sha256=tuple(sorted(digests.items())), trust_first_download=trust_first_download
    )
    config, actions = fetch_wflw(source, progress=progress_printer())
    for name, digest in config.sha256:
        console.print(f"{name}: {actions[name]} (sha256 {digest})")


def register(app: typer.Typer) -> None:
    """Add ``eltrepro data`` to the main app."""
    app.add_typer(data_app, name="data")
