"""Two or more trained rows on the same faces: where they disagree, as a table and a self-contained HTML page.

Every row's model predicts the same faces (the same boxes, so the same crops); a face's disagreement is the mean
distance between two rows' landmarks divided by the inter-ocular distance (outer eye corners 60 and 72) of
their mean, averaged over every pair of rows. Sorted by it, the page shows first the faces where, say, the ELT
term changed most; each face is a crop with every row's landmarks in its own colour. The page is the Jinja2
template ``compare_page.html`` rendered with autoescape on, so everything it shows from the data (file names, row
names, run details) is escaped; the pictures are embedded as data URIs, so the page is one file.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from elt_models.boxes import GivenBoxes
from elt_models.inputs import VIDEOS, output_names
from elt_models.predict import PhotoFaces, Predictor, face_boxes, read_photo

COLOURS = ((0, 200, 0), (0, 0, 230), (230, 120, 0), (200, 0, 200), (0, 200, 220))  # BGR, one per row
CROP_SIDE = 256
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class FacePredictions:
    """One face and every compared row's landmarks on it.

    Attributes:
        image: the photo's path.
        face: the face's number in the photo.
        box: (4,) x_min, y_min, x_max, y_max.
        points: (R, 98, 2) photo pixels, one (98, 2) per row, in the rows' order.
        label: how the page names the photo (default its file name; ``predict_rows`` gives the path relative to
            the folder holding every input, so two ``x.jpg`` of different folders are told apart).
    """

    image: Path
    face: int
    box: np.ndarray
    points: np.ndarray
    label: str | None = None


def predict_rows(
    predictors: list[Predictor], inputs: list[Path], *, given: GivenBoxes | None = None
) -> tuple[list[FacePredictions], list[dict]]:
    """Every row's landmarks on every face of the photos (the first predictor's detector finds the faces, so all
    rows see the same boxes).

    Args:
        predictors: one per row, in the rows' order.
        inputs: photos, each once (``elt_models.predict.find_inputs``); videos are skipped.
        given: boxes from a CSV instead of the detector (checked against each photo as ``predict`` does).

    Returns:
        The faces, and the skipped rows (``input``, ``reason``): a video, unreadable, no face, a given box that
        does not fit the photo, a face some row's landmarks are not finite for.
    """
    faces, skipped = [], []
    names = output_names(inputs)
    shared = {name for name, count in Counter(p.name for p in inputs).items() if count > 1}
    for path in inputs:
        if path.suffix.lower() in VIDEOS:
            skipped.append({"input": str(path), "reason": "compare takes photos, not videos"})
            continue
        try:
            image = read_photo(path)
        except ValueError as error:
            skipped.append({"input": str(path), "reason": str(error).removeprefix(f"{path}: ")})
            continue
        where = PhotoFaces(given=given, name=names[path], shared_name=path.name in shared)
        boxes, reasons = face_boxes(predictors[0], image, path, where)
        skipped += [{"input": str(path), "reason": reason} for reason in reasons]
        if not len(boxes):
            continue
        points = np.stack([p.landmarks(image, boxes) for p in predictors], axis=1)  # (N, R, 98, 2)
        for k in range(len(boxes)):
            if not np.isfinite(points[k]).all():
                skipped.append({"input": str(path), "reason": f"face {k}: a row's model gave non-finite landmarks"})
                continue
            faces.append(FacePredictions(image=path, face=k, box=boxes[k], points=points[k], label=names[path]))
    return faces, skipped


def disagreement(points: np.ndarray) -> float:
    """Mean over row pairs of the mean landmark distance over the inter-ocular distance of the pair's mean.

    Shapes: points (R, 98, 2), R >= 2.
    """
    values = []
    for a, b in combinations(points, 2):
        middle = (a + b) / 2
        ocular = max(float(np.linalg.norm(middle[60] - middle[72])), 1e-9)
        values.append(float(np.linalg.norm(a - b, axis=1).mean()) / ocular)
    return float(np.mean(values))


def disagreement_table(faces: list[FacePredictions], rows: list[str]) -> pd.DataFrame:
    """One line per face, most disagreeing first: image, face, disagreement."""
    table = pd.DataFrame(
        {
            "image": [str(f.image) for f in faces],
            "face": [f.face for f in faces],
            "disagreement": [disagreement(f.points) for f in faces],
        }
    )
    table.attrs["rows"] = rows
    return table.sort_values("disagreement", ascending=False, kind="stable").reset_index(drop=True)


def face_picture(image: np.ndarray, face: FacePredictions) -> bytes:
    """The face's crop (1.6 times its box) with every row's landmarks drawn, as PNG bytes."""
    x0, y0, x1, y1 = face.box
    side = 1.6 * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    scale = CROP_SIDE / side
    matrix = np.array([[scale, 0, CROP_SIDE / 2 - scale * cx], [0, scale, CROP_SIDE / 2 - scale * cy]])
    crop = cv2.warpAffine(image, matrix, (CROP_SIDE, CROP_SIDE), flags=cv2.INTER_AREA, borderValue=(40, 40, 40))
    for points, colour in zip(face.points, COLOURS, strict=False):
        moved = points @ matrix[:, :2].T + matrix[:, 2]
        for x, y in moved:
            cv2.circle(crop, (int(round(x)), int(round(y))), 2, colour, -1, cv2.LINE_AA)
    return cv2.imencode(".png", crop)[1].tobytes()


def compare_html(*, faces: list[FacePredictions], rows: list[str], details: list[str], top: int) -> str:
    """The page: the rows with their colours, then the ``top`` most disagreeing faces, each with its picture.

    Args:
        faces: every face, with every row's landmarks (none: the page says no face was found).
        rows: the rows' names, in the order of ``FacePredictions.points``.
        details: one line per row (its run and test NME), shown in the legend.
        top: how many faces the page shows (the table holds them all).

    Returns:
        The page (``compare_page.html`` rendered with autoescape on), self-contained.
    """
    table = disagreement_table(faces, rows)
    by_key = {(str(f.image), f.face): f for f in faces}
    cells = []
    for _, line in table.head(top).iterrows():
        face = by_key[(line["image"], line["face"])]
        picture = base64.b64encode(face_picture(read_photo(face.image), face)).decode()
        cells.append(
            {
                "picture": picture,
                "name": face.label or face.image.name,
                "face": face.face,
                "disagreement": line["disagreement"],
            }
        )
    legend = [
        {"name": row, "detail": detail, "colour": f"rgb{tuple(reversed(colour))}"}
        for row, detail, colour in zip(rows, details, COLOURS, strict=False)
    ]
    return _TEMPLATES.get_template("compare_page.html").render(
        title=" vs ".join(rows),
        legend=legend,
        faces=len(table),
        mean=float(table["disagreement"].mean()) if len(table) else None,
        shown=min(top, len(table)),
        cells=cells,
    )
