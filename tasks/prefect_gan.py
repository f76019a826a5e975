"""Prefect tasks of the GAN branch (align, filter, project, segment_train, segment, paste).

Same contract as ``tasks.prefect_stages``: each task's cache key is its stage key, results are persisted, and a
stage whose output exists is returned without work.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from prefect import task

from tasks.data import default_workers
from tasks.gan import ALIGN, FILTER, DetectParams, FilterParams, align_stage, filter_stage
from tasks.prefect_review import review_gate
from tasks.prefect_stages import StageRef, check_injected_failure, named_inputs, stage_policy
from tasks.project import PROJECT, ProjectParams, project_stage
from tasks.relight import RELIGHT_PHYSICAL, PhysicalParams, relight_physical_stage
from tasks.relight_gan import (
    ATTRIBUTES,
    RELIGHT_STYLEFLOW,
    AttributesParams,
    StyleFlowParams,
    attributes_stage,
    relight_styleflow_stage,
)
from tasks.review import ReviewPolicy
from tasks.segment import (
    PASTE,
    SEGMENT,
    SEGMENT_TRAIN,
    PasteParams,
    SegmentTrainParams,
    paste_stage,
    segment_stage,
    segment_train_stage,
)
from tasks.stage import Store


@dataclass(frozen=True)
class GanSettings:
    """A profile's ``[gan]`` section: the settings of each GAN-branch stage."""

    detect: DetectParams = field(default_factory=DetectParams)
    filter: FilterParams = field(default_factory=FilterParams)
    segment: SegmentTrainParams = field(default_factory=SegmentTrainParams)
    paste: PasteParams = field(default_factory=PasteParams)
    project: ProjectParams | None = None  # None leaves projection out
    review: ReviewPolicy | None = None  # the gate after project; None sends every kept face on
    relight_backend: str = ""  # "physical" | "styleflow": where the relit rows' faces come from; "" = none
    physical: PhysicalParams = field(default_factory=PhysicalParams)
    attributes: AttributesParams | None = None  # with styleflow: the StyleFlow path (needs project)
    styleflow: StyleFlowParams | None = None
    weights_dir: str = ""  # folder of the published weights (`eltrepro weights fetch`); not part of any key


@task(name="align", persist_result=True)
def align_task(store: str, dataset: StageRef, index: StageRef, params: DetectParams) -> StageRef:
    """dlib detection and the FFHQ alignment record of every face."""
    check_injected_failure(ALIGN.name)
    return StageRef.of(align_stage(store=Store(store), dataset=dataset.output(), index=index.output(), params=params,
                                   workers=default_workers())[0])  # fmt: skip


@task(name="filter", persist_result=True)
def filter_task(store: str, dataset: StageRef, index: StageRef, aligned: StageRef, params: FilterParams) -> StageRef:
    """The study's keep rules; aligned images of the kept faces."""
    check_injected_failure(FILTER.name)
    return StageRef.of(filter_stage(store=Store(store), dataset=dataset.output(), index=index.output(),
                                    aligned=aligned.output(), params=params)[0])  # fmt: skip


@task(name="project", persist_result=True)
def project_task(store: str, filtered: StageRef, params: ProjectParams, weights_dir: str = "") -> StageRef:
    """W+ projection of the kept aligned faces (resumes from the faces already finished)."""
    check_injected_failure(PROJECT.name)
    return StageRef.of(project_stage(store=Store(store), filtered=filtered.output(), params=params,
                                     weights_dir=Path(weights_dir) if weights_dir else None)[0])  # fmt: skip


@task(name="relight_physical", persist_result=True)
def relight_physical_task(store: str, dataset: StageRef, index: StageRef, params: PhysicalParams) -> StageRef:
    """Physically relit copies of every training face (the relit rows' augmented set)."""
    check_injected_failure(RELIGHT_PHYSICAL.name)
    return StageRef.of(relight_physical_stage(store=Store(store), dataset=dataset.output(), index=index.output(),
                                              params=params)[0])  # fmt: skip


