"""Resumable, checksummed downloads and safe archive extraction (the WFLW archives and, later, weights).

* Resume: bytes land in ``<name>.part``; a new attempt asks for the rest with an HTTP ``Range`` header and
  appends when the server answers 206 (starts over on 200).
* Verification: sha256 against the value stored in the project (``RemoteFile.sha256``), a user-supplied
  value, or a value pinned in ``<dest>/checksums.json`` by an explicit first download. A mismatch keeps the
  bad bytes as ``<name>.mismatch`` for inspection, touches no verified file, and names both hashes.
* Google Drive: a large file first answers with an HTML "can't scan for viruses" page; its download form
  (or legacy ``confirm=`` link) is followed once.
* Extraction uses tarfile's ``data`` filter (no absolute paths, no ``..``, no links out of the destination)
  after a member check that names the offending member, into a temporary folder moved into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from http.client import IncompleteRead
from pathlib import Path, PurePosixPath

from landmark_core.atomic import atomic_write_text

CHUNK = 1 << 20
PINS_FILE = "checksums.json"
USER_AGENT = "elt-repro-downloader/1.0"


@dataclass(frozen=True)
class RemoteFile:
    """One published file.

    Attributes:
        name: file name on disk (and under a ``--mirror`` base URL).
        url: official location.
        sha256: published/recorded sha256, or None where no trustworthy value is known to the project.
        size: expected size in bytes, when known.
        extract: whether the file is a tar archive to unpack into the destination.
        note: where the URL comes from, licence terms.
    """

    name: str
    url: str
    sha256: str | None = None
    size: int | None = None
    extract: bool = True
    note: str = ""


# The official WFLW locations (https://wywu.github.io/projects/LAB/WFLW.html). The images archive lives on
# Google Drive (file id 1hzBd48JIdWTJSsATBEB_eFVvPL1bx6UC), which answers with a confirmation page for large
# files. No sha256 of either archive is published, and none could be computed here (no network access);
# the first real download must therefore be pinned explicitly (``--trust-first-download``) or given one.
WFLW_FILES: tuple[RemoteFile, ...] = (
    RemoteFile(
        name="WFLW_images.tar.gz",
        url="https://drive.google.com/uc?export=download&id=1hzBd48JIdWTJSsATBEB_eFVvPL1bx6UC",
        note="WFLW images (from WIDER FACE); research use only.",
    ),
    RemoteFile(
        name="WFLW_annotations.tar.gz",
        url="https://wywu.github.io/projects/LAB/support/WFLW_annotations.tar.gz",
        note="WFLW 98-point annotations, attributes and test subsets; research use only.",
    ),
)


class DownloadError(RuntimeError):
    """A download that could not be completed; the message says which file and why."""


class ChecksumMismatchError(DownloadError):
    """The downloaded bytes do not have the expected sha256."""

    def __init__(self, name: str, expected: str, actual: str, kept: Path) -> None:
        super().__init__(f"{name}: sha256 mismatch: expected {expected}, got {actual}; the bytes are kept as {kept}")
        self.expected, self.actual, self.kept = expected, actual, kept


class UnsafeArchiveError(DownloadError):
    """An archive member that would land outside the destination (absolute path, ``..``, link out)."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _FormParser(HTMLParser):
    """Collects the Google Drive download form (action + hidden inputs) and any ``confirm=`` link."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.links: list[str] = []
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None and "download" in (a.get("id", "") + a.get("action", "")):
            self.action, self._in_form = a.get("action"), True
        elif tag == "input" and self._in_form and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "a" and "confirm=" in a.get("href", ""):
            self.links.append(a["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def google_drive_confirm_url(html: str, page_url: str) -> str | None:
    """The URL behind Google Drive's large-file confirmation page, or None when the page has none."""
    parser = _FormParser()
    parser.feed(html)
    if parser.action:
        target = urllib.parse.urljoin(page_url, parser.action)
        return f"{target}?{urllib.parse.urlencode(parser.fields)}" if parser.fields else target
    if parser.links:
        return urllib.parse.urljoin(page_url, parser.links[0].replace("&amp;", "&"))
    return None


def _open(url: str, start: int, timeout: float):
    headers = {"User-Agent": USER_AGENT}
    if start:
        headers["Range"] = f"bytes={start}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _resolve_html(response, url: str, timeout: float, start: int):
    """Follow one Google Drive confirmation page; any other HTML answer is an error."""
    html = response.read(2 * CHUNK).decode("utf-8", "replace")
    response.close()
    target = google_drive_confirm_url(html, url)
    if target is None:
        raise DownloadError(f"{url} answered with an HTML page, not the file (no download confirmation found)")
    follow = _open(target, start, timeout)
    if follow.headers.get_content_type() == "text/html":
        follow.close()
        raise DownloadError(f"{target} still answers with an HTML page after the confirmation step")
    return follow


