"""The typed results the flows pass between branches: one dataclass of stage references per branch."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from tasks.prefect_stage import StageRef


@dataclass(frozen=True)
class DataRefs:
    """The data branch: the dataset (twin or real WFLW), its index, and the subsets."""

    dataset: StageRef
    index: StageRef
    subsets: StageRef


@dataclass(frozen=True)
class GanRefs:
    """The GAN branch: the geometry always; projection, review, StyleFlow and relighting when configured.

    ``augmented`` is the relit rows' extra training faces (the physical stage's output, or the StyleFlow path's
    pasted relit faces).
    """

    aligned: StageRef
    filtered: StageRef
    segmenter: StageRef
    masks: StageRef
    pasted: StageRef
    projected: StageRef | None = None
    reviewed: StageRef | None = None
    attributes: StageRef | None = None
    relit: StageRef | None = None
    relit_pasted: StageRef | None = None
    augmented: StageRef | None = None

    def report_inputs(self) -> dict[str, StageRef | None]:
        """The report stage's GAN inputs (its parameters carry these names)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class RowRefs:
    """One experiment row: its trained model and its evaluation."""

    trained: StageRef
    evaluated: StageRef


@dataclass(frozen=True)
class Reproduction:
    """Everything one run of ``reproduce`` produced."""

    data: DataRefs
    report: StageRef
    gan: GanRefs | None = None
    rows: dict[str, RowRefs] = field(default_factory=dict)
