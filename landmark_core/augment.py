"""Augmentors and the N-step multi-view sampler of section 3.3.1, with one resample per view.

A ``View`` does not hold pixels. It holds the 3x3 matrix from the original image to its current frame, the
landmark permutation (a mirror swaps left and right), the visibility of every landmark, and the ordered list
of raster operations (occluders, lighting, blur) together with the matrix that was current when each was
drawn. ``render_view`` then warps the original image straight to the crop with one ``cv2.warpAffine`` and
replays the raster operations in the output frame. Pointwise operations commute with the warp; an occluder is
a polygon mapped exactly; a blur's sigma is scaled by the warp's scale, so the result matches augmenting
full-size images step by step, without any full-size intermediate.

Every geometric augmentor returns its matrix (``matrix``); all of them act about the face-box centre of the
original image, so a chain of them stays centred on the face and composes into one affine.

The N-step sampler: step k copies the last view (step 1 starts from the identity view), then applies step
k's augmentors to every view so far, each with its own random draw. With two steps the views share step 1
(flip, occlusion, lighting, blur, translation r1, scale) and differ only in step 2 (rotation, translation r2,
crop): exactly the pair the ELT loss relates.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

import cv2
import numpy as np

from landmark_core import geometry
from landmark_core.wflw import FLIP_PERMUTATION, NUM_LANDMARKS

_FLIP = np.asarray(FLIP_PERMUTATION)


@dataclass(frozen=True)
class FaceContext:
    """What every augmentor may know about the face: its original-image box.

    Attributes:
        center: box centre (x, y) in original-image pixels; every geometric op acts about it.
        width, height: box size in original-image pixels.
    """

    center: tuple[float, float]
    width: float
    height: float

    @staticmethod
    def from_box(box: tuple[float, float, float, float]) -> FaceContext:
        """Build from (x_min, y_min, x_max, y_max)."""
        x0, y0, x1, y1 = box
        return FaceContext(center=((x0 + x1) / 2, (y0 + y1) / 2), width=x1 - x0, height=y1 - y0)


@dataclass(frozen=True)
class Occluder:
    """A filled quadrilateral drawn in the frame of ``matrix``. polygon (4, 2); colour BGR."""

    matrix: np.ndarray
    polygon: np.ndarray
    color: tuple[int, int, int]


@dataclass(frozen=True)
class Lighting:
    """Multiply H, S, V by these factors (H clipped at 179, S and V at 255)."""

    factors: tuple[float, float, float]


@dataclass(frozen=True)
class Blur:
    """Gaussian blur of ``sigma`` pixels in the frame of ``matrix``."""

    matrix: np.ndarray
    sigma: float


@dataclass(frozen=True)
class ContrastChange:
    """Scale every pixel's distance from the image mean by ``factor`` (per channel means, clipped to 0-255)."""

    factor: float


RasterOp = Occluder | Lighting | Blur | ContrastChange


@dataclass(frozen=True)
class View:
    """One augmented view, not yet rendered.

    Attributes:
        matrix: (3, 3) original image -> this view's frame.
        perm: (98,) landmark j of this view is original landmark perm[j].
        visible: (98,) False where an occluder covers the landmark.
        ops: raster operations in the order they were applied.
    """

    matrix: np.ndarray = field(default_factory=geometry.identity)
    perm: np.ndarray = field(default_factory=lambda: np.arange(NUM_LANDMARKS))
    visible: np.ndarray = field(default_factory=lambda: np.ones(NUM_LANDMARKS, dtype=bool))
    ops: tuple[RasterOp, ...] = ()

    def landmarks(self, original: np.ndarray) -> np.ndarray:
        """This view's landmarks. Shapes: original (98, 2) -> (98, 2)."""
        return geometry.apply_points(matrix=self.matrix, points=original[self.perm])


class Augmentor(Protocol):
    """Anything that turns a view into a new view with a random draw."""

    def __call__(self, view: View, ctx: FaceContext, landmarks: np.ndarray, rng: np.random.Generator) -> View: ...


def _then(view: View, matrix: np.ndarray) -> View:
    return View(matrix=matrix @ view.matrix, perm=view.perm, visible=view.visible, ops=view.ops)


@dataclass(frozen=True)
class Flip:
    """Mirror about the face centre with probability p; landmarks follow WFLW's left/right permutation."""

    p: float = 0.5

    def matrix(self, ctx: FaceContext) -> np.ndarray:
        """The mirror matrix."""
        return geometry.hflip(center_x=ctx.center[0])

    def __call__(self, view: View, ctx: FaceContext, landmarks: np.ndarray, rng: np.random.Generator) -> View:
        if rng.random() >= self.p:
            return view
        return replace(_then(view, self.matrix(ctx)), perm=view.perm[_FLIP], visible=view.visible[_FLIP])


