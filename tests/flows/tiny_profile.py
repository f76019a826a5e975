"""The tiny profile the flow tests run: an 8+6-face twin, the 32x32 network, one epoch, three matrix rows (one
relit), and a GAN-branch section small enough for a test; with ``future=True`` also two future-work rows (half
the labels with ELT, and StyleFlow attribute edits) and their hypotheses."""

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
FUTURE_ROWS = """
[[row]]
name = "semi_elt"
label = "half the labels + ELT"
control = "elt"
beyond_study = true
future_work = "unlabelled data"
augment = { views = 2, r1 = 0.0, r2 = 0.05 }
loss = { elt_lambda = 0.25 }
train = { labelled_fraction = 0.5 }
[[row]]
name = "elt_edited"
label = "ELT w/ attribute edits"
control = "elt"
relit = "styleflow_edit"
beyond_study = true
future_work = "other attribute edits"
"""
HYPOTHESES = """
[[hypothesis]]
id = "semi_no_worse"
text = "Half the labels with ELT is worse than all labels"
row = "semi_elt"
than = "elt"
subset = "full"
direction = "higher"
[[hypothesis]]
id = "edits_help"
text = "The attribute edits lower the Full NME"
row = "elt_edited"
than = "elt"
subset = "full"
direction = "lower"
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
[gan.styleflow_edit]
attribute = "glasses"
flow = "random"
[gan.review]
policy = "auto"
lpips_threshold = 1e9
"""


def write_profile(folder: Path, lam: float, *, gan: bool = False, future: bool = False) -> Path:
    """A profile (and its matrix and claims; hypotheses with ``future``) in ``folder``; ``lam`` is the ``elt``
    row's ELT weight."""
    matrix, claims, hypotheses = folder / "matrix.toml", folder / "claims.toml", folder / "hypotheses.toml"
    matrix.write_text(MATRIX.format(lam=lam) + (FUTURE_ROWS if future else ""))
    claims.write_text(CLAIMS)
    text = PROFILE.format(matrix=matrix, claims=claims)
    if future:
        hypotheses.write_text(HYPOTHESES)
        text = f'hypotheses = "{hypotheses}"\n' + text
    profile = folder / "profile.toml"
    profile.write_text(text + (GAN if gan else ""))
    return profile