@task(name="attributes", persist_result=True)
def attributes_task(store: str, dataset: StageRef, index: StageRef, filtered: StageRef, projected: StageRef,
                    params: AttributesParams, weights_dir: str = "",
                    reviewed: StageRef | None = None) -> StageRef:  # fmt: skip
    """Source lighting, attributes and StyleFlow condition of each projected (and accepted) face."""
    check_injected_failure(ATTRIBUTES.name)
    return StageRef.of(attributes_stage(store=Store(store), dataset=dataset.output(), index=index.output(),
                                        filtered=filtered.output(), projected=projected.output(), params=params,
                                        weights_dir=Path(weights_dir) if weights_dir else None,
                                        reviewed=reviewed.output() if reviewed is not None else None)[0])  # fmt: skip


@task(name="relight_styleflow", persist_result=True)
def relight_styleflow_task(store: str, filtered: StageRef, projected: StageRef, attributes: StageRef,
                           params: StyleFlowParams, weights_dir: str = "") -> StageRef:  # fmt: skip
    """StyleFlow relighting of the projected codes; relit aligned faces."""
    check_injected_failure(RELIGHT_STYLEFLOW.name)
    weights = Path(weights_dir) if weights_dir else None
    return StageRef.of(relight_styleflow_stage(store=Store(store), filtered=filtered.output(),
                                               projected=projected.output(), attributes=attributes.output(),
                                               params=params, weights_dir=weights)[0])  # fmt: skip


@task(name="segment_train", persist_result=True)
def segment_train_task(store: str, dataset: StageRef, index: StageRef, params: SegmentTrainParams) -> StageRef:
    """Train the face segmenter."""
    check_injected_failure(SEGMENT_TRAIN.name)
    return StageRef.of(segment_train_stage(store=Store(store), dataset=dataset.output(), index=index.output(),
                                           params=params)[0])  # fmt: skip


@task(name="segment", persist_result=True)
def segment_task(store: str, filtered: StageRef, trained: StageRef) -> StageRef:
    """Face masks of the kept aligned faces."""
    check_injected_failure(SEGMENT.name)
    return StageRef.of(segment_stage(store=Store(store), filtered=filtered.output(), trained=trained.output())[0])


@task(name="paste", persist_result=True)
def paste_task(
    store: str,
    dataset: StageRef,
    index: StageRef,
    filtered: StageRef,
    masks: StageRef,
    params: PasteParams,
    relit: StageRef | None = None,
) -> StageRef:
    """Paste the aligned (or relit) faces back through their masks: new WFLW-format faces."""
    check_injected_failure(PASTE.name)
    return StageRef.of(paste_stage(store=Store(store), dataset=dataset.output(), index=index.output(),
                                   filtered=filtered.output(), masks=masks.output(), params=params,
                                   relit=relit.output() if relit is not None else None)[0])  # fmt: skip


def _attributes_inputs(parameters: dict[str, Any]):
    inputs = named_inputs("dataset", "index", "filtered", "projected")(parameters)
    return inputs | ({"reviewed": parameters["reviewed"].output()} if parameters.get("reviewed") is not None else {})


def _paste_inputs(parameters: dict[str, Any]):
    inputs = named_inputs("dataset", "index", "filtered", "masks")(parameters)
    return inputs | ({"relit": parameters["relit"].output()} if parameters.get("relit") is not None else {})


def _segment_train_inputs(parameters: dict[str, Any]):
    return named_inputs("dataset", "index")(parameters) if parameters["params"].data == "twin" else {}


