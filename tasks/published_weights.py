"""Published weights for the GAN stages: fetch them, find them, and load the generator a config asks for.

Used by ``project``, ``attributes`` and ``relight_styleflow`` (and ``eltrepro weights fetch``). The folder the
files live in is a ``Runtime`` fact (``weights_dir``), not part of any key: the weights are named by the
config, and their bytes are checked against pinned digests when they are fetched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from gan_core.projector_config import ProjectorConfig
from gan_core.published import SHA256_PREFIXES, weight_file
from gan_core.stylegan2_config import TINY, GeneratorConfig
from landmark_core.download import DownloadError, FetchReport, fetch_files

if TYPE_CHECKING:
    import torch

RANDOM = "random"
TWIN = "twin"  # the models the project trained on its synthetic twin and commits (gan_core/twin_models)
TWIN_SOURCE = "trained by this project on twin faces, not FFHQ: gan_core/twin_models/"


@dataclass(frozen=True)
class ProjectConfig:
    """What the project stage projects with (also the generator the StyleFlow stage renders with).

    Attributes:
        generator: a published-weights name (``ffhq-1024``, see ``gan_core.published``), ``twin`` (the committed
            64 px twin GAN, trained on twin faces, not FFHQ) or ``random``: a randomly initialised generator of
            shape ``random_config`` (mechanics only, meaningless pictures).
        random_config: the shape of the random generator.
        random_seed: its initialisation seed (and the LPIPS stand-in's).
        perceptual: ``lpips-vgg`` (the published LPIPS-VGG, two files), ``twin`` (LPIPS's recipe on the committed
            twin landmark model's encoder, ``gan_core.twin_perceptual``) or ``random`` (a tiny stand-in).
        projector: schedule, loss and early discard.
        encoder_sha256: with ``projector.init = "encoder"`` and a generator other than the twin, the digest of
            the W+ encoder trained for it (``eltrepro gan train-encoder`` installs it in the weights folder;
            ``gan_core.trained_encoder``); the twin GAN's is committed and takes none. Left out of the key while
            unset.
        batch_size: faces projected at once.
        amp: bfloat16 autocast on CUDA.
    """

    generator: str = "ffhq-1024"
    random_config: GeneratorConfig = TINY
    random_seed: int = 0
    perceptual: str = "lpips-vgg"
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    encoder_sha256: Annotated[str, Field(pattern=r"^([0-9a-f]{64})?$")] = field(
        default="", metadata={"key": "unless_default"}
    )
    batch_size: int = 8
    amp: bool = True


def fetch_weights(
    *,
    names: list[str],
    dest: Path,
    mirror: str | None = None,
    sha256: dict[str, str] | None = None,
    trust_first_download: bool = False,
    progress=None,
) -> FetchReport:
    """Download published weights into ``dest`` (resumable, verified; see ``landmark_core.download``).

    Raises:
        DownloadError: a download failed, a digest differs, or a digest prefix from the file name differs.
        KeyError: an unknown registry name.
    """
    files = [weight_file(n) for n in names]
    report = fetch_files(
        files=files,
        dest=dest,
        mirror=mirror,
        sha256=sha256,
        trust_first_download=trust_first_download,
        progress=progress,
    )
    for name, remote in zip(names, files, strict=True):
        prefix = SHA256_PREFIXES.get(name)
        if prefix and not report.sha256[remote.name].startswith(prefix):
            (dest / remote.name).unlink(missing_ok=True)
            raise DownloadError(f"{remote.name}: sha256 {report.sha256[remote.name]} does not start with {prefix}")
    return report


def weights_path(weights_dir: Path | None, name: str) -> Path:
    """The local file of published weights ``name`` in ``weights_dir``; FileNotFoundError names the fetch command."""
    remote = weight_file(name)
    path = (weights_dir or Path(".")) / remote.name
    if weights_dir is None or not path.is_file():
        raise FileNotFoundError(
            f"{path}: published weights {name!r} not found; fetch them with "
            f"`eltrepro weights fetch {name} --dest <dir>` and pass that folder"
        )
    return path


def load_generator_for(*, config: ProjectConfig, weights_dir: Path | None, device: torch.device):
    """The frozen generator the config asks for, and its description (``meaningful`` False for a random one)."""
    import torch

    from gan_core.stylegan2 import Generator
    from gan_core.stylegan2_weights import load_generator

    torch.manual_seed(config.random_seed)
    if config.generator == TWIN:
        from gan_core.twin_models import load_committed_generator

        generator = load_committed_generator()
        about = {
            "generator": f"twin GAN {generator.config.resolution} px ({TWIN_SOURCE}generator.pt)",
            "meaningful": True,
        }
    elif config.generator == RANDOM:
        generator = Generator(config.random_config)
        about = {
            "generator": f"randomly initialised {config.random_config} (seed {config.random_seed})",
            "meaningful": False,
        }
    else:
        loaded = load_generator(weights_path(weights_dir, config.generator))
        generator, about = loaded.generator, {"generator": f"{config.generator} ({loaded.source})", "meaningful": True}
    return generator.eval().requires_grad_(False).to(device), about
