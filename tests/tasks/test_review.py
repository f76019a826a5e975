"""The decisions store and the policies: append-only, atomic, latest-wins, checked; the review stage's outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.store import Store
from tasks.decisions import (
    DecisionError,
    append_decisions,
    auto_decisions,
    check_decisions,
    decisions_digest,
    file_decisions,
    pending_faces,
    read_decisions,
)
from tasks.review import ReviewConfig, review
from tests.kit.toy_stages import ProjectedConfig
from tests.kit.toy_stages import project as toy_project


def projected_output(store: Store, n: int = 4):
    return toy_project.run(store=store, config=ProjectedConfig(faces=n))[0]


def review_stage(*, store, projected):
    """The review stage as the gate runs it: keyed by the digest of the decisions it reads."""
    config = ReviewConfig(policy="human", lpips_threshold=0.3, decisions=decisions_digest(store, projected))
    return review.run(store=store, config=config, projected=projected)


def test_decisions_are_appended_atomically_and_the_latest_wins(tmp_path):
    store = Store(tmp_path)
    assert read_decisions(store).empty
    assert append_decisions(store, [{"face_id": "a", "decision": "accept", "reviewer": "ann"}]) == 1
    append_decisions(
        store,
        [
            {"face_id": "a", "decision": "reject", "reason": "blurry", "reviewer": "bob"},
            {"face_id": "b", "decision": "accept"},
        ],
    )
    latest = read_decisions(store).set_index("face_id")
    assert latest.loc["a", "decision"] == "reject" and latest.loc["a", "reviewer"] == "bob"
    history = read_decisions(store, history=True)
    assert list(history["face_id"]) == ["a", "a", "b"] and history["decided_at"].str.len().min() >= 19
    assert not list((tmp_path / "review").glob("*.tmp-*"))  # nothing half-written left behind
    with pytest.raises(DecisionError, match="accept/reject"):
        append_decisions(store, [{"face_id": "c", "decision": "maybe"}])
    assert len(read_decisions(store, history=True)) == 3  # a refused batch writes nothing


def test_pending_faces_and_the_checks(tmp_path):
    store = Store(tmp_path)
    projected = projected_output(store)
    assert list(pending_faces(store, projected)["detection_id"]) == ["img0#0", "img1#0", "img2#0"]
    append_decisions(store, [{"face_id": "img1#0", "decision": "accept"}])
    pending = set(pending_faces(store, projected)["detection_id"])
    assert pending == {"img0#0", "img2#0"}
    known = {"img0#0", "img1#0", "img2#0"}
    ok = [{"face_id": "img0#0", "decision": "accept"}, {"face_id": "img2#0", "decision": "reject"}]
    assert check_decisions(ok, pending=pending, known=known) == []
    problems = check_decisions(
        [
            {"face_id": "zzz", "decision": "accept"},
            {"face_id": "img0#0", "decision": "ok"},
            {"face_id": "img0#0", "decision": "accept"},
        ],
        pending=pending,
        known=known,
    )
    assert any("unknown face ids: ['zzz']" in p for p in problems)
    assert any("'accept' or 'reject'" in p for p in problems)
    assert any("decided twice" in p for p in problems)
    assert any("1 pending face(s) without a decision: ['img2#0']" in p for p in problems)


def test_auto_and_file_policies(tmp_path):
    store = Store(tmp_path)
    faces = pending_faces(store, projected_output(store))
    auto = auto_decisions(faces, threshold=0.2)
    assert [r["decision"] for r in auto] == ["accept", "accept", "reject"]
    assert all(r["policy"] == "auto" and "0.2" in r["reviewer"] for r in auto)
    (tmp_path / "d.csv").write_text("face_id,decision,reason\nimg0#0,Accept,fine\nimg1#0,reject,\n")
    rows = file_decisions(tmp_path / "d.csv", reviewer="carol")
    assert [(r["face_id"], r["decision"], r["reviewer"], r["policy"]) for r in rows] == [
        ("img0#0", "accept", "carol", "file"),
        ("img1#0", "reject", "carol", "file"),
    ]
    (tmp_path / "bad.csv").write_text("id,decision\nx,accept\n")
    with pytest.raises(DecisionError, match="missing column\\(s\\) \\['face_id'\\]"):
        file_decisions(tmp_path / "bad.csv")
    (tmp_path / "bom.csv").write_text("\ufeffface_id,decision\nimg0#0,accept\n", encoding="utf-8")
    assert file_decisions(tmp_path / "bom.csv")[0]["face_id"] == "img0#0"  # a spreadsheet's byte-order mark


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "it is empty"), (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\x00", "not a UTF-8 CSV table")],
    ids=["empty", "binary"],
)
def test_an_unreadable_decisions_file_is_one_line(tmp_path, content, reason):
    (tmp_path / "d.csv").write_bytes(content)
    with pytest.raises(DecisionError, match=f"d.csv: cannot read the decisions \\({reason}") as caught:
        file_decisions(tmp_path / "d.csv")
    assert "\n" not in str(caught.value)


def test_review_stage_records_every_faces_outcome_and_is_keyed_by_the_decisions(tmp_path):
    store = Store(tmp_path)
    projected = projected_output(store)
    with pytest.raises(DecisionError, match="no review decision"):
        review_stage(store=store, projected=projected)
    append_decisions(
        store,
        [
            {"face_id": "img0#0", "decision": "accept", "reviewer": "ann"},
            {"face_id": "img1#0", "decision": "reject", "reason": "not her", "reviewer": "ann"},
            {"face_id": "img2#0", "decision": "accept", "reviewer": "ann"},
        ],
    )
    first, _ = review_stage(store=store, projected=projected)
    outcome = first.manifest().set_index("detection_id")
    assert list(outcome["status"]) == ["accepted", "rejected", "accepted", "discarded"]
    assert outcome.loc["img1#0", "reason"] == "not her" and "early-discard" in outcome.loc["img3#0", "reason"]
    digest = decisions_digest(store, projected)
    append_decisions(store, [{"face_id": "img2#0", "decision": "reject", "reviewer": "bob"}])
    assert decisions_digest(store, projected) != digest
    second, computed = review_stage(store=store, projected=projected)
    assert computed and second.key != first.key
    assert second.manifest().set_index("detection_id").loc["img2#0", "status"] == "rejected"
    assert Path(first.local_dir()).is_dir()  # the earlier outcome stays as it was
