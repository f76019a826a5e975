"""One twin face per picture, drawn from a seed, that can be drawn again under any other light.

The GAN half of the study works on single, roughly frontal faces (FFHQ). A portrait is the twin's face
(identity, expression, pose, appearance, light, drawn with the twin's own samplers at WFLW's condition rates)
centred in a square photo with its own background. Everything but the light is fixed by the seed, so
``render_portrait(portrait=p, lighting=other)`` is the same face, same pixels of background and same 98
landmarks under another light: the ground truth a relighting method can be checked against.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from landmark_core.synth.dataset import _appearance, _expression, _identity, _lighting, _pose
from landmark_core.synth.face import face_shape
from landmark_core.synth.render import FaceSpec, Lighting, render_face
from landmark_core.synth.scene import background

STREAM = 52_361  # separates the portraits' random streams from the twin dataset's


@dataclass(frozen=True)
class Portrait:
    """A face and its photo, all but the light fixed.

    Attributes:
        spec: the face (its ``lighting`` is the portrait's own light).
        side: the square photo's side in pixels.
        focal: the camera's focal length in pixels.
        background_seed: seed of the background.
        texture_seed: seed of the skin texture.
    """

    spec: FaceSpec
    side: int
    focal: float
    background_seed: int
    texture_seed: int


def sample_portrait(
    *, seed: int, side: int = 256, p_expression: float = 0.13, p_illumination: float = 0.28, p_makeup: float = 0.08
) -> Portrait:
    """Draw the portrait of ``seed``: a near-frontal twin face filling about 40 % of a ``side``-pixel photo.

    Poses are the twin's common ones (yaw within 33 degrees), as FFHQ's are; expression, harsh light and make-up
    come at the given rates (WFLW's by default).
    """
    if side < 64:
        raise ValueError(f"a portrait needs a side of at least 64 px, got {side}")
    rng = np.random.default_rng([seed, STREAM])
    yaw, pitch, roll = _pose(rng, False)
    expression = _expression(rng, bool(rng.random() < p_expression))
    spec = FaceSpec(
        shape=face_shape(identity=_identity(rng), expression=expression),
        yaw=yaw,
        pitch=pitch,
        roll=roll,
        center=(float(side * rng.uniform(0.47, 0.53)), float(side * rng.uniform(0.5, 0.56))),
        face_width=float(side * rng.uniform(0.36, 0.44)),
        appearance=_appearance(rng, bool(rng.random() < p_makeup)),
        lighting=_lighting(rng, bool(rng.random() < p_illumination)),
        mouth_open=expression.mouth_open,
    )
    focal = float(side * rng.uniform(1.2, 1.8))
    return Portrait(spec, side, focal, int(rng.integers(2**31)), int(rng.integers(2**31)))


def render_portrait(*, portrait: Portrait, lighting: Lighting | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``portrait``, under its own light or ``lighting``.

    Returns:
        The photo ``(side, side, 3)`` float32 RGB in [0, 1] and its ``(98, 2)`` landmarks (pixel xy, WFLW order),
        which do not depend on the light.
    """
    spec = portrait.spec if lighting is None else dataclasses.replace(portrait.spec, lighting=lighting)
    image = background(rng=np.random.default_rng(portrait.background_seed), width=portrait.side, height=portrait.side)
    rendered = render_face(image=image, spec=spec, focal=portrait.focal, texture_seed=portrait.texture_seed)
    return image, rendered.landmarks
