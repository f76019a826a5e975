"""``eltrepro gan``: the project's own GAN models, trained on the twin (``gan train-twin``).

Settings come from a TOML or JSON file of ``TwinGanConfig`` sections (``generator``, ``discriminator``, ``faces``,
``train``) or its defaults; every mistake is one line before any face is drawn.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

import typer

from elt_cli.console import console
from elt_cli.options import check_out_folder, parse_int
from landmark_core.config import ConfigError, from_dict, load_config, to_dict

gan_app = typer.Typer(help="The project's own GAN models, trained on the synthetic twin.", no_args_is_help=True)


def _config(path: Path | None, steps: str | None):
    from gan_core.twin_gan import TwinGanConfig

    config = load_config(TwinGanConfig, path) if path else TwinGanConfig()
    given = parse_int(steps, option="--steps", minimum=1)
    if given is None:
        return config
    data = to_dict(config)
    return from_dict(TwinGanConfig, data | {"train": data["train"] | {"steps": given}}, where="--steps")


@gan_app.command("train-twin")
def train_twin(
    out: Path = typer.Option(
        ..., help="The training's folder: config.json, state.pt, losses.csv, generator.pt, MANIFEST.toml."
    ),
    config: Path = typer.Option(None, help="TOML or JSON file with TwinGanConfig sections (defaults otherwise)."),
    steps: str = typer.Option(None, help="Train to this many steps (overrides train.steps; more steps go on)."),
    checkpoint_every: str = typer.Option("200", help="Steps between checkpoints (a stopped run resumes there)."),
    threads: str = typer.Option(None, help="CPU threads for torch (default: torch's own choice)."),
) -> None:
    """Train the twin GAN (a small StyleGAN2 on FFHQ-aligned twin faces), or go on with a stopped training."""
    check_out_folder(out)
    settings = _config(config, steps)
    every = parse_int(checkpoint_every, option="--checkpoint-every", minimum=1)
    n_threads = parse_int(threads, option="--threads", minimum=1)
    import torch

    from gan_core.twin_gan import start_or_resume, train_twin_gan

    if n_threads:
        torch.set_num_threads(n_threads)
    try:
        done = start_or_resume(config=settings, folder=out).step
    except ValueError as error:
        raise ConfigError(str(error)) from None
    console.print(f"twin GAN in {out}: step {done} of {settings.train.steps}; drawing {settings.faces.count} faces")
    started = time.monotonic()

    def report(losses) -> None:
        if losses.step % 50 == 0 or losses.step + 1 == settings.train.steps:
            rate = (losses.step + 1 - done) / max(time.monotonic() - started, 1e-9)
            console.print(
                f"step {losses.step + 1}: G {losses.generator:.3f}  D {losses.discriminator:.3f}  ({rate:.2f} steps/s)"
            )

    commit = _commit()
    state = train_twin_gan(config=settings, folder=out, checkpoint_every=every, on_step=report)
    console.print(f"done: {out / 'generator.pt'} ({time.monotonic() - started:.0f} s)")
    if commit is None:
        console.print("not a git checkout: no MANIFEST.toml written (it names the commit that made the model)")
        return
    given = {"--out": out, "--config": config, "--steps": steps, "--threads": threads}
    command = ["eltrepro", "gan", "train-twin", *(f"{k}={v}" for k, v in given.items() if v is not None)]
    _write_manifest(out, state, commit, shlex.join(command))


def _commit() -> str | None:
    """The checkout's commit (``-dirty`` with uncommitted changes), or None outside a git checkout."""
    root = Path(__file__).resolve().parents[1]
    try:
        found = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=40"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return found.stdout.strip()


