"""``eltrepro gan``: the project's own GAN models, trained on the twin (``gan train-twin``).

Settings come from a TOML or JSON file of ``TwinGanConfig`` sections (``generator``, ``discriminator``, ``faces``,
``train``) or its defaults; every mistake is one line before any face is drawn.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from elt_cli.console import console
from elt_cli.model_record import git_commit, record_model
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

    from gan_core.twin_gan import CHECKED_STEPS, final_losses, start_or_resume, train_twin_gan

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

    commit = git_commit()
    state = train_twin_gan(config=settings, folder=out, checkpoint_every=every, on_step=report)
    console.print(f"done: {out / 'generator.pt'} ({time.monotonic() - started:.0f} s)")
    record_model(
        out=out,
        file="generator.pt",
        settings="config.json",
        command=["eltrepro", "gan", "train-twin"],
        given={"--out": out, "--config": config, "--steps": steps, "--threads": threads},
        commit=commit,
        seconds=state.seconds,
        losses={k: round(v, 5) for k, v in final_losses(state=state).items()},
        first_losses=tuple(
            {"generator": round(s.generator, 6), "discriminator": round(s.discriminator, 6)}
            for s in state.losses[:CHECKED_STEPS]
        ),
    )


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

    from gan_core.twin_landmarks import CHECK_STEPS, train_twin_landmarks, write_model_file

    if n_threads:
        torch.set_num_threads(n_threads)
    commit, started = git_commit(), time.monotonic()
    console.print(
        f"twin landmark model in {out}: {n_train} training and {n_test} test faces at {settings.augment.size} px"
    )
    done = train_twin_landmarks(
        config=settings, folder=out, train_faces=n_train, test_faces=n_test, device=torch.device("cpu")
    )
    for record in done.history:
        console.print(f"epoch {record.epoch}: loss {record.loss:.4f}  val NME {100 * record.val_nme:.2f} %")
    console.print(f"test NME {100 * done.test_nme:.2f} % ({time.monotonic() - started:.0f} s)")
    write_model_file(checkpoint=done.checkpoint, path=out / "landmarks.pt")
    shutil.copyfile(config or TWIN_LANDMARK_SETTINGS, out / "landmarks.toml")
    last = done.history[-1]
    record_model(
        out=out,
        file="landmarks.pt",
        settings="landmarks.toml",
        command=["eltrepro", "gan", "train-twin-landmarks"],
        given={
            "--out": out,
            "--config": config,
            "--train-faces": train_faces,
            "--test-faces": test_faces,
            "--threads": threads,
        },
        commit=commit,
        seconds=sum(r.seconds for r in done.history),
        losses={
            "loss": round(last.loss, 6),
            "val_nme": round(last.best_val_nme, 6),
            "test_nme": round(done.test_nme, 6),
        },
        first_losses=({"loss": round(done.check_loss, 6), "steps": float(CHECK_STEPS)},),
    )


@gan_app.command("train-twin-flow")
def train_twin_flow_command(
    out: Path = typer.Option(..., help="The training's folder: flow.json, pairs.csv, flow.pt, MANIFEST.toml."),
    dpr: Path = typer.Option(None, help='DPR\'s published weights (trained_model_03.t7), for lighting = "dpr".'),
    config: Path = typer.Option(None, help="TOML or JSON file with TwinFlowConfig sections (defaults otherwise)."),
    models: Path = typer.Option(None, help="The twin models' folder (default: the committed gan_core/twin_models)."),
    threads: str = typer.Option(None, help="CPU threads for torch (default: torch's own choice)."),
) -> None:
    """Train the twin lighting flow (StyleFlow's CNF on the twin GAN's samples, by maximum likelihood)."""
    check_out_folder(out)
    n_threads = parse_int(threads, option="--threads", minimum=1)
    if dpr is not None and not dpr.is_file():
        raise ConfigError(f"--dpr {dpr}: no such file")
    from gan_core.twin_flow import TwinFlowConfig

    settings = load_config(TwinFlowConfig, config) if config else TwinFlowConfig()
    if (settings.lighting == "dpr") != (dpr is not None):
        raise ConfigError(f'lighting = {settings.lighting!r}: --dpr is needed with "dpr" and only with it')
    import json

    import torch

    from gan_core.dpr import load_dpr
    from gan_core.twin_flow import flow_pairs, train_twin_flow, write_pairs
    from gan_core.twin_gan import CHECKED_STEPS
    from gan_core.twin_models import TWIN_MODELS, load_committed_generator, load_committed_landmarks

    if n_threads:
        torch.set_num_threads(n_threads)
    folder = models or TWIN_MODELS
    generator = load_committed_generator(folder=folder)
    if settings.flow.dim != generator.config.style_dim:
        raise ConfigError(f"flow.dim = {settings.flow.dim}: the twin GAN's style size is {generator.config.style_dim}")
    landmark_model, landmark_config = load_committed_landmarks(folder=folder)
    commit, started = git_commit(), time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    (out / "flow.json").write_text(json.dumps(to_dict(settings), indent=2, sort_keys=True))
    console.print(f"twin flow in {out}: measuring {settings.samples} samples of the twin GAN")
    pairs = flow_pairs(
        generator=generator,
        landmark_model=landmark_model,
        landmark_config=landmark_config,
        dpr=load_dpr(dpr) if dpr is not None else None,
        count=settings.samples,
        seed=settings.seed,
    )
    write_pairs(pairs=pairs, path=out / "pairs.csv")
    console.print(f"{len(pairs.indices)} pairs; {len(pairs.left_out)} samples left out (no head pose or lighting)")
    flow, losses = train_twin_flow(pairs=pairs, config=settings)
    torch.save(flow.state_dict(), out / "flow.pt")
    final = sum(losses[-50:]) / len(losses[-50:])
    console.print(f"done: {out / 'flow.pt'}; NLL {losses[0]:.3f} -> {final:.3f} nats per dimension")
    record_model(
        out=out,
        file="flow.pt",
        settings="flow.json",
        command=["eltrepro", "gan", "train-twin-flow"],
        given={"--out": out, "--dpr": dpr, "--config": config, "--models": models, "--threads": threads},
        commit=commit,
        seconds=time.monotonic() - started,
        losses={"nll_per_dim": round(final, 6)},
        first_losses=tuple({"nll_per_dim": round(v, 6)} for v in losses[:CHECKED_STEPS]),
        inputs=("pairs.csv",),
    )


@gan_app.command("train-twin-encoder")
def train_twin_encoder_command(
    out: Path = typer.Option(..., help="The training's folder: encoder.json, encoder.pt, MANIFEST.toml."),
    config: Path = typer.Option(None, help="TOML or JSON file with TwinEncoderConfig sections (defaults otherwise)."),
    models: Path = typer.Option(None, help="The twin models' folder (default: the committed gan_core/twin_models)."),
    threads: str = typer.Option(None, help="CPU threads for torch (default: torch's own choice)."),
) -> None:
    """Train the twin W+ encoder (the projector's encoder start) on codes the twin GAN renders itself."""
    check_out_folder(out)
    n_threads = parse_int(threads, option="--threads", minimum=1)
    from gan_core.w_encoder_train import TwinEncoderConfig

    settings = load_config(TwinEncoderConfig, config) if config else TwinEncoderConfig()
    import torch

    from gan_core.twin_models import TWIN_MODELS, load_committed_generator

    if n_threads:
        torch.set_num_threads(n_threads)
    generator = load_committed_generator(folder=models or TWIN_MODELS)
    given = {"--out": out, "--config": config, "--models": models, "--threads": threads}
    _train_encoder(generator=generator, settings=settings, out=out, command="train-twin-encoder", given=given)


@gan_app.command("train-encoder")
def train_encoder_command(
    generator: str = typer.Option(..., help="The published generator's name (ffhq-1024), or random (a stand-in)."),
    weights_dir: Path = typer.Option(..., help="The weights folder: the generator is read and the encoder installed."),
    out: Path = typer.Option(..., help="The training's folder: encoder.json, encoder.pt, MANIFEST.toml."),
    config: Path = typer.Option(None, help="TOML or JSON file with TwinEncoderConfig sections (defaults otherwise)."),
    device: str = typer.Option("auto", help="auto, cpu or cuda[:n] (a GPU job for ffhq-1024)."),
) -> None:
    """Train a W+ encoder for a published generator and install it in the weights folder under its digest.

    The project stage starts from it with projector.init = "encoder" and encoder_sha256 = the printed digest.
    For ffhq-1024 this is a GPU job: each step renders 2 x batch codes and back-propagates once through the
    generator (3 x batch generator evaluations); elt_study/encoders/ffhq-1024.toml and the README give the cost.
    """
    check_out_folder(out)
    from gan_core.published import WEIGHTS
    from gan_core.w_encoder_train import TwinEncoderConfig
    from landmark_core.device import resolve_device
    from tasks.published_weights import RANDOM, TWIN, ProjectConfig, load_generator_for

    if generator == TWIN:
        raise ConfigError("--generator twin: the twin GAN's encoder is committed; `eltrepro gan train-twin-encoder`")
    if generator not in WEIGHTS and generator != RANDOM:
        raise ConfigError(f"--generator {generator!r}: unknown; known: {', '.join(WEIGHTS)} or {RANDOM}")
    settings = load_config(TwinEncoderConfig, config) if config else TwinEncoderConfig()
    target = resolve_device(device)  # a missing weights file is FileNotFoundError, one line like every input mistake
    net, _ = load_generator_for(config=ProjectConfig(generator=generator), weights_dir=weights_dir, device=target)
    given = {"--generator": generator, "--weights-dir": weights_dir, "--out": out, "--config": config}
    _train_encoder(generator=net, settings=settings, out=out, command="train-encoder", given=given)
    from gan_core.trained_encoder import encoder_folder, install_encoder

    digest = install_encoder(trained=out, weights_dir=weights_dir)
    console.print(f"installed in {encoder_folder(weights_dir=weights_dir, sha256=digest)}")
    console.print(f'use it: [gan.project] encoder_sha256 = "{digest}" with [gan.project.projector] init = "encoder"')


def _train_encoder(*, generator, settings, out: Path, command: str, given: dict[str, object]) -> None:
    """Train an encoder for ``generator`` into ``out`` and record it (settings, weights, manifest)."""
    import json

    import torch

    from gan_core.stylegan2 import mean_w
    from gan_core.twin_gan import CHECKED_STEPS
    from gan_core.w_encoder import encoder_for
    from gan_core.w_encoder_train import train_encoder

    commit, started = git_commit(), time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    (out / "encoder.json").write_text(json.dumps(to_dict(settings), indent=2, sort_keys=True))
    w_avg, w_std = mean_w(generator=generator, n_samples=settings.w_avg_samples)
    device = w_avg.device
    encoder = encoder_for(config=settings.shape_for(generator), w_avg=w_avg.cpu(), seed=settings.train.seed)
    console.print(f"W+ encoder in {out}: {settings.train.steps} steps of {settings.train.batch} rendered codes")

    def report(step: int, losses: dict[str, float]) -> None:
        if step % 100 == 0:
            console.print(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in losses.items()))

    history = train_encoder(
        encoder=encoder.to(device), generator=generator, w_std=w_std, config=settings.train, on_step=report
    )
    torch.save({k: v.cpu() for k, v in encoder.state_dict().items()}, out / "encoder.pt")
    last = history[-50:]
    final = {k: round(sum(h[k] for h in last) / len(last), 6) for k in history[0]}
    console.print(f"done: {out / 'encoder.pt'}; " + ", ".join(f"{k} {v:.4f}" for k, v in final.items()))
    record_model(
        out=out,
        file="encoder.pt",
        settings="encoder.json",
        command=["eltrepro", "gan", command],
        given=given,
        commit=commit,
        seconds=time.monotonic() - started,
        losses=final,
        first_losses=tuple({k: round(v, 6) for k, v in h.items()} for h in history[:CHECKED_STEPS]),
    )


@gan_app.command("collect")
def collect_command(
    sources: list[Path] = typer.Argument(..., help="Training folders, each with its MANIFEST.toml."),
    into: Path = typer.Option(..., help="The models' folder (the committed one: gan_core/twin_models)."),
) -> None:
    """Copy trained models with their settings into one folder and merge their manifests (digests checked)."""
    from landmark_core.model_manifest import collect_models

    for source in sources:
        if not source.is_dir():
            raise ConfigError(f"{source}: no such folder")
    for name in collect_models(into=into, sources=sources):
        console.print(f"{into / name}")


def register(app: typer.Typer) -> None:
    """Add ``eltrepro gan`` to the main app."""
    app.add_typer(gan_app, name="gan")