@dataclass(frozen=True)
class Translate:
    """Shift by dx ~ U(-r w, r w), dy ~ U(-r h, r h) of the face box."""

    r: float = 0.05

    def matrix(self, ctx: FaceContext, rng: np.random.Generator) -> np.ndarray:
        """Draw and return the shift."""
        u = rng.uniform(-self.r, self.r, size=2)
        return geometry.translation(dx=u[0] * ctx.width, dy=u[1] * ctx.height)

    def __call__(self, view: View, ctx: FaceContext, landmarks: np.ndarray, rng: np.random.Generator) -> View:
        return view if self.r == 0 else _then(view, self.matrix(ctx, rng))


@dataclass(frozen=True)
class Rotate:
    """Rotate about the face centre by alpha ~ U(-max_deg, max_deg) (equation 3.2 with s = 1)."""

    max_deg: float = 45.0

    def matrix(self, ctx: FaceContext, rng: np.random.Generator) -> np.ndarray:
        """Draw and return the rotation."""
        angle = rng.uniform(-self.max_deg, self.max_deg)
        return geometry.rotation_scale(angle_deg=angle, scale=1.0, center=ctx.center)

    def __call__(self, view: View, ctx: FaceContext, landmarks: np.ndarray, rng: np.random.Generator) -> View:
        return _then(view, self.matrix(ctx, rng))


@dataclass(frozen=True)
class Scale:
    """Scale about the face centre by s ~ 1 + U(-amount, amount) (equation 3.2 with alpha = 0)."""

    amount: float = 0.15

    def matrix(self, ctx: FaceContext, rng: np.random.Generator) -> np.ndarray:
        """Draw and return the scaling."""
        s = 1.0 + rng.uniform(-self.amount, self.amount)
        return geometry.rotation_scale(angle_deg=0.0, scale=s, center=ctx.center)

    def __call__(self, view: View, ctx: FaceContext, landmarks: np.ndarray, rng: np.random.Generator) -> View:
        return _then(view, self.matrix(ctx, rng))


@dataclass(frozen=True)
class Crop:
    """Square of side factor * max(w, h) around the face centre, resized to size x size (equation 3.6)."""

    size: int = 128
    factor: float = 1.6

    def matrix(self, ctx: FaceContext) -> np.ndarray:
        """The crop matrix (original frame -> size x size)."""
        side = self.factor * max(ctx.width, ctx.height)
        return geometry.square_crop(center=ctx.center, side=side, size=self.size)

    def __call__(self, view: View, ctx: FaceContext, landmarks: np.ndarray, rng: np.random.Generator) -> View:
        return _then(view, self.matrix(ctx))


@dataclass(frozen=True)
class Occlude:
    """With probability p, a random-colour rectangle with sides U(lo, hi) of the box, centred inside the box."""

    p: float = 0.5
    lo: float = 0.1
    hi: float = 0.4

    def __call__(self, view: View, ctx: FaceContext, landmarks: np.ndarray, rng: np.random.Generator) -> View:
        if rng.random() >= self.p:
            return view
        w, h = rng.uniform(self.lo, self.hi, size=2) * (ctx.width, ctx.height)
        # The box centre in the current frame, then a uniform position inside the current box extent.
        center = geometry.apply_points(matrix=view.matrix, points=np.array([ctx.center]))[0]
        s = geometry.scale_of(view.matrix)
        cx, cy = center + rng.uniform(-0.5, 0.5, size=2) * (ctx.width * s, ctx.height * s)
        w, h = w * s, h * s
        poly = np.array(
            [[cx - w / 2, cy - h / 2], [cx + w / 2, cy - h / 2], [cx + w / 2, cy + h / 2], [cx - w / 2, cy + h / 2]]
        )
        color = tuple(int(c) for c in rng.integers(0, 256, size=3))
        pts = view.landmarks(landmarks)
        inside = (np.abs(pts[:, 0] - cx) <= w / 2) & (np.abs(pts[:, 1] - cy) <= h / 2)
        op = Occluder(matrix=view.matrix, polygon=poly, color=color)
        return replace(view, visible=view.visible & ~inside, ops=(*view.ops, op))


@dataclass(frozen=True)
class Light:
    """With probability p, multiply each HSV channel by U(lo, hi)."""

    p: float = 0.5
    lo: float = 0.5
    hi: float = 1.5

    def __call__(self, view: View, ctx: FaceContext, landmarks: np.ndarray, rng: np.random.Generator) -> View:
        if rng.random() >= self.p:
            return view
        factors = tuple(float(f) for f in rng.uniform(self.lo, self.hi, size=3))
        return replace(view, ops=(*view.ops, Lighting(factors=factors)))


@dataclass(frozen=True)
class Contrast:
    """With probability p, scale the contrast by U(lo, hi) about the crop's mean (a photometric change: no
    landmark moves, so it leaves the view's matrix and visibility as they are)."""

    p: float = 0.5
    lo: float = 0.6
    hi: float = 1.4

    def __call__(self, view: View, ctx: FaceContext, landmarks: np.ndarray, rng: np.random.Generator) -> View:
        if rng.random() >= self.p:
            return view
        return replace(view, ops=(*view.ops, ContrastChange(factor=float(rng.uniform(self.lo, self.hi)))))


