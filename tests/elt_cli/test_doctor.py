"""The preflight: on a fresh clone it names every missing item with its fix; `fetch-all` then makes a profile
ready; `run` refuses to start on what would stop it; `--pool` checks the server, the pool's workers and the
concurrency limit."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.flows.server import BIN, create_limit, create_process_pools, deploy, free_port
from tests.loopback import Loopback, tar_members


def _eltrepro(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    clean |= {"PREFECT_HOME": str(cwd / "prefect-home"), **env}
    return subprocess.run(
        [str(BIN / "eltrepro"), *args], cwd=cwd, env=clean, capture_output=True, text=True, timeout=300
    )


def test_a_fresh_clone_lists_every_missing_item_with_its_fix(tmp_path):
    result = _eltrepro("doctor", "--profile", "thesis", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stdout.splitlines() if " -- fix: " in line]
    missing = {
        "data/WFLW/WFLW_images.tar.gz",
        "data/WFLW/WFLW_annotations.tar.gz",
        "data/LFW_parts/lfw-funneled.tgz",
        "data/weights/ffhq.pkl",
        "data/weights/vgg16-397923af.pth",
        "data/weights/lpips_vgg_v0.1.pth",
        "data/weights/trained_model_03.t7",
        "data/weights/modellarge10k.pt",
        "data/weights/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    }
    for item in missing:
        assert any(line.split(" ", 1)[1].startswith(f"{item}:") for line in lines), f"{item} not listed"
    assert all("fix: eltrepro " in line for line in lines)
    assert "every download at once: eltrepro fetch-all --profile thesis --trust-first-download" in result.stdout
    assert not (tmp_path / "artifacts").exists() and "store artifacts" not in result.stdout  # looked, made nothing


def _serve_everything(server: Loopback) -> None:
    """Stand-ins of every file a thesis-shaped profile fetches (names as published; contents made here)."""
    from gan_core.lfw_parts import LFW_PARTS_FILES
    from gan_core.published import WEIGHTS
    from landmark_core.download import WFLW_FILES

    for remote in (*WFLW_FILES, *LFW_PARTS_FILES):
        stem = remote.name.split(".")[0]
        server.files[remote.name] = tar_members({f"{stem}/README": b"stand-in"}) if remote.extract else b"a b\n"
    for name in ("ffhq-1024", "styleflow-large", "vgg16-keras-notop"):
        server.files[WEIGHTS[name].name] = f"stand-in weights {name}".encode()


PROFILE = """
device = "cpu"
[data]
source = "wflw"
dest = "{root}/WFLW"
[gan.segment_train]
data = "lfw"
lfw_dest = "{root}/LFW"
vgg16_weights = "{root}/weights/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
[gan.project]
generator = "ffhq-1024"
perceptual = "random"
[gan.styleflow]
flow = "styleflow-large"
[gan]
weights_dir = "{root}/weights"
"""


@pytest.mark.slow
def test_fetch_all_makes_a_profile_ready_and_run_refuses_a_tampered_weight(tmp_path):
    server = Loopback()
    try:
        _serve_everything(server)
        profile = tmp_path / "thesis_shaped.toml"
        profile.write_text(PROFILE.format(root=tmp_path / "data"))
        before = _eltrepro("doctor", "--profile", str(profile), cwd=tmp_path)
        assert before.returncode == 1 and before.stdout.count(" -- fix: ") == 10, before.stdout
        fetched = _eltrepro(
            "fetch-all", "--profile", str(profile), "--trust-first-download", "--mirror", server.url, cwd=tmp_path
        )
        assert fetched.returncode == 0, fetched.stdout + fetched.stderr
        after = _eltrepro("doctor", "--profile", str(profile), cwd=tmp_path)
        assert after.returncode == 0 and f"doctor: profile {profile}: ready" in after.stdout, after.stdout
    finally:
        server.close()
    (tmp_path / "data" / "weights" / "ffhq.pkl").write_bytes(b"tampered")
    run = _eltrepro("run", "--profile", str(profile), "--store", str(tmp_path / "store"), cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "the run would fail: 1 problem(s)" in run.stderr and "ffhq.pkl: sha256" in run.stderr
    assert "eltrepro weights fetch ffhq-1024" in run.stderr and not (tmp_path / "store" / "synth_wflw").exists()


def test_pool_checks_name_a_missing_server(tmp_path):
    result = _eltrepro("doctor", "--pool", cwd=tmp_path)
    assert result.returncode == 1
    assert "Prefect server: PREFECT_API_URL is not set" in result.stdout and "prefect server start" in result.stdout


FIX_URL = "PREFECT_API_URL=http://127.0.0.1:4200/api"


@pytest.mark.slow
def test_pool_checks_name_a_server_that_does_not_answer_in_one_line(tmp_path):
    server = Loopback()  # an HTTP server, but no Prefect server: its /api/health is a 404
    try:
        closed, other = f"http://127.0.0.1:{free_port()}/api", f"{server.url}/api"
        for url, reason in ((closed, "Connection refused"), (other, "Client error '404 Not Found'")):
            result = _eltrepro("doctor", "--pool", cwd=tmp_path, PREFECT_API_URL=url)
            lines = [line for line in result.stdout.splitlines() if "Prefect server" in line]
            assert result.returncode == 1 and len(lines) == 1, result.stdout + result.stderr
            assert lines[0].startswith(f"x Prefect server: not reachable at {url} (") and reason in lines[0]
            assert lines[0].endswith(") -- fix: prefect server start &  then: prefect config set " + FIX_URL)
    finally:
        server.close()
    assert ("/api/health", None) in server.requests  # Prefect's client asked the server's health endpoint


@pytest.mark.server
@pytest.mark.slow
def test_pool_checks_against_a_real_server(infra, tmp_path, wait_until):
    base, env, procs = infra
    ask = {"PREFECT_API_URL": env["PREFECT_API_URL"]}
    bare = _eltrepro("doctor", "--pool", cwd=tmp_path, **ask)
    for expected in (
        "deployment train-experiment/train-experiment: not on the server -- fix: prefect --no-prompt deploy --all",
        "work pool gpu-pool: does not exist -- fix: prefect work-pool create gpu-pool --type process",
        "concurrency limit eltrepro-gpu: does not exist -- fix: prefect gcl create eltrepro-gpu --limit 2",
    ):
        assert expected in bare.stdout, bare.stdout
    create_process_pools(env, "gpu-pool")
    deploy(env, "train-experiment", "run-stage", "gpu-probe")
    create_limit(env, "eltrepro-gpu", 2)
    no_worker = _eltrepro("doctor", "--pool", cwd=tmp_path, **ask)
    assert "work pool gpu-pool: no live worker" in no_worker.stdout and "prefect worker start --pool gpu-pool" in (
        no_worker.stdout
    )
    procs.start("gpu-worker", [str(BIN / "prefect"), "worker", "start", "--pool", "gpu-pool"], env)
    store = ["--store", str(tmp_path / "store")]
    probed = wait_until(
        lambda: "no live worker" not in (r := _eltrepro("doctor", "--pool", *store, cwd=tmp_path, **ask)).stdout and r,
        timeout=180,
        interval=2.0,
        what="the worker's first heartbeat and the probe's flow run",
    )
    import torch

    problems = [line for line in probed.stdout.splitlines() if " -- fix: " in line]
    if torch.cuda.is_available():  # the probe ran on this machine's worker: it sees what this process sees
        assert probed.returncode == 0 and not problems, probed.stdout
    else:
        assert len(problems) == 1 and "sees no CUDA device" in problems[0], probed.stdout  # the store is fine


@pytest.mark.slow
def test_wait_server_waits_for_a_server_that_comes_up_late_and_gives_up_in_one_line(tmp_path):
    """The README's set-up (`prefect server start &`, then the pool commands) needs a wait: the server starts in
    about 10 s. Here the server answers its first health checks with 503 (not ready), so the command must keep
    asking until it is told healthy (no timing involved: the server counts the checks)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    checks: list[int] = []

    class Health(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            ready = self.path.endswith("/health") and len(checks) >= 2
            checks.append(200 if ready else 503)
            self.send_response(checks[-1])
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"true")

        def log_message(self, *args):
            pass

    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    gave_up = _eltrepro("wait-server", "--timeout", "1", cwd=tmp_path, PREFECT_API_URL=url)
    assert gave_up.returncode == 2 and "Traceback" not in gave_up.stderr
    assert gave_up.stderr.strip().splitlines() == [
        f"error: no Prefect server answered at {url} within 1 s ([Errno 111] Connection refused)"
    ]
    server = ThreadingHTTPServer(("127.0.0.1", port), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        waited = _eltrepro("wait-server", "--timeout", "60", cwd=tmp_path, PREFECT_API_URL=url)
    finally:
        server.shutdown()
    assert waited.returncode == 0, waited.stderr
    assert checks[:2] == [503, 503] and checks[-1] == 200  # it kept asking after "not ready"
    assert "healthy after" in waited.stdout
    unset = _eltrepro("wait-server", cwd=tmp_path)
    assert unset.returncode == 2 and "PREFECT_API_URL is not set" in unset.stderr


def test_a_store_that_could_not_be_made_is_a_finding_and_nothing_is_created(tmp_path):
    from elt_cli.preflight import store_findings

    (tmp_path / "a-file").write_text("x")
    assert store_findings(str(tmp_path / "new" / "store")) == [] and not (tmp_path / "new").exists()
    [finding] = store_findings(str(tmp_path / "a-file" / "store"))
    assert f"{tmp_path / 'a-file'} is a file, not a folder" in finding.line()
    [finding] = store_findings(str(tmp_path / "a-file"))
    assert "is a file, not a folder" in finding.line()
    (tmp_path / "made").mkdir()
    assert store_findings(str(tmp_path / "made")) == [] and list((tmp_path / "made").iterdir()) == []
