"""Run profiles (``elt_study/profiles/<name>.toml``): where the data comes from, the base training config, the
experiment matrix, and the GAN branch's config. Validated completely when loaded, before any Prefect work:
every mistake is one line naming the file, the key, the value and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, Field, ValidationError, ValidatorFunctionWrapHandler, WrapValidator

from elt_study.experiments import FUTURE_WORK, MATRIX_DIR, ExperimentRow, deep_merge, load_matrix, select_rows
from gan_core.face_filter import FilterConfig
from landmark_core.config import ConfigError, from_dict, read_table_file
from landmark_core.device import check_device
from landmark_core.subsets import SubsetConfig
from landmark_core.synth.dataset import TWIN_ONLY, SynthConfig
from landmark_core.train_config import TrainConfig
from tasks.align import DetectConfig
from tasks.attributes import AttributesConfig
from tasks.decisions import ReviewGateConfig
from tasks.download_wflw import WflwSourceConfig
from tasks.edit_styleflow import AttributeEditConfig
from tasks.paste import PasteConfig
from tasks.published_weights import ProjectConfig
from tasks.relight_physical import PhysicalRelightConfig
from tasks.relight_styleflow import StyleFlowConfig
from tasks.segment import SegmentConfig
from tasks.segment_train import SegmentTrainConfig

if TYPE_CHECKING:
    from landmark_core.claims import Claim

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"


@dataclass(frozen=True)
class GanConfig:
    """A profile's ``[gan]`` section: the config of each GAN-branch stage.

    Attributes:
        project: None leaves projection (and everything after it) out.
        review: the gate after ``project``; None sends every kept face on.
        attributes, styleflow: with both (and ``project``), the StyleFlow path runs.
        styleflow_edit: another StyleFlow attribute edit than lighting (beyond the study), run on the StyleFlow
            path when a selected row trains on its faces (``relit = "styleflow_edit"``).
        weights_dir: folder of the published weights (``eltrepro weights fetch``); not part of any key.
    """

    detect: DetectConfig = field(default_factory=DetectConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    segment_train: SegmentTrainConfig = field(default_factory=SegmentTrainConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    paste: PasteConfig = field(default_factory=PasteConfig)
    project: ProjectConfig | None = None
    review: ReviewGateConfig | None = None
    physical: PhysicalRelightConfig = field(default_factory=PhysicalRelightConfig)
    attributes: AttributesConfig | None = None
    styleflow: StyleFlowConfig | None = None
    styleflow_edit: AttributeEditConfig | None = None
    weights_dir: str = ""

    @property
    def styleflow_path(self) -> bool:
        """Whether the StyleFlow relighting (the study's method) can run: projection, attributes and the flow."""
        return self.project is not None and self.attributes is not None and self.styleflow is not None


@dataclass(frozen=True)
class Profile:
    """A run profile.

    Attributes:
        synth: the synthetic twin (used when ``wflw`` is None).
        wflw: the real WFLW (thesis); None renders the synthetic twin (demo).
        subsets: head pose and subset rules.
        train: the base training config every experiment row overrides.
        matrix: the experiment matrix file.
        claims: the study's conclusions the report judges (``elt_study/experiments/claims.toml``).
        hypotheses: the future-work hypotheses the report judges (``elt_study/experiments/future_work.toml`` with the
            study's matrix; None, unless a profile names a file, with a matrix of its own).
        future_work: whether a run without a row selection trains the future-work rows too (the thesis profile
            leaves them to ``--experiments future_work``).
        rows: the matrix rows a run trains when none are named on the command line (empty: all).
        seeds: each row trains once per seed (the seed replaces ``train.seed``); the report shows the mean
            over seeds and, with two or more, the standard deviation and seed-averaged paired intervals.
        row_seeds: per-row overrides of ``seeds`` (row name -> seeds).
        device: ``auto``, ``cpu``, ``cuda[:n]``.
        pool_wait_s: with ``--pool``, how long a row's flow run may wait for a worker before the run fails.
        shard_faces: faces per shard of the sharded stages (projection); 0 computes each in one piece. With
            ``--pool`` every shard is a flow run of its own on the GPU pool. Never part of a key.
        gan: the GAN branch; None leaves it out.
    """

    synth: SynthConfig = field(default_factory=SynthConfig)
    wflw: WflwSourceConfig | None = None
    subsets: SubsetConfig = field(default_factory=SubsetConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    matrix: Path = MATRIX_DIR / "study.toml"
    claims: Path = MATRIX_DIR / "claims.toml"
    hypotheses: Path | None = MATRIX_DIR / "future_work.toml"
    future_work: bool = True
    rows: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0,)
    row_seeds: tuple[tuple[str, tuple[int, ...]], ...] = ()
    device: str = "auto"
    pool_wait_s: float = 600.0
    shard_faces: int = 0
    gan: GanConfig | None = None

    def seeds_for(self, row: str) -> tuple[int, ...]:
        """The seeds ``row`` trains with: its ``row_seeds`` entry, else ``seeds``."""
        return dict(self.row_seeds).get(row, self.seeds)

    def check_rows(self, known: list[str]) -> None:
        """Every row named in ``rows`` and ``row_seeds`` is a matrix row.

        Raises:
            ConfigError: one line naming the unknown row(s) and the known ones.
        """
        unknown = sorted({*self.rows, *dict(self.row_seeds)} - set(known))
        if unknown:
            raise ConfigError(f"profile: unknown row(s) {unknown} in rows/row_seeds; known: {', '.join(known)}")


def _expect(what: str) -> WrapValidator:
    """A key's rule in words: any value its type or constraints refuse is reported as ``expected <what>``.

    The inner (strict) validation gets the value as parsed, a list as a tuple (a wrapped validator sees Python,
    where strict tuples refuse lists).

    Args:
        what: what the key takes (``"true or false"``).

    Returns:
        The validator, for ``Annotated[type, Field(...), _expect(...)]`` (after the constraints it words).
    """

    def validate(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(tuple(value) if isinstance(value, list) else value)
        except ValidationError:
            raise ValueError(f"expected {what}") from None

    return WrapValidator(validate)


def _distinct(values: tuple[int, ...]) -> tuple[int, ...]:
    """``values`` when none repeats."""
    if len(set(values)) != len(values):
        raise ValueError("repeated")
    return values


def _experiments_file(name: str) -> str:
    """``name`` when it names a file in ``elt_study/experiments/`` (or is an absolute path to one)."""
    if not (MATRIX_DIR / name).is_file():
        raise ValueError(f"no such file in {MATRIX_DIR}")
    return name


Seeds = Annotated[
    tuple[Annotated[int, Field(ge=0)], ...],
    Field(min_length=1),
    AfterValidator(_distinct),
    _expect("a list of distinct non-negative integers"),
]
ExperimentsFile = Annotated[str, AfterValidator(_experiments_file)]


@dataclass(frozen=True)
class ProfileFile:
    """A profile file's keys as written (``Profile`` documents them), validated like every section: strictly,
    unknown keys refused, each mistake one line naming the file, the key, the value and what was expected.

    Attributes:
        matrix, claims, hypotheses: file names in ``elt_study/experiments/`` (or absolute paths); ``hypotheses``
            None: ``future_work.toml`` with the study's matrix, none with another.
        seeds: None: ``train.seed``.
        data: the ``[data]`` section, read by ``_data_source`` (its keys depend on its ``source``).
    """

    matrix: ExperimentsFile = "study.toml"
    claims: ExperimentsFile = "claims.toml"
    hypotheses: ExperimentsFile | None = None
    future_work: Annotated[bool, _expect("true or false")] = True
    rows: Annotated[tuple[str, ...], _expect("a list of matrix row names")] = ()
    seeds: Seeds | None = None
    row_seeds: Mapping[str, Seeds] = field(default_factory=dict)
    device: Annotated[str, AfterValidator(check_device), _expect("auto, cpu, cuda or cuda:<n>")] = "auto"
    pool_wait_s: Annotated[float, Field(gt=0), _expect("a positive number of seconds")] = 600.0
    shard_faces: Annotated[int, Field(ge=0), _expect("0 (no shards) or a number of faces per shard")] = 0
    data: dict[str, Any] = field(default_factory=dict)
    synth: SynthConfig = field(default_factory=SynthConfig)
    subsets: SubsetConfig = field(default_factory=SubsetConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    gan: GanConfig | None = None


@dataclass(frozen=True)
class RowPlan:
    """What a run trains and judges: the whole matrix, the selected rows, the study's claims, the hypotheses."""

    matrix: list[ExperimentRow]
    rows: list[ExperimentRow]
    claims: tuple[Claim, ...]
    hypotheses: tuple[Claim, ...]


def plan_rows(prof: Profile, names: list[str] | None) -> RowPlan:
    """The profile's matrix, the rows a run trains (``names``; else the profile's ``rows``; else all, without the
    future-work rows when the profile says so) and the claims and hypotheses to judge, every row name checked.

    Raises:
        ConfigError: an unknown row anywhere, or a broken matrix, claims or hypotheses file (one line).
    """
    from elt_study.claims import load_claims  # the claims read the report's subsets, which import torch

    matrix = load_matrix(prof.matrix, base=prof.train)
    known = [r.name for r in matrix]
    prof.check_rows(known)
    hypotheses = load_claims(prof.hypotheses, rows=known, table="hypothesis") if prof.hypotheses else ()
    if names and FUTURE_WORK in names:  # with every row a hypothesis compares, so each can be judged
        names = [*names, *(name for h in hypotheses for name in (h.row, h.than))]
    rows = select_rows(matrix, names or list(prof.rows))
    if not names and not prof.rows and not prof.future_work:
        rows = [r for r in rows if not r.future_work]
    return RowPlan(matrix, rows, load_claims(prof.claims, rows=known), hypotheses)


def available_profiles() -> list[str]:
    """The names of the profiles in ``elt_study/profiles/``."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def profile_path(name: str) -> Path:
    """A profile name (``demo``) or a path to a ``.toml`` file, as a path to an existing file.

    Raises:
        ConfigError: no such profile (the available ones are listed) or no such file.
    """
    if name.endswith(".toml"):
        if not Path(name).is_file():
            raise ConfigError(f"{name}: no such profile file")
        return Path(name)
    if name not in available_profiles():
        raise ConfigError(f"unknown profile {name!r}; available: {', '.join(available_profiles())} (or a .toml path)")
    return PROFILE_DIR / f"{name}.toml"


def load_profile(path: Path) -> Profile:
    """Read and validate a profile file (over its ``base``), every key through ``ProfileFile``.

    Args:
        path: the profile's ``.toml`` (or ``.json``) file.

    Returns:
        The profile, file names resolved in ``elt_study/experiments/`` and defaults filled in.

    Raises:
        ConfigError: one line naming the file, the key, the value and what was expected.
    """
    path, where = Path(path), str(path)
    data = with_base(read_table_file(path), folder=path.parent, where=where)
    _refuse_unused_synth_keys(data.get("synth"), where=where)
    keys = from_dict(ProfileFile, data, where=where)
    matrix = MATRIX_DIR / keys.matrix
    own_matrix = matrix != MATRIX_DIR / "study.toml"
    hypotheses = (
        None if own_matrix and keys.hypotheses is None else MATRIX_DIR / (keys.hypotheses or "future_work.toml")
    )
    return Profile(
        synth=keys.synth,
        wflw=_data_source(dict(keys.data), where=where),
        subsets=keys.subsets,
        train=keys.train,
        matrix=matrix,
        claims=MATRIX_DIR / keys.claims,
        hypotheses=hypotheses,
        future_work=keys.future_work,
        rows=keys.rows,
        seeds=keys.seeds or (keys.train.seed,),
        row_seeds=tuple(keys.row_seeds.items()),
        device=keys.device,
        pool_wait_s=keys.pool_wait_s,
        shard_faces=keys.shard_faces,
        gan=keys.gan,
    )


def _refuse_unused_synth_keys(section: object, *, where: str) -> None:
    """With ``[synth] shape = "wflw"``, a key only the twin reads is refused even at its default value: the user
    meant it to do something, and it would do nothing (``SynthConfig`` alone sees values, not keys)."""
    if not isinstance(section, dict) or section.get("shape") != "wflw":
        return
    unused = [k for k in ("train", "test", *TWIN_ONLY) if k in section]
    if unused:
        raise ConfigError(
            f"{where}: synth.{unused[0]} = {section[unused[0]]!r}: a setting of the 'twin' shape; shape = 'wflw' is "
            "sized by fraction and draws the faces per photo and the face sizes from WFLW"
        )


def with_base(data: dict[str, Any], *, folder: Path, where: str, depth: int = 0) -> dict[str, Any]:
    """A profile's data over its ``base`` profile's (a file in the same folder; tables merge key by key)."""
    if "base" not in data:
        return data
    base = folder / str(data.pop("base"))
    if depth > 4 or not base.is_file():
        raise ConfigError(f"{where}: base = {base.name!r}: no such profile (or bases nested too deep)")
    return deep_merge(with_base(read_table_file(base), folder=folder, where=str(base), depth=depth + 1), data)


def _data_source(section: dict[str, Any], *, where: str) -> WflwSourceConfig | None:
    """The ``[data]`` section: ``source = "synth"`` (default) or ``"wflw"`` with the WflwSourceConfig fields."""
    source = section.pop("source", "synth")
    if source == "synth":
        if section:
            raise ConfigError(f"{where}: data: source 'synth' takes no other keys; got {sorted(section)}")
        return None
    if source != "wflw":
        raise ConfigError(f"{where}: data.source = {source!r}: expected 'synth' or 'wflw'")
    sha256 = section.get("sha256", {})
    if not isinstance(sha256, dict):
        raise ConfigError(f"{where}: data.sha256 = {sha256!r}: expected a table of archive name = hex digest")
    section["sha256"] = sorted([name, digest] for name, digest in sha256.items())
    return from_dict(WflwSourceConfig, section, where=where, key="data")