@dataclass(frozen=True)
class GaussianBlur:
    """With probability p, a Gaussian blur with a random odd kernel in [3, max_kernel] (OpenCV's sigma rule)."""

    p: float = 0.3
    max_kernel: int = 9

    def __call__(self, view: View, ctx: FaceContext, landmarks: np.ndarray, rng: np.random.Generator) -> View:
        if rng.random() >= self.p:
            return view
        k = 2 * int(rng.integers(1, self.max_kernel // 2 + 1)) + 1
        sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8
        return replace(view, ops=(*view.ops, Blur(matrix=view.matrix, sigma=sigma)))


Step = tuple[Augmentor, ...]


def sample_views(
    *,
    steps: tuple[Step, ...],
    ctx: FaceContext,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    copies: tuple[int, ...] | None = None,
) -> list[View]:
    """Run the N-step sampler: step k copies the last view, then augments every view so far.

    Args:
        steps: augmentors per step.
        ctx: the face box.
        landmarks: (98, 2) original landmarks (for occlusion visibility).
        rng: the only source of randomness.
        copies: how many copies of the last view each step adds (default one per step). ``(1, V - 1)`` with two
            steps gives V views that share step 1 and each draw their own step 2 (the ELT term's V copies);
            ``(1, 1)`` is the study's pair, with the same draws as the default.

    Returns:
        ``sum(copies)`` views; a view added at step k has been through steps 1..k (the earlier views through
        step k as well).
    """
    copies = copies or (1,) * len(steps)
    if len(copies) != len(steps) or min(copies) < 1:
        raise ValueError(f"copies {copies} must give a positive count for each of the {len(steps)} steps")
    views: list[View] = []
    for step, added in zip(steps, copies, strict=True):
        views += [views[-1] if views else View()] * added
        for i, view in enumerate(views):
            for aug in step:
                view = aug(view, ctx, landmarks, rng)
            views[i] = view
    return views


_RAMP = np.arange(256, dtype=np.float32)[:, None]
_HSV_LIMITS = np.array([179.0, 255.0, 255.0], dtype=np.float32)


def _lighting_lut(factors: tuple[float, float, float]) -> np.ndarray:
    """A (256, 1, 3) uint8 table multiplying H, S, V by ``factors`` (H clipped at 179, S and V at 255)."""
    lut = np.minimum(_RAMP * np.asarray(factors, dtype=np.float32), _HSV_LIMITS)
    return np.rint(lut).astype(np.uint8).reshape(256, 1, 3)


def _apply_op(image: np.ndarray, op: RasterOp, final: np.ndarray) -> np.ndarray:
    if isinstance(op, Occluder):
        poly = geometry.apply_points(matrix=final @ geometry.invert(op.matrix), points=op.polygon)
        cv2.fillConvexPoly(image, np.round((poly - 0.5) * 16).astype(np.int32), op.color, cv2.LINE_AA, shift=4)
        return image
    if isinstance(op, ContrastChange):
        mean = image.reshape(-1, image.shape[-1]).mean(axis=0)
        return np.clip((image - mean) * op.factor + mean + 0.5, 0, 255).astype(np.uint8)
    if isinstance(op, Lighting):
        hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
        return cv2.cvtColor(cv2.LUT(hsv, _lighting_lut(op.factors)), cv2.COLOR_HSV2BGR)
    sigma = op.sigma * geometry.scale_of(final @ geometry.invert(op.matrix))
    return cv2.GaussianBlur(image, (0, 0), sigmaX=max(sigma, 1e-3)) if sigma >= 0.3 else image


def render_views(
    *, image: np.ndarray, landmarks: np.ndarray, views: list[View], size: int, antialias: bool = False
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rasterise views whose matrices end in a size x size crop, each with one warp from the original image.

    Args:
        image: (H, W, 3) uint8 BGR original image.
        landmarks: (98, 2) original landmarks.
        views: views of this face (their matrices map the original image into the crop).
        size: crop side in pixels.
        antialias: area-reduce the source first when the crop shrinks it 2x or more (one reduction shared by
            all views, see ``geometry.area_reduce``).

    Returns:
        Per view: the (size, size, 3) uint8 BGR crop and its (98, 2) landmarks in crop pixels.
    """
    source, to_source = image, np.eye(3)
    if antialias:
        source, to_source = geometry.area_reduce(image=image, matrices=[v.matrix for v in views], size=size)
    from_source = geometry.invert(to_source)
    out = []
    for view in views:
        crop = geometry.warp_affine(image=source, matrix=view.matrix @ from_source, size=size, antialias=False)
        for op in view.ops:
            crop = _apply_op(crop, op, view.matrix)
        out.append((crop, view.landmarks(landmarks)))
    return out


def render_view(
    *, image: np.ndarray, landmarks: np.ndarray, view: View, size: int, antialias: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``render_views`` for a single view. Returns the (size, size, 3) crop and its (98, 2) landmarks."""
    return render_views(image=image, landmarks=landmarks, views=[view], size=size, antialias=antialias)[0]
