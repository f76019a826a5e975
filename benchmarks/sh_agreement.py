"""Agreement of the weight-free SH fit (mean-3D-face normals) with DPR's published estimator.

Renders ``--faces`` synthetic twin faces, estimates each face's lighting twice: the SH fit on the photo against
the mean-3D-face normals (``gan_core.relight_physical``), and DPR (``gan_core.dpr``, the published weights) on
a square crop around the landmarks. Prints ``tasks.attributes.sh_agreement``: max / median absolute
difference of the DC-normalised coefficients and the median angle between the first-order light directions.
Also prints the DPR port's own agreement with the published network's value on the reference face of the tests
(max abs coefficient difference).

Usage: .venv/bin/python benchmarks/sh_agreement.py --dpr ../shared/weights/dpr/trained_model_03.t7 [--faces 40]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from gan_core.dpr import estimate_sh, load_dpr
from gan_core.relight_physical import RelightError, estimate_source_sh, face_geometry
from landmark_core.synth.dataset import SynthConfig, synthesize_wflw
from landmark_core.wflw_index import index_wflw, landmarks_array
from tasks.attributes import sh_agreement

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dpr", type=Path, required=True)
    parser.add_argument("--faces", type=int, default=40)
    args = parser.parse_args()
    model = load_dpr(args.dpr)
    reference = ROOT / "tests" / "data" / "ffhq" / "astronaut_full_128.png"
    from tests.gan_core.test_dpr import PUBLISHED_SH

    port = estimate_sh(model=model, images_bgr=[cv2.imread(str(reference))])[0]
    print(f"DPR port vs published network (reference face): max abs diff {np.abs(port - PUBLISHED_SH).max():.2e}")
    dpr, fit = [], []
    with tempfile.TemporaryDirectory() as tmp:
        synthesize_wflw(out=Path(tmp), config=SynthConfig(train=args.faces, test=1, seed=11), workers=2)
        faces = index_wflw(root=Path(tmp)).faces
        for (_, face), lm in zip(faces.iterrows(), landmarks_array(faces), strict=True):
            photo = cv2.imread(str(Path(tmp) / face["image_path"]))
            try:
                fit.append(
                    estimate_source_sh(image_bgr=photo, geometry=face_geometry(landmarks=lm, image_shape=photo.shape))
                )
            except RelightError:
                continue
            centre, half = (lm.min(0) + lm.max(0)) / 2, 0.75 * (lm.max(0) - lm.min(0)).max()
            x0, y0 = np.maximum(centre - half, 0).astype(int)
            x1, y1 = (centre + half).astype(int)
            dpr.append(estimate_sh(model=model, images_bgr=[photo[y0:y1, x0:x1]])[0])
    print("SH fit vs DPR on", json.dumps(sh_agreement(np.array(dpr), np.array(fit))), "(synthetic twin faces)")


if __name__ == "__main__":
    main()
