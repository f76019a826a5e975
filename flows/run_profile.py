"""Run profiles (``flows/profiles/<name>.toml``): where the data comes from, the base training config, the
experiment matrix, and the GAN branch's config. Validated completely when loaded, before any Prefect work:
every mistake is one line naming the file, the key, the value and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.experiments import MATRIX_DIR
from gan_core.face_filter import FilterConfig
from landmark_core.config import ConfigError, from_dict, read_table_file
from landmark_core.device import check_device
from landmark_core.subsets import SubsetConfig
from landmark_core.synth.dataset import SynthConfig
from landmark_core.train_config import TrainConfig
from tasks.align import DetectConfig
from tasks.attributes import AttributesConfig
from tasks.decisions import ReviewGateConfig
from tasks.download_wflw import WflwSourceConfig
from tasks.paste import PasteConfig
from tasks.published_weights import ProjectConfig
from tasks.relight_physical import PhysicalRelightConfig
from tasks.relight_styleflow import StyleFlowConfig
from tasks.segment import SegmentConfig
from tasks.segment_train import SegmentTrainConfig

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
PROFILE_KEYS = {"matrix", "published", "device", "pool_wait_s", "data", "synth", "subsets", "train", "gan"}
RELIGHT_BACKENDS = ("", "physical", "styleflow")


@dataclass(frozen=True)
class GanConfig:
    """A profile's ``[gan]`` section: the config of each GAN-branch stage.

    Attributes:
        project: None leaves projection (and everything after it) out.
        review: the gate after ``project``; None sends every kept face on.
        attributes, styleflow: with both (and ``project``), the StyleFlow path runs.
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
        published: the study's published values.
        device: ``auto``, ``cpu``, ``cuda[:n]``.
        pool_wait_s: with ``--pool``, how long a row's flow run may wait for a worker before the run fails.
        gan: the GAN branch; None leaves it out.
    """

    synth: SynthConfig = field(default_factory=SynthConfig)
    wflw: WflwSourceConfig | None = None
    subsets: SubsetConfig = field(default_factory=SubsetConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    matrix: Path = MATRIX_DIR / "study.toml"
    published: Path = MATRIX_DIR / "published.toml"
    device: str = "auto"
    pool_wait_s: float = 600.0
    gan: GanConfig | None = None


def available_profiles() -> list[str]:
    """The names of the profiles in ``flows/profiles/``."""
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
    """Read and validate a profile file.

    Raises:
        ConfigError: one line naming the file, the key, the value and what was expected.
    """
    path = Path(path)
    data = read_table_file(path)
    where = str(path)
    unknown = sorted(set(data) - PROFILE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(PROFILE_KEYS)}")
    device = data.get("device", "auto")
    try:
        check_device(str(device))
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    matrix = MATRIX_DIR / data.get("matrix", "study.toml")
    published = MATRIX_DIR / data.get("published", "published.toml")
    for file in (matrix, published):
        if not file.is_file():
            raise ConfigError(f"{where}: {file}: no such file")
    sections = {name: data.get(name, {}) for name in ("synth", "subsets", "train")}
    return Profile(
        synth=from_dict(SynthConfig, sections["synth"], where=where, key="synth"),
        wflw=_data_source(dict(data.get("data", {})), where=where),
        subsets=from_dict(SubsetConfig, sections["subsets"], where=where, key="subsets"),
        train=from_dict(TrainConfig, sections["train"], where=where, key="train"),
        matrix=matrix,
        published=published,
        device=str(device),
        pool_wait_s=_pool_wait(data.get("pool_wait_s", 600.0), where=where),
        gan=from_dict(GanConfig, data["gan"], where=where, key="gan") if "gan" in data else None,
    )


def _pool_wait(value: object, *, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{where}: pool_wait_s = {value!r}: expected a positive number of seconds")
    return float(value)


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
        raise ConfigError(f"{where}: data.sha256 must be a table of archive name = hex digest")
    section["sha256"] = sorted([name, digest] for name, digest in sha256.items())
    return from_dict(WflwSourceConfig, section, where=where, key="data")
