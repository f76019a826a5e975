"""Face detection and 68-point landmarks with dlib, as the study (and FFHQ) did.

dlib's HOG frontal face detector (upsampled once) finds faces; its 68-landmark shape predictor, the model
file ``face-recognition-models`` ships, places the iBUG-68 points FFHQ alignment needs. The model file is
located without importing that package (its ``__init__`` needs ``pkg_resources``, gone from setuptools 81).
Landmarks come back in the project's convention: dlib's integer pixel indices + 0.5.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


def default_predictor_path() -> Path:
    """Where ``face-recognition-models`` installed dlib's 68-landmark predictor.

    Raises:
        FileNotFoundError: the package or its model file is missing (the message says how to install it).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("face-recognition-models is not installed (pip install face-recognition-models)")
    path = Path(spec.origin).parent / "models" / PREDICTOR_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: dlib's 68-landmark predictor is missing from face-recognition-models")
    return path


@dataclass(frozen=True)
class Detection:
    """One detected face.

    Attributes:
        box: (x0, y0, x1, y1) dlib rectangle in pixel xy (corners of the covered pixels).
        landmarks68: (68, 2) float landmarks in pixel xy (pixel centres at +0.5).
        score: the detector's confidence.
    """

    box: tuple[float, float, float, float]
    landmarks68: np.ndarray
    score: float

    @property
    def pixels(self) -> float:
        """Area of the detection box in pixels."""
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


@cache
def _shape_predictor(path: str, mtime_ns: int, size: int):
    """dlib's 68-point shape predictor read from ``path``, once per process and version of the file (its mtime and
    size): reading the model takes over a second, and dlib documents one instance as safe to use from many threads
    at once. A missing file is dlib's RuntimeError, raised again on every call (a failure is not cached)."""
    import dlib  # dlib-bin; imported here so the rest of gan_core loads without it

    return dlib.shape_predictor(path)


class DlibFaceDetector:
    """dlib's frontal face detector (one per instance: dlib's detector is not safe to share between threads) plus
    the 68-point shape predictor (one per process and model file, shared: ``_shape_predictor``)."""

    def __init__(self, *, predictor_path: Path | None = None, upsample: int = 1) -> None:
        import dlib

        path = Path(predictor_path or default_predictor_path())
        stat = path.stat() if path.is_file() else None
        self.upsample = upsample
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = _shape_predictor(str(path), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0)

    def detect(self, *, image_rgb: np.ndarray) -> list[Detection]:
        """Every face dlib finds, best score first.

        Shapes:
            image_rgb (H, W, 3) uint8 RGB.
        """
        rects, scores, _ = self._detector.run(np.ascontiguousarray(image_rgb), self.upsample, 0.0)
        found = []
        for rect, score in zip(rects, scores, strict=True):
            shape = self._predictor(image_rgb, rect)
            points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64) + 0.5
            box = (float(rect.left()), float(rect.top()), float(rect.right() + 1), float(rect.bottom() + 1))
            found.append(Detection(box=box, landmarks68=points, score=float(score)))
        return sorted(found, key=lambda d: -d.score)
