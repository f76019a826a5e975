"""The review catalog: every kept projected face of a store, with where its pictures are and its WFLW flags.

Read by the review page and by ``eltrepro review apply``; it reads stage outputs only (no web, no Prefect).
"""

from __future__ import annotations

import pandas as pd

from kit.store import STAGE_JSON, Store
from tasks.dataset_tree import DATASET_DIR

FLAGS = ("pose", "expression", "illumination", "makeup", "occlusion", "blur")


def review_catalog(store: Store) -> pd.DataFrame:
    """Every kept projected face in the store with where its three pictures are and its WFLW flags."""
    frames = []
    for meta_path in sorted(store.fs.glob(f"{store.root.rstrip('/')}/project/*/{STAGE_JSON}")):
        project = store.output("project", meta_path.rstrip("/").split("/")[-2])
        source = project.metadata()["inputs"]["filtered"]
        filtered = store.output(source["stage"], source["key"])
        inputs = filtered.metadata()["inputs"]
        faces = project.manifest()
        faces = faces[~faces["discarded"].astype(bool)].drop(columns=["wflw_face_id"])
        faces = faces.rename(columns={"image_path": "projected_path"}).merge(filtered.manifest(), on="detection_id")
        index = store.output(inputs["index"]["stage"], inputs["index"]["key"]).manifest().set_index("face_id")
        flags = index[list(FLAGS)].reindex(faces["wflw_face_id"]).fillna(0).astype(int)
        faces[list(FLAGS)] = flags.to_numpy()
        faces["project_dir"] = str(project.local_dir())
        faces["filter_dir"] = str(filtered.local_dir())
        dataset = store.output(inputs["dataset"]["stage"], inputs["dataset"]["key"])
        faces["photo_root"] = str(dataset.local_dir() / DATASET_DIR)
        frames.append(faces)
    if not frames:
        return pd.DataFrame(columns=["detection_id", "lpips"])
    return pd.concat(frames, ignore_index=True).drop_duplicates("detection_id", keep="last").reset_index(drop=True)


def discarded_faces(store: Store) -> int:
    """How many projected faces the projector discarded at its early check (never shown for review)."""
    discarded: set[str] = set()  # a face projected by several outputs (other settings) counts once
    for meta_path in sorted(store.fs.glob(f"{store.root.rstrip('/')}/project/*/{STAGE_JSON}")):
        manifest = store.output("project", meta_path.rstrip("/").split("/")[-2]).manifest()
        discarded |= set(manifest.loc[manifest["discarded"].astype(bool), "detection_id"])
    return len(discarded)
