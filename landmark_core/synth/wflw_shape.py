"""The real WFLW's shape, for a twin of WFLW's size: split sizes, photo sizes, face sizes, faces per photo, subsets.

The facts were measured on the real WFLW annotations and the WIDER FACE photos they come from:

* 7,500 train and 2,500 test faces;
* photos almost all 1,024 px wide; heights median 757 px, 90th percentile 1,518 px, largest 9,108 px
  (0.91 Mpixel on average);
* face width (the 98-landmark box): 1st percentile 57 px, 10th 65, median 96, 90th 249, 99th 570;
* about 87 % of photos hold one annotated face, 10 % two, the rest three to six;
* the official test subsets: pose 326, expression 314, illumination 698, make-up 206, occlusion 736,
  blur 773 of the 2,500 test faces.

Each sampler draws from a distribution that has exactly these quantiles (face widths: a piecewise log-linear
quantile function through them; heights: a log-normal with the published median and 90th percentile).
"""

from __future__ import annotations

import numpy as np

TRAIN_FACES = 7_500
TEST_FACES = 2_500
PHOTO_WIDTH = 1_024
HEIGHT_MEDIAN = 757.0
HEIGHT_P90 = 1_518.0
HEIGHT_MIN, HEIGHT_MAX = 200, 9_108
P_NARROW = 0.03  # "almost all" 1,024 px wide: the rest 480-1,023 px
FACE_WIDTH_QUANTILES: tuple[tuple[float, float], ...] = (
    (0.0, 52.0),
    (0.01, 57.0),
    (0.10, 65.0),
    (0.50, 96.0),
    (0.90, 249.0),
    (0.99, 570.0),
    (1.0, 800.0),
)
FACES_PER_PHOTO: tuple[tuple[int, float], ...] = ((1, 0.87), (2, 0.10), (3, 0.015), (4, 0.008), (5, 0.004), (6, 0.003))
SUBSET_RATES: dict[str, float] = {
    "pose": 326 / TEST_FACES,
    "expression": 314 / TEST_FACES,
    "illumination": 698 / TEST_FACES,
    "makeup": 206 / TEST_FACES,
    "occlusion": 736 / TEST_FACES,
    "blur": 773 / TEST_FACES,
}


def split_faces(*, fraction: float) -> dict[str, int]:
    """Faces per split for a twin ``fraction`` of WFLW's size (at least one test face at any fraction).

    Returns:
        ``{"train": n, "test": m}``.
    """
    return {"train": max(1, round(TRAIN_FACES * fraction)), "test": max(1, round(TEST_FACES * fraction))}


def faces_per_photo(*, rng: np.random.Generator, faces: int) -> list[int]:
    """How many faces each photo of a split holds, drawn until ``faces`` are placed (the last photo trimmed)."""
    counts, values = [], [n for n, _ in FACES_PER_PHOTO]
    weights = np.array([p for _, p in FACES_PER_PHOTO])
    while (placed := sum(counts)) < faces:
        counts.append(min(int(rng.choice(values, p=weights / weights.sum())), faces - placed))
    return counts


def photo_size(*, rng: np.random.Generator) -> tuple[int, int]:
    """A WIDER FACE photo's (width, height) in pixels."""
    width = PHOTO_WIDTH if rng.random() >= P_NARROW else int(rng.integers(480, PHOTO_WIDTH))
    sigma = np.log(HEIGHT_P90 / HEIGHT_MEDIAN) / 1.2815515655446004  # the normal's 90th percentile
    height = int(np.clip(round(HEIGHT_MEDIAN * np.exp(sigma * rng.standard_normal())), HEIGHT_MIN, HEIGHT_MAX))
    return width, height


def face_width(*, rng: np.random.Generator) -> float:
    """A face's width in pixels (its 98-landmark box), with WFLW's quantiles."""
    q, width = np.array(FACE_WIDTH_QUANTILES).T
    return float(np.exp(np.interp(rng.random(), q, np.log(width))))