def cached_gan(store: str) -> dict[str, Any]:
    """The GAN-branch tasks bound to ``store``'s cache policy (use inside a flow)."""
    policies = {
        "align": (align_task, ALIGN, lambda p: p["params"], named_inputs("dataset", "index")),
        "filter": (filter_task, FILTER, lambda p: p["params"], named_inputs("dataset", "index", "aligned")),
        "project": (project_task, PROJECT, lambda p: p["params"], named_inputs("filtered")),
        "relight_physical": (
            relight_physical_task,
            RELIGHT_PHYSICAL,
            lambda p: p["params"],
            named_inputs("dataset", "index"),
        ),
        "segment_train": (segment_train_task, SEGMENT_TRAIN, lambda p: p["params"], _segment_train_inputs),
        "segment": (segment_task, SEGMENT, lambda p: {"threshold": 0.5}, named_inputs("filtered", "trained")),
        "paste": (paste_task, PASTE, lambda p: p["params"], _paste_inputs),
        "attributes": (
            attributes_task,
            ATTRIBUTES,
            lambda p: p["params"],
            named_inputs("dataset", "index", "filtered", "projected"),
        ),
        "relight_styleflow": (
            relight_styleflow_task,
            RELIGHT_STYLEFLOW,
            lambda p: p["params"],
            named_inputs("filtered", "projected", "attributes"),
        ),
    }
    return {
        name: fn.with_options(cache_policy=stage_policy(store=store, spec=spec, params_of=params_of, inputs_of=inputs))
        for name, (fn, spec, params_of, inputs) in policies.items()
    }


def gan_branch(store: str, settings: GanSettings, data: dict[str, StageRef]) -> dict[str, StageRef]:
    """align -> filter -> project (when configured); segment_train -> segment -> paste; relight_physical (when
    the backend is physical; its output is ``augmented``, the relit rows' extra faces). Returns every stage's
    reference by name."""
    tasks = cached_gan(store)
    dataset, index = data["dataset"], data["index"]
    aligned = tasks["align"](store=store, dataset=dataset, index=index, params=settings.detect)
    filtered = tasks["filter"](store=store, dataset=dataset, index=index, aligned=aligned, params=settings.filter)
    trained = tasks["segment_train"](store=store, dataset=dataset, index=index, params=settings.segment)
    masks = tasks["segment"](store=store, filtered=filtered, trained=trained)
    pasted = tasks["paste"](store=store, dataset=dataset, index=index, filtered=filtered, masks=masks,
                            params=settings.paste)  # fmt: skip
    out = {"aligned": aligned, "filtered": filtered, "segmenter": trained, "masks": masks, "pasted": pasted}
    if settings.relight_backend not in ("", "physical", "styleflow"):
        raise ValueError(
            f"gan.relight_backend must be 'physical', 'styleflow' or empty, got {settings.relight_backend!r}"
        )
    if settings.relight_backend == "physical":
        out["augmented"] = tasks["relight_physical"](store=store, dataset=dataset, index=index,
                                                     params=settings.physical)  # fmt: skip
    if settings.project is not None:
        out["projected"] = tasks["project"](store=store, filtered=filtered, params=settings.project,
                                            weights_dir=settings.weights_dir)  # fmt: skip
        if settings.review is not None:
            out["reviewed"] = review_gate(store, out["projected"], settings.review)
    if settings.project is not None and settings.attributes is not None and settings.styleflow is not None:
        out.update(
            _styleflow_path(tasks, store, settings, data, filtered, masks, out["projected"], out.get("reviewed"))
        )
    if settings.relight_backend == "styleflow":
        if "relit_pasted" not in out:
            raise ValueError("gan.relight_backend 'styleflow' needs [gan.project], [gan.attributes], [gan.styleflow]")
        out["augmented"] = out["relit_pasted"]
    return out


def _styleflow_path(tasks, store, settings: GanSettings, data, filtered, masks, projected,
                    reviewed) -> dict[str, StageRef]:  # fmt: skip
    """attributes (of the accepted faces, when reviewed) -> relight_styleflow -> paste of the relit faces."""
    attributes = tasks["attributes"](store=store, dataset=data["dataset"], index=data["index"], filtered=filtered,
                                     projected=projected, params=settings.attributes,
                                     weights_dir=settings.weights_dir, reviewed=reviewed)  # fmt: skip
    params = replace(settings.styleflow, generator=settings.project)  # render with the projection's generator
    relit = tasks["relight_styleflow"](store=store, filtered=filtered, projected=projected, attributes=attributes,
                                       params=params, weights_dir=settings.weights_dir)  # fmt: skip
    pasted = tasks["paste"].with_options(task_run_name="paste-relit")(
        store=store, dataset=data["dataset"], index=data["index"], filtered=filtered, masks=masks,
        params=settings.paste, relit=relit)  # fmt: skip
    return {"attributes": attributes, "relit": relit, "relit_pasted": pasted}
