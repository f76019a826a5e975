"""The typed results the flows pass between branches: one dataclass of stage references per branch."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from kit.prefect_stage import StageRef


@dataclass(frozen=True)
class DataRefs:
    """The data branch: the dataset (twin or real WFLW), its index, and the subsets."""

    dataset: StageRef
    index: StageRef
    subsets: StageRef


@dataclass(frozen=True)
class GanRefs:
    """The GAN branch: the geometry always; projection, review, StyleFlow and relighting when configured.

    A relit row trains on the faces of its backend (``augmented_for``): ``relit_pasted`` (the StyleFlow path,
    the study's method), ``relit_physical`` (the physical backend, beyond the study) or ``edited_pasted`` (a
    StyleFlow attribute edit other than lighting, beyond the study).
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
    relit_physical: StageRef | None = None
    edited: StageRef | None = None
    edited_pasted: StageRef | None = None

    def augmented_for(self, backend: str) -> StageRef | None:
        """The extra training faces of a row with ``backend`` (``styleflow``, ``physical``, ``styleflow_edit``)."""
        return {
            "styleflow": self.relit_pasted,
            "physical": self.relit_physical,
            "styleflow_edit": self.edited_pasted,
        }.get(backend)

    def report_inputs(self) -> dict[str, StageRef | None]:
        """The report stage's GAN inputs (its parameters carry these names; the attribute edit's faces reach the
        report through the rows that train on them)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("edited")}


@dataclass(frozen=True)
class RowRefs:
    """One run of an experiment row (the row with one seed): its trained model and its evaluation."""

    trained: StageRef
    evaluated: StageRef


@dataclass(frozen=True)
class Reproduction:
    """Everything one run of ``reproduce`` produced."""

    data: DataRefs
    report: StageRef
    gan: GanRefs | None = None
    rows: dict[str, dict[str, RowRefs]] = field(default_factory=dict)  # row -> run name -> its outputs