def _transfer(url: str, part: Path, timeout: float, progress: Callable[[int, int | None], None] | None) -> None:
    """One attempt: append the missing bytes of ``url`` to ``part`` (starting over when Range is refused)."""
    start = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, start, timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and start:  # nothing left to fetch: the part file is complete
            return
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from error
    if response.headers.get_content_type() == "text/html":
        response = _resolve_html(response, url, timeout, start)
    with response:
        if start and response.status != 206:
            start = 0  # the server ignored Range: start over
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        with open(part, "ab" if start else "wb") as handle:
            done = start
            while chunk := response.read(CHUNK):
                handle.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    if total is not None and part.stat().st_size < total:
        raise DownloadError(f"{url}: connection closed after {part.stat().st_size} of {total} bytes")


def download_file(
    *,
    url: str,
    dest: Path,
    sha256: str | None,
    retries: int = 3,
    timeout: float = 60.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> str:
    """Download ``url`` to ``dest`` with resume and verification; returns the file's sha256.

    Args:
        url: where to fetch from.
        dest: final path; bytes go to ``dest.part`` until they verify.
        sha256: expected digest, or None to accept (and return) whatever arrives.
        retries: attempts after a dropped connection, each resuming where the last stopped.
        timeout: socket timeout in seconds.
        progress: called with (bytes so far, total or None).

    Raises:
        ChecksumMismatchError: the complete file has another sha256 (kept as ``dest.mismatch``).
        DownloadError: the transfer failed ``retries + 1`` times.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        try:
            _transfer(url, part, timeout, progress)
            break
        except (DownloadError, IncompleteRead, ConnectionError, TimeoutError, urllib.error.URLError) as error:
            if attempt == retries:
                raise DownloadError(f"{dest.name}: download failed after {attempt + 1} attempts: {error}") from error
            time.sleep(min(2.0**attempt * 0.1, 5.0))
    actual = sha256_file(part)
    if sha256 is not None and actual != sha256.lower():
        kept = dest.with_name(dest.name + ".mismatch")
        os.replace(part, kept)
        raise ChecksumMismatchError(dest.name, sha256.lower(), actual, kept)
    os.replace(part, dest)
    return actual


def _check_members(archive: tarfile.TarFile, name: str) -> None:
    for member in archive.getmembers():
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts:
            raise UnsafeArchiveError(f"{name}: member {member.name!r} would be written outside the destination")
        if member.issym() or member.islnk():
            target = PurePosixPath(member.linkname)
            resolved = target if target.is_absolute() else path.parent / target
            if target.is_absolute() or ".." in PurePosixPath(os.path.normpath(str(resolved))).parts:
                raise UnsafeArchiveError(f"{name}: link {member.name!r} -> {member.linkname!r} points outside")


def safe_extract(*, archive: Path, dest: Path) -> list[str]:
    """Extract a tar archive into ``dest`` safely; returns the top-level entries it placed.

    Members are checked first (absolute paths, ``..``, links leaving the destination are refused with the
    member's name), then extracted with the ``data`` filter into a temporary folder beside ``dest``, and
    each top-level entry is moved into place (replacing an older copy).
    """
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / f".extract-{archive.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        try:
            tar = tarfile.open(archive)  # noqa: SIM115  (closed by the with below; only the open is guarded)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
            raise DownloadError(f"{archive.name}: not a readable tar archive ({_one_line(error)})") from None
        with tar:
            _check_members(tar, archive.name)
            try:
                tar.extractall(tmp, filter="data")
            except tarfile.FilterError as error:
                raise UnsafeArchiveError(f"{archive.name}: {error}") from error
            except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
                raise DownloadError(f"{archive.name}: not a readable tar archive ({_one_line(error)})") from None
        placed = sorted(p.name for p in tmp.iterdir())
        for entry in placed:
            target = dest / entry
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            os.replace(tmp / entry, target)
        return placed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True)
class FetchReport:
    """What ``fetch_files`` did per file: 'downloaded', 'verified' (already there) and whether it extracted."""

    actions: dict[str, str]
    sha256: dict[str, str]


def load_pins(dest: Path) -> dict[str, str]:
    """The digests pinned by first downloads into ``dest`` (``checksums.json``), by file name."""
    path = dest / PINS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _save_pins(dest: Path, pins: dict[str, str]) -> None:
    atomic_write_text(dest / PINS_FILE, json.dumps(pins, indent=2, sort_keys=True) + "\n")


def fetch_files(
    *,
    files: Sequence[RemoteFile],
    dest: Path,
    mirror: str | None = None,
    sha256: dict[str, str] | None = None,
    trust_first_download: bool = False,
    progress: Callable[[str, int, int | None], None] | None = None,
    retries: int = 3,
) -> FetchReport:
    """Download (when needed), verify and extract a set of published files into ``dest``.

    Expected digests come from, in order: ``sha256`` (user-given), the project's ``RemoteFile.sha256``, the
    pins in ``dest/checksums.json``. A file without any is refused unless ``trust_first_download`` is set;
    its digest is then pinned, so every later run verifies against it. A file already present and matching
    is not downloaded again, and an archive already extracted from the same bytes is not extracted again.

    Args:
        files: what to fetch.
        dest: destination folder (archives and their contents).
        mirror: base URL replacing each file's official location (``<mirror>/<name>``).
        sha256: user-supplied digests by file name.
        trust_first_download: accept and pin the digest of files that have no known digest.
        progress: called with (file name, bytes so far, total or None).
        retries: resume attempts per file.

    Returns:
        FetchReport of the actions taken and the verified digests.
    """
    dest.mkdir(parents=True, exist_ok=True)
    pins = load_pins(dest)
    actions, digests = {}, {}
    for remote in files:
        expected = (sha256 or {}).get(remote.name) or remote.sha256 or pins.get(remote.name)
        if expected is None and not trust_first_download:
            raise DownloadError(
                f"{remote.name}: the project knows no sha256 for this file; pass --sha256 {remote.name}=<hex> "
                f"or --trust-first-download to pin the digest of this download in {dest / PINS_FILE}"
            )
        path = dest / remote.name
        if path.is_file() and expected is not None and sha256_file(path) == expected.lower():
            actions[remote.name], digests[remote.name] = "verified", expected.lower()
        else:
            url = f"{mirror.rstrip('/')}/{remote.name}" if mirror else remote.url
            report = (lambda done, total, n=remote.name: progress(n, done, total)) if progress else None
            digests[remote.name] = download_file(url=url, dest=path, sha256=expected, progress=report, retries=retries)
            actions[remote.name] = "downloaded"
        if expected is None:
            check_kind(path, archive=remote.extract)
        if remote.extract and _extract_or_reject(path, dest, digests[remote.name], pins):
            actions[remote.name] += "+extracted"
        if expected is None:  # pin only a file that has proved to be what it should be, extracted safely
            pins[remote.name] = digests[remote.name]
            _save_pins(dest, pins)
    return FetchReport(actions=actions, sha256=digests)


def _extract_or_reject(archive: Path, dest: Path, digest: str, pins: dict[str, str]) -> bool:
    """Extract once; an archive refused (unsafe member, unreadable) is moved to ``<name>.rejected`` and its pin,
    if a first download wrote one, is dropped, so a plain re-run downloads the file again.

    Raises:
        DownloadError: one line naming the archive, the reason, and what was done with it.
    """
    try:
        return _extract_once(archive, dest, digest)
    except DownloadError as error:
        rejected = archive.with_name(archive.name + ".rejected")
        os.replace(archive, rejected)
        unpinned = pins.pop(archive.name, None) is not None
        if unpinned:
            _save_pins(dest, pins)
        pin = f"its pin was removed from {PINS_FILE}" if unpinned else "nothing was pinned"
        raise type(error)(f"{_one_line(error)}; {pin} (kept as {rejected})") from None


def _one_line(error: BaseException) -> str:
    """An error message on one line (tarfile lists each compression it tried on a line of its own)."""
    return " ".join(str(error).split())


def _describe(head: bytes) -> str | None:
    """What a file that is obviously not a download's payload is (an HTML or JSON page), else None."""
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text[:512]:
        return "an HTML page"
    if text.startswith((b"{", b"[")) and b'"' in text[:64]:
        return "a JSON document"
    return None


def check_kind(path: Path, *, archive: bool) -> None:
    """Refuse a download that is not the kind of file expected: a web page where a file should be, or, for an
    archive, anything that does not read through as a tar archive (the whole stream is read: a cut or corrupt
    archive fails here). The file is moved to ``<name>.rejected``.

    Raises:
        DownloadError: one line naming the file and what it is.
    """
    with open(path, "rb") as handle:
        head = handle.read(1024)
    what = _describe(head)
    if what is None and archive:
        try:
            with tarfile.open(path) as tar:
                for _ in tar:
                    pass
        except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
            what = f"not a readable tar archive ({_one_line(error)})"
    if what is not None:
        rejected = path.with_name(path.name + ".rejected")
        os.replace(path, rejected)
        raise DownloadError(
            f"{path.name}: the server sent {what}, not the file; nothing was pinned (kept as {rejected})"
        )


def _extract_once(archive: Path, dest: Path, digest: str) -> bool:
    marker = dest / ".extracted" / f"{archive.name}.json"
    if marker.is_file() and json.loads(marker.read_text()).get("sha256") == digest:
        return False
    placed = safe_extract(archive=archive, dest=dest)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"sha256": digest, "entries": placed}, indent=2) + "\n")
    return True
