"""The tiny profile the flow tests run: an 8+6-face twin, the 32x32 network, one epoch, three matrix rows (one
relit), and a GAN-branch section small enough for a test."""

from __future__ import annotations

from pathlib import Path

from tests.tiny import tiny_model_toml

PROFILE = """
device = "cpu"
matrix = "{matrix}"
claims = "{claims}"
[synth]
train = 8
test = 6
seed = 3
[train]
batch_size = 4
max_epochs = 1
val_fraction = 0.2
"""
PROFILE += tiny_model_toml("train.model") + "[train.augment]\nsize = 32\n"
MATRIX = """
[[row]]
name = "two_step_l0"
tables = ["4.1"]
augment = {{ views = 2, r1 = 0.05 }}
loss = {{ elt_lambda = 0.0 }}
[[row]]
name = "elt"
label = "λelt = {lam}"
control = "two_step_l0"
tables = ["4.1", "4.5"]
augment = {{ views = 2, r1 = 0.0, r2 = 0.05 }}
loss = {{ elt_lambda = {lam} }}
[[row]]
name = "elt_relit"
relit = "physical"
"""
CLAIMS = """
[[claim]]
id = "elt_beats_control"
text = "The ELT row has a lower Full NME than the control"
row = "elt"
than = "two_step_l0"
subset = "full"
direction = "lower"
[[claim]]
id = "relit_worse"
text = "The relit row is worse than the ELT row"
row = "elt_relit"
than = "elt"
subset = "full"
direction = "higher"
"""


GAN = """
[gan.detect]
max_images = 6
[gan.detect.align]
output_size = 256
transform_size = 1024
[gan.filter]
min_pixels = 4000
[gan.segment_train.network]
input_size = 64
width = 0.25
fc_channels = 32
epochs = 2
batch_size = 4
[gan.project]
generator = "random"
perceptual = "random"
amp = false
[gan.project.projector]
steps = 8
w_avg_samples = 256
discard_step = 4
[gan.physical]
max_faces = 4
[gan.attributes]
estimator = "fit"
[gan.styleflow]
flow = "random"
[gan.styleflow.variants]
n_variants = 1
[gan.review]
policy = "auto"
lpips_threshold = 1e9
"""


def write_profile(folder: Path, lam: float, *, gan: bool = False) -> Path:
    """A profile (and its matrix and claims) in ``folder``; ``lam`` is the ``elt`` row's ELT weight."""
    matrix, claims = folder / "matrix.toml", folder / "claims.toml"
    matrix.write_text(MATRIX.format(lam=lam))
    claims.write_text(CLAIMS)
    profile = folder / "profile.toml"
    profile.write_text(PROFILE.format(matrix=matrix, claims=claims) + (GAN if gan else ""))
    return profile
