"""Registry of the published weights the GAN branch uses: official URLs, sizes and sha256 where known, licences.

Files are fetched with :func:`landmark_core.download.fetch_files` (resumable, checksummed, mirror-able). Where
no trustworthy digest is known to the project (NVIDIA and PyTorch publish none), ``sha256`` is None and the
first download must be pinned explicitly (``eltrepro weights fetch --trust-first-download``, or ``--sha256``);
the pin is kept in the destination's ``checksums.json`` and enforced on every later fetch.
"""

from __future__ import annotations

from landmark_core.download import RemoteFile

NVIDIA_LICENCE = (
    "NVIDIA Source Code License-NC (https://nvlabs.github.io/stylegan2-ada-pytorch/license.html): "
    "non-commercial research and evaluation use only."
)

WEIGHTS: dict[str, RemoteFile] = {
    "ffhq-1024": RemoteFile(
        name="ffhq.pkl",
        url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/ffhq.pkl",
        extract=False,
        note="StyleGAN2 config-f, FFHQ 1024x1024, NVIDIA stylegan2-ada-pytorch pickle (loaded with the "
        f"restricted unpickler). {NVIDIA_LICENCE}",
    ),
    "ffhq-1024-noaug": RemoteFile(
        name="ffhq-res1024-mirror-stylegan2-noaug.pkl",
        url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/transfer-learning-source-nets/"
        "ffhq-res1024-mirror-stylegan2-noaug.pkl",
        extract=False,
        note=f"StyleGAN2 config-f, FFHQ 1024x1024 trained without augmentation. {NVIDIA_LICENCE}",
    ),
    "lpips-vgg-lin": RemoteFile(
        name="lpips_vgg_v0.1.pth",
        url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth",
        sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
        size=7289,
        extract=False,
        note="LPIPS v0.1 linear layers for VGG16 (the file lpips 0.1.4 ships); BSD-2-Clause.",
    ),
    "vgg16-imagenet": RemoteFile(
        name="vgg16-397923af.pth",
        url="https://download.pytorch.org/models/vgg16-397923af.pth",
        size=553433881,
        extract=False,
        note="torchvision's ImageNet VGG16 (LPIPS' backbone); the name carries the first 8 hex digits of its "
        "sha256 (397923af), which the project checks. BSD-3-Clause (torchvision).",
    ),
    "dpr-512": RemoteFile(
        name="trained_model_03.t7",
        url="https://github.com/zhhoper/DPR/raw/master/trained_model/trained_model_03.t7",
        sha256="950157bf950b899eba7bb1a6439d602e89fef9d180e235d034774d6d8583bc51",
        size=2812830,
        extract=False,
        note="DPR's 512x512 grayscale HourglassNet (Zhou et al., ICCV 2019); research use only.",
    ),
    "styleflow-large": RemoteFile(
        name="modellarge10k.pt",
        url="https://github.com/RameenAbdal/StyleFlow/raw/master/flow_weight/modellarge10k.pt",
        extract=False,
        note="StyleFlow's conditional CNF (Abdal et al., ACM TOG 2021), the large model the editor loads "
        "(git blob 94fd23b8d3e51d1921309694bc51ee9ead122961 in the StyleFlow repository); CC BY-NC-SA 4.0.",
    ),
    "vgg16-keras-notop": RemoteFile(
        name="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        url="https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        extract=False,
        note="Keras' ImageNet VGG16 without the classifier: the segmenter's backbone at the start of its training "
        "(gan.segment_train.vgg16_weights). MIT (Keras); ImageNet weights for research use.",
    ),
}

SHA256_PREFIXES: dict[str, str] = {"vgg16-imagenet": "397923af"}
"""Partial digests published in file names (torchvision's convention), checked after download."""


def weight_file(name: str) -> RemoteFile:
    """The registry entry ``name``; KeyError lists the known names."""
    if name not in WEIGHTS:
        raise KeyError(f"unknown published weights {name!r}; known: {sorted(WEIGHTS)}")
    return WEIGHTS[name]
