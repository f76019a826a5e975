"""The downloader against a loopback HTTP server serving archives made from the synthetic twin."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from landmark_core.download import (
    PINS_FILE,
    ChecksumMismatchError,
    DownloadError,
    RemoteFile,
    UnsafeArchiveError,
    download_file,
    fetch_files,
    google_drive_confirm_url,
    safe_extract,
)
from landmark_core.wflw_index import index_wflw
from tests.loopback import Loopback, tar_dir, tar_members

pytestmark = pytest.mark.server


@pytest.fixture()
def server():
    s = Loopback()
    yield s
    s.close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_fetch_from_a_mirror_then_rerun_downloads_nothing(server, synth_root, tmp_path):
    server.files["WFLW_images.tar.gz"] = tar_dir(synth_root, "WFLW_images")
    server.files["WFLW_annotations.tar.gz"] = tar_dir(synth_root, "WFLW_annotations")
    files = [
        RemoteFile(name=n, url="https://unreachable.invalid/" + n, sha256=_sha(d)) for n, d in server.files.items()
    ]
    report = fetch_files(files=files, dest=tmp_path, mirror=server.url)
    assert set(report.actions.values()) == {"downloaded+extracted"}
    result = index_wflw(root=tmp_path)
    assert result.quarantine.empty and len(result.faces) == len(index_wflw(root=synth_root).faces)
    before = len(server.requests)
    again = fetch_files(files=files, dest=tmp_path, mirror=server.url)
    assert set(again.actions.values()) == {"verified"}
    assert len(server.requests) == before


def test_cut_off_transfer_resumes_with_range(server, tmp_path):
    data = bytes(range(256)) * 4000
    server.files["blob.tar.gz"] = data
    server.cut_once.add("blob.tar.gz")
    digest = download_file(url=f"{server.url}/blob.tar.gz", dest=tmp_path / "blob.tar.gz", sha256=_sha(data))
    assert digest == _sha(data)
    assert (tmp_path / "blob.tar.gz").read_bytes() == data
    assert not (tmp_path / "blob.tar.gz.part").exists()
    ranges = [r for _, r in server.requests]
    assert ranges[0] is None and ranges[1] == f"bytes={len(data) // 2}-"


def test_partial_file_from_an_earlier_run_is_resumed(server, tmp_path):
    data = b"0123456789" * 5000
    server.files["x.tar.gz"] = data
    (tmp_path / "x.tar.gz.part").write_bytes(data[:12345])
    download_file(url=f"{server.url}/x.tar.gz", dest=tmp_path / "x.tar.gz", sha256=_sha(data))
    assert server.requests == [("/x.tar.gz", "bytes=12345-")]
    assert (tmp_path / "x.tar.gz").read_bytes() == data


def test_wrong_checksum_fails_with_both_hashes_and_keeps_verified_files(server, tmp_path):
    good, bad = tar_members({"WFLW_annotations/a.txt": b"a"}), tar_members({"WFLW_images/b.jpg": b"b"})
    server.files.update({"good.tar.gz": good, "bad.tar.gz": bad})
    files = [
        RemoteFile(name="good.tar.gz", url="", sha256=_sha(good)),
        RemoteFile(name="bad.tar.gz", url="", sha256="0" * 64),
    ]
    with pytest.raises(ChecksumMismatchError) as caught:
        fetch_files(files=files, dest=tmp_path, mirror=server.url)
    assert "0" * 64 in str(caught.value) and _sha(bad) in str(caught.value)
    assert (tmp_path / "good.tar.gz").read_bytes() == good
    assert (tmp_path / "WFLW_annotations" / "a.txt").read_bytes() == b"a"
    assert not (tmp_path / "bad.tar.gz").exists() and (tmp_path / "bad.tar.gz.mismatch").read_bytes() == bad
    assert not (tmp_path / "WFLW_images").exists()


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "ok/../../evil.txt"])
def test_traversal_member_is_refused_and_nothing_escapes(server, tmp_path, member):
    archive = tar_members({"WFLW_images/fine.jpg": b"x", member: b"evil"})
    server.files["t.tar.gz"] = archive
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchiveError, match="evil.txt"):
        fetch_files(files=[RemoteFile(name="t.tar.gz", url="", sha256=_sha(archive))], dest=dest, mirror=server.url)
    assert not (tmp_path / "evil.txt").exists() and not (dest / "WFLW_images").exists()


def test_a_hostile_first_download_is_never_pinned_and_a_plain_rerun_gets_the_genuine_file(server, tmp_path):
    files = [RemoteFile(name="t.tar.gz", url="")]
    hostile = tar_members({"WFLW_images/fine.jpg": b"x", "../escape.txt": b"evil"})
    server.files["t.tar.gz"] = hostile
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchiveError, match="escape.txt") as caught:
        fetch_files(files=files, dest=dest, mirror=server.url, trust_first_download=True)
    assert "\n" not in str(caught.value) and "nothing was pinned" in str(caught.value)
    assert not (tmp_path / "escape.txt").exists() and not (dest / "WFLW_images").exists()
    assert not (dest / PINS_FILE).exists() and not (dest / "t.tar.gz").exists()
    assert (dest / "t.tar.gz.rejected").read_bytes() == hostile  # kept aside for a look, never trusted
    genuine = tar_members({"WFLW_images/fine.jpg": b"x"})
    server.files["t.tar.gz"] = genuine  # the mirror is fixed: the same command now succeeds
    report = fetch_files(files=files, dest=dest, mirror=server.url, trust_first_download=True)
    assert report.actions == {"t.tar.gz": "downloaded+extracted"}
    assert json.loads((dest / PINS_FILE).read_text()) == {"t.tar.gz": _sha(genuine)}
    assert (dest / "WFLW_images" / "fine.jpg").read_bytes() == b"x"


def test_a_hostile_archive_pinned_by_an_earlier_version_loses_its_pin(server, tmp_path):
    files = [RemoteFile(name="t.tar.gz", url="")]
    hostile = tar_members({"../escape.txt": b"evil"})
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "t.tar.gz").write_bytes(hostile)  # what the old order (pin, then extract) left behind
    (dest / PINS_FILE).write_text(json.dumps({"t.tar.gz": _sha(hostile), "other.tar.gz": "ab" * 32}))
    with pytest.raises(UnsafeArchiveError, match=f"its pin was removed from {PINS_FILE}"):
        fetch_files(files=files, dest=dest, mirror=server.url)
    assert json.loads((dest / PINS_FILE).read_text()) == {"other.tar.gz": "ab" * 32}  # the others stay pinned
    genuine = tar_members({"WFLW_images/fine.jpg": b"x"})
    server.files["t.tar.gz"] = genuine
    fetch_files(files=files, dest=dest, mirror=server.url, trust_first_download=True)
    assert json.loads((dest / PINS_FILE).read_text())["t.tar.gz"] == _sha(genuine)


def test_link_out_of_destination_is_refused(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        link = tarfile.TarInfo("WFLW_images/link")
        link.type, link.linkname = tarfile.SYMTYPE, "../../etc/passwd"
        tar.addfile(link)
    (tmp_path / "l.tar.gz").write_bytes(buffer.getvalue())
    with pytest.raises(UnsafeArchiveError, match="points outside"):
        safe_extract(archive=tmp_path / "l.tar.gz", dest=tmp_path / "dest")


def test_google_drive_confirmation_page_is_followed(server, tmp_path):
    data = tar_members({"WFLW_images/x.jpg": b"jpg"})
    server.files["big.tar.gz"] = data
    url = f"{server.url}/uc?export=download&id=big"
    download_file(url=url, dest=tmp_path / "WFLW_images.tar.gz", sha256=_sha(data))
    assert [p for p, _ in server.requests] == ["/uc?export=download&id=big", "/usercontent/download?id=big&confirm=t"]


def test_confirm_link_of_the_legacy_page():
    html = '<a id="uc-download-link" href="/uc?export=download&amp;confirm=AbCd&amp;id=XYZ">Download anyway</a>'
    assert google_drive_confirm_url(html, "https://drive.google.com/uc?id=XYZ") == (
        "https://drive.google.com/uc?export=download&confirm=AbCd&id=XYZ"
    )
    assert google_drive_confirm_url("<html>quota exceeded</html>", "https://x/") is None


def test_unknown_digest_needs_an_explicit_pin(server, tmp_path):
    data = tar_members({"WFLW_annotations/a.txt": b"v1"})
    server.files["a.tar.gz"] = data
    files = [RemoteFile(name="a.tar.gz", url="")]
    with pytest.raises(DownloadError, match="knows no sha256"):
        fetch_files(files=files, dest=tmp_path, mirror=server.url)
    assert not (tmp_path / "a.tar.gz").exists()
    fetch_files(files=files, dest=tmp_path, mirror=server.url, trust_first_download=True)
    assert (tmp_path / PINS_FILE).read_text().count(_sha(data)) == 1
    (tmp_path / "a.tar.gz").unlink()
    server.files["a.tar.gz"] = tar_members({"WFLW_annotations/a.txt": b"v2-tampered"})
    with pytest.raises(ChecksumMismatchError):
        fetch_files(files=files, dest=tmp_path, mirror=server.url)
    assert (tmp_path / "WFLW_annotations" / "a.txt").read_bytes() == b"v1"


def test_missing_file_is_a_clear_error(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(url=f"{server.url}/nope.tar.gz", dest=tmp_path / "nope.tar.gz", sha256=None, retries=0)


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        (b"<!DOCTYPE html><html><body>Sign in to continue</body></html>", "an HTML page"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 64, "not a readable tar archive"),  # a cut gzip
    ],
    ids=["html-page", "cut-archive"],
)
def test_a_page_served_in_place_of_the_archive_is_refused_and_never_pinned(server, tmp_path, payload, what):
    files = [RemoteFile(name="a.tar.gz", url="")]
    server.files["a.tar.gz"] = payload  # served as application/octet-stream, as a misconfigured mirror would
    with pytest.raises(DownloadError, match=f"a.tar.gz: the server sent {what}") as caught:
        fetch_files(files=files, dest=tmp_path, mirror=server.url, trust_first_download=True)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / PINS_FILE).exists() and (tmp_path / "a.tar.gz.rejected").read_bytes() == payload
    genuine = tar_members({"WFLW_annotations/a.txt": b"v1"})
    server.files["a.tar.gz"] = genuine  # the genuine archive, later: it downloads, verifies and is pinned
    fetch_files(files=files, dest=tmp_path, mirror=server.url, trust_first_download=True)
    assert json.loads((tmp_path / PINS_FILE).read_text()) == {"a.tar.gz": _sha(genuine)}
    assert (tmp_path / "WFLW_annotations" / "a.txt").read_bytes() == b"v1"


def test_a_pinned_file_that_is_not_an_archive_is_one_error(tmp_path):
    (tmp_path / "x.tar.gz").write_bytes(b"<html>oops</html>")
    with pytest.raises(DownloadError, match="x.tar.gz: not a readable tar archive"):
        safe_extract(archive=tmp_path / "x.tar.gz", dest=tmp_path / "out")
