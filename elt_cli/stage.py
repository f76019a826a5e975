"""``eltrepro stage``: the pipeline's stages from their definitions: list, show, run one outside Prefect."""

from __future__ import annotations

from pathlib import Path

import typer

from elt_cli.console import console
from elt_cli.options import DEFAULT_STORE
from landmark_core.config import ConfigError

stage_app = typer.Typer(
    help="The pipeline's stages, from their definitions: list, show, run one.", no_args_is_help=True
)


@stage_app.command("list")
def stage_list() -> None:
    """Every stage: name, version, config type, inputs, and the code version of its import closure."""
    from tasks.registry import all_stages

    for stage in all_stages().values():
        inputs = ", ".join(
            f"{i.name}{'?' if i.kind == 'optional' else '*' if i.kind == 'family' else ''}" for i in stage.inputs
        )
        console.print(
            f"[bold]{stage.name}[/bold] v{stage.version}  config {stage.config_type.__name__}  "
            f"inputs ({inputs or '-'})  code {stage.code_version()}  [{stage.module}]" + ("  gpu" if stage.gpu else "")
        )


@stage_app.command("show")
def stage_show(name: str = typer.Argument(..., help="A stage name (see `eltrepro stage list`).")) -> None:
    """One stage: its definition, its config's defaults, and the modules its code version covers."""
    import dataclasses
    import json

    from kit.store import canonical_json

    stage = _stage(name)
    console.print(f"[bold]{stage.name}[/bold] v{stage.version}, defined in {stage.module}")
    console.print((stage.fn.__doc__ or "").strip())
    console.print(f"inputs: {[(i.name, i.kind) for i in stage.inputs]}")
    fields = dataclasses.fields(stage.config_type)
    if all(f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING for f in fields):
        console.print(
            f"config {stage.config_type.__name__} defaults: {json.loads(canonical_json(stage.config_type()))}"
        )
    console.print(f"code version {stage.code_version()} over: {', '.join(stage.modules())}")


def _stage(name: str):
    from tasks.registry import all_stages

    stages = all_stages()
    if name not in stages:
        raise ConfigError(f"unknown stage {name!r}; stages: {', '.join(stages)}")
    return stages[name]


@stage_app.command("run")
def stage_run(
    name: str = typer.Argument(..., help="A stage name (see `eltrepro stage list`)."),
    store: str = typer.Option(str(DEFAULT_STORE), help="Artifact store: a local path or an fsspec URL."),
    config: Path = typer.Option(None, help="TOML or JSON file with the stage's config (default: its defaults)."),
    input_: list[str] = typer.Option(
        [], "--input", help="NAME=STAGE/KEY of an upstream output (repeatable; a family member: NAME:MEMBER=...)."
    ),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:<n>."),
    weights_dir: str = typer.Option("", help="Folder of the published weights (GAN stages)."),
) -> None:
    """Run one stage outside Prefect (the same key and output as in the flow); prints its output."""
    from kit.stage import Runtime
    from kit.store import Store
    from landmark_core.config import load_config
    from landmark_core.device import check_device
    from tasks.dataset_tree import default_workers

    stage = _stage(name)
    check_device(device)
    settings = load_config(stage.config_type, config) if config else _default_config(stage)
    if Path(store).exists() and not Path(store).is_dir():  # a local path that is a file; URLs never exist here
        raise ConfigError(f"--store {store}: a file, not a store folder")
    target = Store(store, create=False)  # the inputs are only read: nothing is created until the stage runs
    inputs: dict = {}
    for item in input_:
        role, sep, ref = item.partition("=")
        upstream, _, key = ref.partition("/")
        if not sep or not key:
            raise ConfigError(f"--input {item!r}: expected NAME=STAGE/KEY")
        if not target.is_complete(upstream, key):
            raise ConfigError(f"--input {item!r}: no complete output {upstream}/{key} in {store}")
        family, _, member = role.partition(":")
        if member:
            inputs.setdefault(family, {})[member] = target.output(upstream, key)
        else:
            inputs[role] = target.output(upstream, key)
    try:
        stage.input_digests(inputs)
    except TypeError as error:
        raise ConfigError(str(error)) from None
    runtime = Runtime(device=device, workers=default_workers(), weights_dir=weights_dir)
    output, computed = stage.run(store=Store(store), config=settings, runtime=runtime, **inputs)
    console.print(f"{output.stage}/{output.key} ({'computed' if computed else 'already complete'}): {output.path}")


def _default_config(stage):
    try:
        return stage.config_type()
    except TypeError:
        raise ConfigError(
            f"stage {stage.name}: its config {stage.config_type.__name__} has no defaults; give --config"
        ) from None


def register(app: typer.Typer) -> None:
    """Add ``eltrepro stage`` to the main app."""
    app.add_typer(stage_app, name="stage")
