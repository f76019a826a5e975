"""A run killed with SIGKILL inside a stage never blocks the next run, and the next run's outputs are the
uninterrupted run's, byte for byte. Two Prefect homes (two workers, two machines) share one store's records.

Each run is the installed ``eltrepro run`` in its own process group, with its own Prefect home, reporting to the
test run's Prefect server as the machines of a pool do, killed with the whole group as ``kill -9`` would (the
server lives on and keeps the dead run's flow run as it was, as a real server does).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from kit.prefect_stage import HOLD_AT_ENV, HOLD_FILE_ENV, HOLD_STAGE_ENV
from kit.store import STAGE_JSON, TMP_PREFIX
from tests.flows.server import BIN
from tests.flows.tiny_profile import write_profile
from tests.s3 import s3_server, s3_store  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow

KILLED_IN = {"synth_wflw": 0.0, "train_landmarks": 0.5, "evaluate_landmarks": 0.0}  # stage: hold after this fraction
MACHINE_FACTS = ("timings", "host")  # stage.json fields that say when and where, not what


def _profile(folder: Path) -> Path:
    """The tiny profile, with enough test faces for evaluation to report progress part-way, and two epochs so
    the training kill lands after a checkpoint (the re-run resumes from it)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = write_profile(folder, 0.25)
    text = path.read_text().replace("test = 6", "test = 24")
    path.write_text(text.replace("max_epochs = 1", "max_epochs = 2\neval_batch_size = 8"))
    return path


