"""Face segmentation and paste-back stages: ``segment_train``, ``segment``, ``paste``. Thin adapters over
``gan_core``.

``segment_train`` trains the VGG16-FCN on face crops with binary face masks: the synthetic twin's own masks
(demo profile; the renderer knows every face's skin region) or LFW Part Labels (thesis profile), and reports
pixel accuracy and IoU on a held-out part. ``segment`` predicts the mask of every kept aligned face.
``paste`` blurs each mask into an alpha matte and pastes the (edited) aligned face back into its photo; every
output row is a new WFLW-format face: a new image, the annotation of the WFLW face it came from, and
``source_face_id``, the format the training stage's optional augmented input reads.

TensorFlow is imported by the functions that need it, with ``TF_ENABLE_ONEDNN_OPTS=0`` (TF 2.21's oneDNN
path aborts on some CPUs) unless the user set it.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from gan_core.lfw_parts import LFW_PARTS_FILES, index_lfw_parts, load_pair
from gan_core.paste import alpha_matte, paste_back
from gan_core.photo import load_photo
from gan_core.segment import SegmenterConfig, crop_square, face_square, mask_scores, resize_for_net
from landmark_core.download import fetch_files
from landmark_core.synth.dataset import SYNTH_DIR
from tasks.data import DATASET_DIR
from tasks.gan import record_of
from tasks.stage import StageOutput, StageResult, StageSpec, Store, run_stage

SEGMENT_TRAIN = StageSpec(name="segment_train", version=1, modules=("gan_core.segment", "gan_core.lfw_parts",
                                                                     "tasks.segment"))  # fmt: skip
SEGMENT = StageSpec(name="segment", version=1, modules=("gan_core.segment", "tasks.segment"))
PASTE = StageSpec(name="paste", version=1, modules=("gan_core.paste", "gan_core.align", "gan_core.homography",
                                                     "gan_core.photo", "tasks.segment"))  # fmt: skip
WEIGHTS = "segmenter.weights.h5"
PASTED_DIR = "WFLW_images/pasted"


@dataclass(frozen=True)
class SegmentTrainParams:
    """How the segmenter is trained.

    Attributes:
        data: ``twin`` (the synthetic twin's masks) or ``lfw`` (LFW Part Labels in ``lfw_dest``).
        network: shape and schedule.
        vgg16_weights: ImageNet VGG16 weights file; None trains from scratch (with a warning).
        lfw_dest: download folder of LFW Part Labels; ``lfw_trust_first_download`` pins unknown digests;
            ``lfw_mirror`` replaces the official base URL.
        holdout: fraction of the twin's faces held out for the scores (LFW uses its own test list).
        max_faces: at most this many training faces (0 = all).
    """

    data: str = "twin"
    network: SegmenterConfig = field(default_factory=SegmenterConfig)
    vgg16_weights: str | None = None
    lfw_dest: str = "data/LFW_parts"
    lfw_trust_first_download: bool = False
    lfw_mirror: str | None = None
    holdout: float = 0.2
    max_faces: int = 0


def _tf_env() -> None:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def twin_pairs(*, dataset: StageOutput, index: StageOutput, size: int) -> tuple[np.ndarray, np.ndarray]:
    """LFW-like crops of the twin's training faces and their true face masks.

    Shapes:
        -> images (N, size, size, 3) uint8 RGB, masks (N, size, size) float32 {0, 1}.
    """
    root = dataset.local_dir() / DATASET_DIR
    truth_file = root / SYNTH_DIR / "truth_train.parquet"
    if not truth_file.is_file():
        raise FileNotFoundError(f"{truth_file}: no face masks (data = 'twin' needs the synthetic twin)")
    truth = pd.read_parquet(truth_file)[["line", "mask"]]
    faces = index.manifest().query("split == 'train'").merge(truth, on="line")
    images, masks = [], []
    for _, row in faces.iterrows():
        photo = cv2.imread(str(root / row["image_path"]))
        mask = (cv2.imread(str(root / row["mask"]), cv2.IMREAD_GRAYSCALE) > 127).astype(np.uint8)
        square = face_square(box=(row["bbox_x_min"], row["bbox_y_min"], row["bbox_x_max"], row["bbox_y_max"]))
        images.append(cv2.cvtColor(crop_square(image=photo, square=square, size=size), cv2.COLOR_BGR2RGB))
        masks.append(crop_square(image=mask, square=square, size=size, mask=True))
    return np.stack(images), np.stack(masks).astype(np.float32)


def lfw_pairs(*, params: SegmentTrainParams) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """LFW Part Labels by split (fetched or verified first), resized to the network input."""
    dest = Path(params.lfw_dest)
    fetch_files(files=LFW_PARTS_FILES, dest=dest, mirror=params.lfw_mirror,
                trust_first_download=params.lfw_trust_first_download)  # fmt: skip
    faces, _ = index_lfw_parts(root=dest)
    out = {}
    for split in ("train", "test"):
        pairs = [load_pair(root=dest, face=f) for f in faces if f.split == split]
        size = params.network.input_size
        out[split] = (np.stack([resize_for_net(image=i, size=size) for i, _ in pairs]),
                      np.stack([resize_for_net(image=m, size=size, mask=True) for _, m in pairs]) / 255.0)  # fmt: skip
    return out


def segment_train_stage(
    *, store: Store, dataset: StageOutput, index: StageOutput, params: SegmentTrainParams = SegmentTrainParams()
) -> tuple[StageOutput, bool]:
    """Train the segmenter; publish its weights, the loss per epoch and the held-out pixel accuracy and IoU."""

    def compute(work: Path) -> StageResult:
        _tf_env()
        from gan_core.segment import build_segmenter, predict_masks, train_segmenter

        if params.vgg16_weights is None:
            warnings.warn("segment_train: no ImageNet VGG16 weights given (vgg16_weights); the backbone is trained "
                          "from scratch", stacklevel=2)  # fmt: skip
        train, held = _split(params, dataset, index)
        model = build_segmenter(config=params.network,
                                vgg16_weights=Path(params.vgg16_weights) if params.vgg16_weights else None)  # fmt: skip
        losses = train_segmenter(model=model, images_rgb=train[0], masks=train[1], config=params.network)
        scores = mask_scores(predicted=predict_masks(model=model, images_rgb=held[0]), truth=held[1])
        model.save_weights(work / WEIGHTS)
        backbone = "imagenet vgg16" if params.vgg16_weights else "random init (no ImageNet weights given)"
        info = {**scores, "train_faces": len(train[0]), "heldout_faces": len(held[0]), "backbone": backbone}
        return StageResult(manifest=pd.DataFrame({"epoch": range(len(losses)), "loss": losses}), info=info)

    inputs = {"dataset": dataset, "index": index} if params.data == "twin" else {}
    return run_stage(store=store, spec=SEGMENT_TRAIN, params=params, inputs=inputs, compute=compute)


def _split(params: SegmentTrainParams, dataset: StageOutput, index: StageOutput):
    if params.data == "lfw":
        parts = lfw_pairs(params=params)
        return parts["train"], parts["test"]
    if params.data != "twin":
        raise ValueError(f"segment_train: data must be 'twin' or 'lfw', got {params.data!r}")
    images, masks = twin_pairs(dataset=dataset, index=index, size=params.network.input_size)
    order = np.random.default_rng(params.network.seed).permutation(len(images))
    n_held = max(1, round(params.holdout * len(images)))
    held, train = order[:n_held], order[n_held:]
    train = train[: params.max_faces] if params.max_faces else train
    return (images[train], masks[train]), (images[held], masks[held])


def segment_stage(*, store: Store, filtered: StageOutput, trained: StageOutput) -> tuple[StageOutput, bool]:
    """The face mask of every kept aligned face (PNG, 0/255, at the aligned image's size)."""

    def compute(work: Path) -> StageResult:
        _tf_env()
        from gan_core.segment import build_segmenter, predict_masks

        config = SegmenterConfig(**trained.metadata()["params"]["network"])
        model = build_segmenter(config=config)
        model.load_weights(trained.local_dir() / WEIGHTS)
        faces, folder = filtered.manifest(), filtered.local_dir()
        rows = []
        (work / "masks").mkdir()
        for _, face in faces.iterrows():
            aligned = cv2.cvtColor(cv2.imread(str(folder / face["aligned_path"])), cv2.COLOR_BGR2RGB)
            prob = predict_masks(model=model, images_rgb=resize_for_net(image=aligned, size=config.input_size)[None])[0]
            side = aligned.shape[0]
            mask = (cv2.resize(prob, (side, side), interpolation=cv2.INTER_LINEAR) >= 0.5).astype(np.uint8) * 255
            relative = f"masks/{Path(face['aligned_path']).stem}.png"
            cv2.imwrite(str(work / relative), mask)
            rows.append({"detection_id": face["detection_id"], "mask_path": relative,
                         "face_fraction": float((mask > 0).mean())})  # fmt: skip
        return StageResult(manifest=pd.DataFrame(rows, columns=["detection_id", "mask_path", "face_fraction"]))

    return run_stage(store=store, spec=SEGMENT, params={"threshold": 0.5},
                     inputs={"filtered": filtered, "trained": trained}, compute=compute)  # fmt: skip


@dataclass(frozen=True)
class PasteParams:
    """The alpha matte: Gaussian sigma as a fraction of the aligned image's side."""

    matte_sigma: float = 0.01


def paste_stage(
    *,
    store: Store,
    dataset: StageOutput,
    index: StageOutput,
    filtered: StageOutput,
    masks: StageOutput,
    params: PasteParams = PasteParams(),
    relit: StageOutput | None = None,
) -> tuple[StageOutput, bool]:
    """Paste aligned faces back into their photos through their masks; one new WFLW-format face per paste.

    Without ``relit`` the pasted face is the unedited aligned face, which checks the geometry end to end:
    ``psnr_in_face`` compares the result with the photo where the matte is (almost) 1. With ``relit`` (the
    StyleFlow stage's output) every relit variant of every face is pasted (``face_id`` ``paste:<det>:v<i>``).
    """

    def compute(work: Path) -> StageResult:
        faces = filtered.manifest().merge(masks.manifest(), on="detection_id")
        if relit is not None:
            variants = relit.manifest()[["detection_id", "variant", "image_path"]].rename(
                columns={"image_path": "relit_path"}
            )
            faces = faces.merge(variants, on="detection_id")
        wflw = index.manifest().set_index("face_id")
        root, aligned_dir, mask_dir = dataset.local_dir() / DATASET_DIR, filtered.local_dir(), masks.local_dir()
        rows = []
        for _, face in faces.iterrows():
            photo, _ = load_photo(root / face["image_path"])
            aligned = cv2.imread(str(aligned_dir / face["aligned_path"]))
            suffix = ""
            if relit is not None:
                aligned = cv2.resize(cv2.imread(str(relit.local_dir() / face["relit_path"])), aligned.shape[1::-1])
                suffix = f"_v{face['variant']}"
            mask = cv2.imread(str(mask_dir / face["mask_path"]), cv2.IMREAD_GRAYSCALE)
            record = record_of(face, output_size=aligned.shape[0])
            alpha = alpha_matte(mask=mask, sigma=params.matte_sigma * aligned.shape[0])
            pasted, matte = paste_back(photo=photo, aligned=aligned, alpha=alpha, record=record)
            relative = f"{PASTED_DIR}/{Path(face['aligned_path']).stem}{suffix}.png"
            (work / relative).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(work / relative), pasted)
            source = wflw.loc[face["wflw_face_id"]]
            face_id = f"paste:{face['detection_id']}" + (f":v{face['variant']}" if relit is not None else "")
            rows.append({**source.to_dict(), "face_id": face_id, "image_path": relative,
                         "source_face_id": face["wflw_face_id"], "detection_id": face["detection_id"],
                         "psnr_in_face": _psnr(pasted[matte >= 0.99], photo[matte >= 0.99])})  # fmt: skip
        columns = [*wflw.reset_index().columns, "source_face_id", "detection_id", "psnr_in_face"]
        manifest = pd.DataFrame(rows, columns=columns)
        info = {"pasted": len(rows), "median_psnr_in_face": float(manifest["psnr_in_face"].median()) if rows else None}
        return StageResult(manifest=manifest, info=info)

    inputs = {"dataset": dataset, "index": index, "filtered": filtered, "masks": masks}
    inputs |= {"relit": relit} if relit is not None else {}
    return run_stage(store=store, spec=PASTE, params=params, inputs=inputs, compute=compute)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 pixel sets (inf when equal, nan when empty)."""
    if a.size == 0:
        return float("nan")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))
