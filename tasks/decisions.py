"""The manual review of projections: the durable decisions store and the gate's policies.

The study's reviewer compared each aligned face with its StyleGAN2 projection and kept the good ones. Here a
decision (accept / reject a projected face, with an optional reason, the reviewer and the time) is appended to
``<store>/review/decisions.parquet``: append-only (a later decision for a face supersedes an earlier one, the
history stays), written to a temporary file and renamed under a lock, so a crash, a timeout or a re-run never
loses a decision and never asks for one twice.

Policies: ``human`` (a person decides, through the review page or ``eltrepro review apply``), ``auto`` (accept
when the final LPIPS is at most a threshold; every row says so), ``file`` (decisions from a CSV a user prepared).

The ``review`` stage (``tasks.review``) turns the decisions for one projection output into its outcome.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from filelock import FileLock

from kit.store import StageOutput, Store

DECISIONS_FILE = "review/decisions.parquet"
COLUMNS = ["face_id", "decision", "reason", "reviewer", "policy", "decided_at"]
VALUES = ("accept", "reject")


@dataclass(frozen=True)
class ReviewGateConfig:
    """How projected faces get their decision.

    Attributes:
        policy: ``human`` | ``auto`` | ``file``.
        lpips_threshold: ``auto`` accepts a face whose final LPIPS is at most this.
        decisions_file: ``file``: a CSV with ``face_id`` (the detection id), ``decision`` (accept/reject) and
            optionally ``reason`` and ``reviewer``.
        page_url: where the review page is served (linked from the pause's description).
        timeout_s: how long a paused run waits for a person before it fails (decisions already made stay).
    """

    policy: str = "human"
    lpips_threshold: float = 0.3
    decisions_file: str = ""
    page_url: str = "http://127.0.0.1:8765/"
    timeout_s: int = 7 * 24 * 3600


class DecisionError(ValueError):
    """Decisions that cannot be accepted (the message lists every problem)."""


def _path(store: Store) -> str:
    return f"{store.root.rstrip('/')}/{DECISIONS_FILE}"


def read_decisions(store: Store, *, history: bool = False) -> pd.DataFrame:
    """Every decision (``history``) or the latest per face, oldest first."""
    path = _path(store)
    if not store.fs.exists(path):
        return pd.DataFrame({c: pd.Series(dtype=str) for c in COLUMNS})
    with store.fs.open(path, "rb") as handle:
        table = pd.read_parquet(io.BytesIO(handle.read()))
    return table if history else table.drop_duplicates("face_id", keep="last").reset_index(drop=True)


def append_decisions(store: Store, rows: Iterable[dict]) -> int:
    """Append decisions atomically (lock, read, write a temporary file, rename); returns how many were added.

    Raises:
        DecisionError: a row has no face id or a decision other than accept/reject.
    """
    now = datetime.now(UTC).isoformat(timespec="seconds")
    new = pd.DataFrame(
        [{"reason": "", "reviewer": "", "policy": "human", "decided_at": now, **r} for r in rows], columns=COLUMNS
    )
    bad = new[~new["decision"].isin(VALUES) | new["face_id"].isna() | (new["face_id"] == "")]
    if len(bad):
        raise DecisionError(f"decisions must be accept/reject for a face id: {bad.to_dict('records')[:5]}")
    if new.empty:
        return 0
    path = _path(store)
    store.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    lock = (
        Path(path + ".lock")
        if store.local
        else Path("/tmp") / f"eltrepro-review-{hashlib.sha1(path.encode()).hexdigest()}.lock"
    )
    with FileLock(str(lock)):
        table = pd.concat([read_decisions(store, history=True), new], ignore_index=True)
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        with store.fs.open(tmp, "wb") as handle:
            handle.write(buffer.getvalue())
        store.fs.mv(tmp, path)
    return len(new)


def kept_faces(projected: StageOutput) -> pd.DataFrame:
    """The projected faces that were not discarded at the projector's early check (the ones to review)."""
    faces = projected.manifest()
    return faces[~faces["discarded"].astype(bool)].reset_index(drop=True)


def pending_faces(store: Store, projected: StageOutput) -> pd.DataFrame:
    """Kept faces of ``projected`` that have no decision yet."""
    faces = kept_faces(projected)
    decided = set(read_decisions(store)["face_id"])
    return faces[~faces["detection_id"].isin(decided)].reset_index(drop=True)


def check_decisions(rows: list[dict], *, pending: set[str], known: set[str]) -> list[str]:
    """Problems with a batch of decisions for the ``pending`` faces (all must be decided); empty when fine."""
    problems = []
    ids = [r.get("face_id") for r in rows]
    unknown = sorted({i for i in ids if i not in known})
    if unknown:
        problems.append(f"unknown face ids: {unknown[:10]}")
    bad = sorted({str(r.get("decision")) for r in rows if r.get("decision") not in VALUES})
    if bad:
        problems.append(f"decisions must be 'accept' or 'reject', got {bad}")
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        problems.append(f"faces decided twice in one batch: {twice[:10]}")
    missing = sorted(pending - set(ids))
    if missing:
        problems.append(f"{len(missing)} pending face(s) without a decision: {missing[:10]}")
    return problems


def auto_decisions(faces: pd.DataFrame, *, threshold: float) -> list[dict]:
    """``auto`` policy: accept when the final LPIPS is at most ``threshold``."""
    return [
        {
            "face_id": f,
            "decision": "accept" if lp <= threshold else "reject",
            "policy": "auto",
            "reviewer": f"auto (lpips <= {threshold})",
            "reason": f"lpips {lp:.4f}",
        }
        for f, lp in zip(faces["detection_id"], faces["lpips"], strict=True)
    ]


def file_decisions(path: Path, *, reviewer: str = "") -> list[dict]:
    """Decisions from a CSV (``face_id``, ``decision``, optional ``reason``, ``reviewer``).

    Raises:
        DecisionError: the file lacks the required columns (named).
    """
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        reason = "it is empty" if isinstance(error, pd.errors.EmptyDataError) else "not a UTF-8 CSV table"
        raise DecisionError(f"{path}: cannot read the decisions ({reason}: {' '.join(str(error).split())})") from None
    missing = [c for c in ("face_id", "decision") if c not in table]
    if missing:
        raise DecisionError(f"{path}: missing column(s) {missing}")
    rows = table.to_dict("records")
    for r in rows:
        r["decision"] = r["decision"].strip().lower()
        r.setdefault("reason", "")
        r["reviewer"] = r.get("reviewer") or reviewer or f"file:{Path(path).name}"
        r["policy"] = "file"
    return rows


def decisions_digest(store: Store, projected: StageOutput) -> str:
    """sha256 of the latest decisions for ``projected``'s faces (the review stage's key depends on it)."""
    ids = set(projected.manifest()["detection_id"])
    table = read_decisions(store)
    table = table[table["face_id"].isin(ids)].sort_values("face_id")[["face_id", "decision", "reason", "reviewer"]]
    return hashlib.sha256(json.dumps(table.to_dict("records")).encode()).hexdigest()[:16]