def _start(profile: Path, store: str, home: Path, server: tuple[str, dict] | None, **env: str) -> subprocess.Popen:
    """``eltrepro run`` reporting to ``server``, or, when None, to a temporary server of its own (as on a laptop
    with no Prefect server configured)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    clean |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **env}
    if server is None:
        clean["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"  # a loaded machine starts it slowly
    else:
        clean["PREFECT_API_URL"] = server[0]
    args = [str(BIN / "eltrepro"), "run", "--profile", str(profile), "--store", store]
    log = open(home.with_suffix(".log"), "w")  # noqa: SIM115  (closed with the process)
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(args, env=clean, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _finish(proc: subprocess.Popen, home: Path, timeout: float = 600) -> None:
    code = proc.wait(timeout)
    assert code == 0, home.with_suffix(".log").read_text()[-3000:]


def _outputs(store: Path) -> dict[str, bytes | dict]:
    """Every stage output file (report aside: it shows wall times) by relative path; ``stage.json`` without
    the machine facts."""
    out: dict[str, bytes | dict] = {}
    for path in sorted(store.glob("*/*/**/*")):
        relative = path.relative_to(store).as_posix()
        if not path.is_file() or relative.startswith(("report/", ".")):
            continue
        if path.name == STAGE_JSON:
            meta = json.loads(path.read_text())
            meta["info"].pop("timing", None)
            out[relative] = {k: v for k, v in meta.items() if k not in MACHINE_FACTS}
        else:
            out[relative] = path.read_bytes()
    return out


def _leftovers(store: Path) -> list[str]:
    """Temporaries, leases and checkpoints a finished run should not leave behind."""
    found = [p for p in store.rglob(f"{TMP_PREFIX}*")]
    found += list((store / ".locks").glob("*")) + [p for p in (store / ".scratch").rglob("*") if p.is_file()]
    return [str(p.relative_to(store)) for p in found]


def test_a_run_killed_inside_any_stage_never_blocks_the_next(tmp_path, prefect_server):
    """Three phases, runs of one phase at once: (1) the reference, by two Prefect homes at once on one store;
    (2) three runs, each killed inside one kind of stage; (3) their re-runs, and a third home on the
    reference store, which must reuse every output."""
    profile = _profile(tmp_path / "profile")
    reference = tmp_path / "reference"
    homes = [tmp_path / "home-a", tmp_path / "home-b"]
    started = time.perf_counter()
    for proc, home in [(_start(profile, str(reference), home, prefect_server), home) for home in homes]:
        _finish(proc, home)
    uninterrupted_s = time.perf_counter() - started
    assert not _leftovers(reference), _leftovers(reference)
    reference_meta = {p: p.read_bytes() for p in reference.glob(f"*/*/{STAGE_JSON}")}

    runs = {}
    for stage, at in KILLED_IN.items():
        marker = tmp_path / f"{stage}.held"
        env = {HOLD_STAGE_ENV: stage, HOLD_FILE_ENV: str(marker), HOLD_AT_ENV: str(at)}
        runs[stage] = (
            _start(profile, str(tmp_path / stage), tmp_path / f"home-{stage}", prefect_server, **env),
            marker,
        )
    for stage, (proc, marker) in runs.items():
        deadline = time.monotonic() + 300
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), f"{stage} never reached its hold point: " + (tmp_path / f"home-{stage}.log").read_text()
        os.killpg(proc.pid, signal.SIGKILL)  # the run and everything it started, as kill -9 would
        proc.wait(30)
        store = tmp_path / stage
        assert list((store / ".locks").glob(f"{stage}-*.lease")), "the killed run held the stage's lease"
        assert not list((store / stage).glob(f"*/{STAGE_JSON}")), "nothing of the killed stage is visible"
    # the training kill came after epoch 0's checkpoint: the re-run resumes from it
    assert list((tmp_path / "train_landmarks" / ".scratch" / "train_landmarks").glob("*/last.pt"))

    began = time.perf_counter()
    reruns = {
        stage: _start(profile, str(tmp_path / stage), tmp_path / f"home-{stage}", prefect_server) for stage in KILLED_IN
    }
    third = _start(profile, str(reference), tmp_path / "home-c", prefect_server)  # another machine, the same store
    for stage, proc in reruns.items():
        _finish(proc, tmp_path / f"home-{stage}")
    recovery_s = time.perf_counter() - began
    _finish(third, tmp_path / "home-c")
    last = (tmp_path / "home-c.log").read_text().rstrip().splitlines()[-1]  # after Prefect's own exit lines
    assert last == str(next(reference.glob("report/*/report.md"))) == _report_path(reference), last
    assert {p: p.read_bytes() for p in reference.glob(f"*/*/{STAGE_JSON}")} == reference_meta  # all reused

    expected = _outputs(reference)
    assert any(k.startswith("train_landmarks/") and k.endswith("best.pt") for k in expected)
    for stage in KILLED_IN:
        store = tmp_path / stage
        got = _outputs(store)
        assert sorted(got) == sorted(expected), stage
        different = [k for k in expected if got[k] != expected[k]]
        assert not different, f"killed in {stage}: these differ from the uninterrupted run: {different}"
        assert not _leftovers(store), _leftovers(store)
    print(f"\nuninterrupted runs {uninterrupted_s:.1f} s; the three re-runs after kill -9: {recovery_s:.1f} s")


def _report_path(store: Path) -> str:
    """What ``eltrepro report`` prints for ``store``: the newest report's path."""
    found = subprocess.run([str(BIN / "eltrepro"), "report", "--store", str(store)], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


def test_an_s3_store_is_reused_from_another_prefect_home(tmp_path, s3_store, prefect_server):  # noqa: F811
    import s3fs

    profile = _profile(tmp_path / "profile")
    for name, server in (("first", prefect_server), ("second", None)):  # the second: no server but its own
        home, tmp = tmp_path / f"home-{name}", tmp_path / f"tmp-{name}"  # another machine: its own temp dir too
        tmp.mkdir()
        _finish(_start(profile, s3_store, home, server, TMPDIR=str(tmp)), home)
        fs = s3fs.S3FileSystem()
        fs.invalidate_cache()
        metas = {p: fs.cat_file(p) for p in fs.glob(f"{s3_store}/*/*/{STAGE_JSON}")}
        if name == "first":
            first = metas
    assert len(first) >= 6 and metas == first  # the second home computed nothing: every stage.json is the same
