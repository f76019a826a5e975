"""``eltrepro fetch-all``: every dataset and published weight a profile uses, downloaded and pinned."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import typer

from elt_cli.console import console
from elt_cli.options import progress_printer


def fetch_all(
    profile: str = typer.Option("thesis", help="A profile name in elt_study/profiles/ or a path to a .toml profile."),
    trust_first_download: bool = typer.Option(
        False, help="Pin the digest of files the project has none for (WFLW, LFW parts and some weights)."
    ),
    mirror: str = typer.Option(None, help="One base URL for every file (<mirror>/<file name>), e.g. a lab mirror."),
) -> None:
    """Download, verify and pin every dataset and published weight the profile uses (resumable)."""
    from elt_cli.preflight import needed_weights
    from elt_study.run_profile import load_profile, profile_path
    from gan_core.lfw_parts import LFW_PARTS_FILES
    from landmark_core.download import WFLW_FILES, fetch_files
    from tasks.published_weights import fetch_weights

    prof = load_profile(profile_path(profile))
    progress = progress_printer()
    jobs: list[tuple[str, Callable[[], object]]] = []
    if prof.wflw is not None:
        wflw = prof.wflw
        trusted = trust_first_download or wflw.trust_first_download
        job = partial(fetch_files, files=WFLW_FILES, dest=Path(wflw.dest), mirror=mirror or wflw.mirror)
        jobs.append(("WFLW", partial(job, sha256=dict(wflw.sha256), trust_first_download=trusted, progress=progress)))
    gan = prof.gan
    if gan is not None and gan.segment_train.data == "lfw":
        lfw = gan.segment_train
        trusted = trust_first_download or lfw.lfw_trust_first_download
        job = partial(fetch_files, files=LFW_PARTS_FILES, dest=Path(lfw.lfw_dest), mirror=mirror or lfw.lfw_mirror)
        jobs.append(("LFW Part Labels", partial(job, trust_first_download=trusted, progress=progress)))
    names = needed_weights(prof)
    if gan is not None and gan.segment_train.data == "lfw" and gan.segment_train.vgg16_weights:
        names.append("vgg16-keras-notop")
    if names:
        job = partial(fetch_weights, names=names, dest=Path(gan.weights_dir or "data/weights"), mirror=mirror)
        jobs.append(("weights", partial(job, trust_first_download=trust_first_download, progress=progress)))
    for what, job in jobs:
        report = job()
        for name, action in report.actions.items():
            console.print(f"{what}: {name}: {action} (sha256 {report.sha256[name]})")
    console.print(f"fetch-all: profile {profile}: {len(jobs)} download set(s) ready")


def register(app: typer.Typer) -> None:
    """Add ``eltrepro fetch-all`` to the main app."""
    app.command("fetch-all")(fetch_all)
