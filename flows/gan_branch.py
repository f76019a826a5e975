"""The GAN branch of the graph (the design's relighting augmentation), read top to bottom:

    align -> filter_faces -> segment_train -> segment -> paste            (geometry, always)
    relight_physical                                                      (physical backend)
    filter_faces -> project -> [review gate] -> attributes -> relight_styleflow -> paste (relit)   (StyleFlow)

Returns the branch's stage references as ``GanRefs``; ``augmented`` is what the relit rows train on.
"""

from __future__ import annotations

from dataclasses import replace

from flows.run_profile import GanConfig
from flows.refs import DataRefs, GanRefs
from flows.review_gate import review_gate
from tasks.align import align
from tasks.attributes import attributes
from tasks.filter_faces import filter_faces
from tasks.paste import paste
from tasks.prefect_stage import StageRef, StageRunner
from tasks.project import project
from tasks.relight_physical import relight_physical
from tasks.relight_styleflow import relight_styleflow
from tasks.segment import segment
from tasks.segment_train import segment_train


def gan_branch(run: StageRunner, config: GanConfig, data: DataRefs) -> GanRefs:
    """Run the GAN branch of one profile; every stage is a cached task of ``run``'s store."""
    dataset, index = data.dataset, data.index
    aligned = run(align, config.detect, dataset=dataset, index=index)
    filtered = run(filter_faces, config.filter, dataset=dataset, index=index, aligned=aligned)
    twin = config.segment_train.data == "twin"
    segmenter = run(segment_train, config.segment_train, **({"dataset": dataset, "index": index} if twin else {}))
    masks = run(segment, config.segment, filtered=filtered, trained=segmenter)
    pasted = run(paste, config.paste, dataset=dataset, index=index, filtered=filtered, masks=masks)
    refs = GanRefs(aligned=aligned, filtered=filtered, segmenter=segmenter, masks=masks, pasted=pasted)
    if config.relight_backend == "physical":
        refs = replace(refs, augmented=run(relight_physical, config.physical, dataset=dataset, index=index))
    if config.project is None:
        return refs
    projected = run(project, config.project, filtered=filtered)
    reviewed = review_gate(run, projected, config.review) if config.review is not None else None
    refs = replace(refs, projected=projected, reviewed=reviewed)
    if config.attributes is not None and config.styleflow is not None:
        refs = styleflow_path(run, config, data, refs)
    return refs


def styleflow_path(run: StageRunner, config: GanConfig, data: DataRefs, refs: GanRefs) -> GanRefs:
    """attributes (of the accepted faces, when reviewed) -> relight_styleflow -> paste of the relit faces."""
    dataset, index = data.dataset, data.index
    conditions = run(
        attributes,
        config.attributes,
        dataset=dataset,
        index=index,
        filtered=refs.filtered,
        projected=refs.projected,
        reviewed=refs.reviewed,
    )
    flow_config = replace(config.styleflow, generator=config.project)  # render with the projection's generator
    relit = run(relight_styleflow, flow_config, filtered=refs.filtered, projected=refs.projected, attributes=conditions)
    relit_pasted: StageRef = run(
        paste,
        config.paste,
        label="relit",
        dataset=dataset,
        index=index,
        filtered=refs.filtered,
        masks=refs.masks,
        relit=relit,
    )
    augmented = relit_pasted if config.relight_backend == "styleflow" else refs.augmented
    return replace(refs, attributes=conditions, relit=relit, relit_pasted=relit_pasted, augmented=augmented)