def _write_manifest(out: Path, state, commit: str, command: str) -> None:
    """``out/MANIFEST.toml``: the generator's digest, the command (the options that shape the model), its settings
    file, the commit, the time and the final losses."""
    from gan_core.twin_gan import CHECKED_STEPS, final_losses
    from landmark_core.download import sha256_file
    from landmark_core.model_manifest import ModelEntry, write_manifest

    entry = ModelEntry(
        file="generator.pt",
        sha256=sha256_file(out / "generator.pt"),
        command=command,
        settings="config.json",
        commit=commit,
        seconds=round(state.seconds, 3),
        losses={k: round(v, 5) for k, v in final_losses(state=state).items()},
        first_losses=tuple(
            {"generator": round(s.generator, 6), "discriminator": round(s.discriminator, 6)}
            for s in state.losses[:CHECKED_STEPS]
        ),
    )
    console.print(f"provenance: {write_manifest(folder=out, entries=[entry])}")


TWIN_LANDMARK_SETTINGS = Path(__file__).resolve().parents[1] / "gan_core" / "twin_models" / "landmarks.toml"


@gan_app.command("train-twin-landmarks")
def train_twin_landmarks_command(
    out: Path = typer.Option(..., help="The training's folder: data/, run/, check/, landmarks.pt, MANIFEST.toml."),
    config: Path = typer.Option(None, help="TrainConfig sections (default: gan_core/twin_models/landmarks.toml)."),
    train_faces: str = typer.Option("2000", help="Training portraits (a tenth of them validate)."),
    test_faces: str = typer.Option("200", help="Test portraits (seeds from 1,500,000)."),
    threads: str = typer.Option(None, help="CPU threads for torch (default: torch's own choice)."),
) -> None:
    """Train the twin landmark model (landmarks on FFHQ-aligned twin faces at the GAN's size), or go on with it."""
    check_out_folder(out)
    n_train = parse_int(train_faces, option="--train-faces", minimum=20)
    n_test = parse_int(test_faces, option="--test-faces", minimum=1)
    n_threads = parse_int(threads, option="--threads", minimum=1)
    from landmark_core.train_config import TrainConfig

    settings = load_config(TrainConfig, config or TWIN_LANDMARK_SETTINGS)
    import shutil

    import torch

    from gan_core.twin_landmarks import CHECK_STEPS, train_twin_landmarks

    if n_threads:
        torch.set_num_threads(n_threads)
    commit, started = _commit(), time.monotonic()
    console.print(
        f"twin landmark model in {out}: {n_train} training and {n_test} test faces at {settings.augment.size} px"
    )
    done = train_twin_landmarks(
        config=settings, folder=out, train_faces=n_train, test_faces=n_test, device=torch.device("cpu")
    )
    for record in done.history:
        console.print(f"epoch {record.epoch}: loss {record.loss:.4f}  val NME {100 * record.val_nme:.2f} %")
    console.print(f"test NME {100 * done.test_nme:.2f} % ({time.monotonic() - started:.0f} s)")
    shutil.copyfile(done.checkpoint, out / "landmarks.pt")
    shutil.copyfile(config or TWIN_LANDMARK_SETTINGS, out / "landmarks.toml")
    if commit is None:
        console.print("not a git checkout: no MANIFEST.toml written (it names the commit that made the model)")
        return
    given = {"--out": out, "--config": config, "--train-faces": train_faces, "--test-faces": test_faces}
    command = ["eltrepro", "gan", "train-twin-landmarks", *(f"{k}={v}" for k, v in given.items() if v is not None)]
    from landmark_core.download import sha256_file
    from landmark_core.model_manifest import ModelEntry, write_manifest

    entry = ModelEntry(
        file="landmarks.pt",
        sha256=sha256_file(out / "landmarks.pt"),
        command=shlex.join(command),
        settings="landmarks.toml",
        commit=commit,
        seconds=round(sum(r.seconds for r in done.history), 3),
        losses={
            "loss": round(done.history[-1].loss, 6),
            "val_nme": round(done.history[-1].best_val_nme, 6),
            "test_nme": round(done.test_nme, 6),
        },
        first_losses=({"loss": round(done.check_loss, 6), "steps": float(CHECK_STEPS)},),
    )
    console.print(f"provenance: {write_manifest(folder=out, entries=[entry])}")


def register(app: typer.Typer) -> None:
    """Add ``eltrepro gan`` to the main app."""
    app.add_typer(gan_app, name="gan")
