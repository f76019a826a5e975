"""Peak memory of reading a 24000x24000 PNG: the index and the photo reader (header first, refused above the
pixel limit) against decoding it in full (what both did before), each in a fresh process.

    .venv/bin/python benchmarks/large_image.py [--side 24000]

Prints the peak resident memory (MB) of each reader and the ratio decode / ours.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.images import write_png  # noqa: E402

READERS = {
    "decode in full (cv2.imread, the old reader)": "import cv2; cv2.imread(PATH, cv2.IMREAD_UNCHANGED)",
    "index (eltrepro)": (
        "from landmark_core.wflw_index import index_wflw; r = index_wflw(root=ROOT); "
        "assert 'too large' in r.quarantine['reason'].iloc[0]"
    ),
    "load_photo (eltrepro)": (
        "from gan_core.photo import PhotoError, load_photo\ntry:\n    load_photo(PATH)\nexcept PhotoError:\n    pass"
    ),
}


def peak_mb(code: str, *, path: Path, root: Path) -> float:
    """Peak RSS (MB) of a fresh interpreter running ``code`` after its imports, minus its RSS before."""
    script = (
        "import resource, cv2, numpy, pandas, torch\n"
        f"PATH, ROOT = {str(path)!r}, {str(root)!r}\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"{code}\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=24000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    try:
        root = work / "wflw"
        (root / "WFLW_images").mkdir(parents=True)
        (root / "WFLW_annotations" / "list_98pt_rect_attr_train_test").mkdir(parents=True)
        path = write_png(root / "WFLW_images" / "big.png", width=args.side, height=args.side)
        points = " ".join(f"{100 + i} {100 + (i * 7) % 50}" for i in range(98))
        line = f"{points} 10 10 400 400 0 0 0 0 0 0 big.png\n"
        (root / "WFLW_annotations" / "list_98pt_rect_attr_train_test" / "list_98pt_rect_attr_train.txt").write_text(
            line
        )
        print(f"{args.side}x{args.side} PNG, {path.stat().st_size / 1e3:.0f} kB on disk")
        peaks = {name: peak_mb(code, path=path, root=root) for name, code in READERS.items()}
        for name, mb in peaks.items():
            print(f"  {name:45s} peak +{mb:8.1f} MB")
        baseline = next(iter(peaks.values()))
        for name, mb in list(peaks.items())[1:]:
            print(f"  decode / {name}: {baseline / max(mb, 1.0):.0f}x less memory")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
