"""The preflight: everything a run of a profile needs, checked before any work, one finding per problem with the
exact command that fixes it.

Local checks (cheap, no Prefect server): the WFLW archives pinned and extracted from verified bytes, every
published weight the profile uses present and matching its digest, LFW Part Labels, a CUDA device where the
profile demands one, the store writable. With ``--pool`` (``pool_findings``): the Prefect server reachable,
the deployments there, the GPU pool present with a live worker (a recent heartbeat), the global concurrency
limit that bounds it, and a tiny flow run on the pool (``flows/gpu_probe.py``) that reports whether a CUDA
device is visible there and whether the store can be written from there.

``eltrepro run`` runs the cheap checks first (all but the probe) and refuses to start on a finding that would
fail the run later.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from elt_study.run_profile import Profile
from flows.names import GPU_LIMIT, GPU_LIMIT_SLOTS, GPU_POOL, PROBE_DEPLOYMENT, STAGE_DEPLOYMENT, TRAIN_DEPLOYMENT
from kit.store import Store
from landmark_core.download import RemoteFile, load_pins, sha256_file

PROBE_WAIT_S = 60.0
HEARTBEAT_FRESH_S = 90.0  # a worker polls every 15 s; three missed polls and more count as gone


@dataclass(frozen=True)
class Finding:
    """One problem: the item, what is wrong, the command that fixes it, and whether a run started now would fail
    on it (``fatal``; a missing archive the run downloads itself is not)."""

    item: str
    problem: str
    fix: str
    fatal: bool = True

    def line(self) -> str:
        return f"{self.item}: {self.problem} -- fix: {self.fix}"


def fetch_all_command(profile_arg: str) -> str:
    return f"eltrepro fetch-all --profile {profile_arg} --trust-first-download"


def archive_findings(
    *,
    files: tuple[RemoteFile, ...],
    dest: Path,
    given: dict[str, str],
    fix: str,
    fetched_by_run: bool = False,
    trusted: bool = False,
) -> list[Finding]:
    """Each file of a download set: a digest known or pinned, present and matching it, extracted from it.

    ``fetched_by_run``: a run downloads these itself (then only an unknown digest without ``trusted``, a
    first-download pin the profile allows, would stop it).

    An archive extracted from verified bytes (its ``.extracted`` record holds the expected digest) is not hashed
    again: the tens of gigabytes of a dataset would cost minutes.
    """
    pins, found = load_pins(dest), []
    for remote in files:
        item = str(dest / remote.name)
        expected = (given.get(remote.name) or remote.sha256 or pins.get(remote.name) or "").lower()
        if not expected:
            state = "downloaded" if (dest / remote.name).is_file() else "not downloaded"
            found.append(Finding(item, f"{state}, and no sha256 known or pinned", fix, fatal=not trusted))
            continue
        marker = dest / ".extracted" / f"{remote.name}.json"
        if remote.extract and marker.is_file() and f'"{expected}"' in marker.read_text():
            continue
        path = dest / remote.name
        fatal = not fetched_by_run
        if not path.is_file():
            found.append(Finding(item, "not downloaded", fix, fatal))
        elif (actual := sha256_file(path)) != expected:
            problem = f"sha256 {actual[:12]}... differs from the pinned {expected[:12]}..."
            found.append(Finding(item, problem, fix, fatal))
        elif remote.extract:
            found.append(Finding(item, "downloaded but not extracted", fix, fatal))
    return found


def needed_weights(profile: Profile) -> list[str]:
    """The published weights (registry names) a profile's GAN branch loads."""
    gan, names = profile.gan, []
    if gan is None:
        return names
    if gan.project is not None:
        names += [gan.project.generator] if gan.project.generator not in ("random", "twin") else []
        names += ["vgg16-imagenet", "lpips-vgg-lin"] if gan.project.perceptual == "lpips-vgg" else []
    if gan.attributes is not None and gan.attributes.estimator == "dpr":
        names.append("dpr-512")
    if gan.styleflow is not None and gan.styleflow.flow not in ("random", "twin"):
        names.append(gan.styleflow.flow)
    return names


def weight_findings(profile: Profile, *, profile_arg: str) -> list[Finding]:
    """Every published weight the profile uses, in ``gan.weights_dir``, matching its digest."""
    from gan_core.published import WEIGHTS

    gan = profile.gan
    if gan is None:
        return []
    dest = Path(gan.weights_dir or "data/weights")
    found = []
    for name in needed_weights(profile):
        fix = f"eltrepro weights fetch {name} --dest {dest} --trust-first-download"
        found += archive_findings(files=(WEIGHTS[name],), dest=dest, given={}, fix=fix)
    keras = gan.segment_train.vgg16_weights
    if gan.segment_train.data == "lfw" and keras and not Path(keras).is_file():
        fix = f"eltrepro weights fetch vgg16-keras-notop --dest {Path(keras).parent} --trust-first-download"
        found.append(Finding(keras, "Keras VGG16 weights (the segmenter's backbone) not found", fix))
    return found


def local_findings(profile: Profile, *, profile_arg: str, store: str, pool: bool = False) -> list[Finding]:
    """The checks that need no server: data, weights, device, store."""
    from gan_core.lfw_parts import LFW_PARTS_FILES
    from landmark_core.download import WFLW_FILES

    found: list[Finding] = []
    everything = fetch_all_command(profile_arg)
    if profile.wflw is not None:
        dest, given = Path(profile.wflw.dest), dict(profile.wflw.sha256)
        fix = f"eltrepro data fetch --dest {dest} --trust-first-download  (or: {everything})"
        trusted = profile.wflw.trust_first_download
        found += archive_findings(
            files=WFLW_FILES, dest=dest, given=given, fix=fix, fetched_by_run=True, trusted=trusted
        )
    gan = profile.gan
    if gan is not None and gan.segment_train.data == "lfw":
        found += archive_findings(
            files=LFW_PARTS_FILES, dest=Path(gan.segment_train.lfw_dest), given={}, fix=everything
        )
    found += weight_findings(profile, profile_arg=profile_arg)
    if profile.device.startswith("cuda") and not pool and not _cuda_here():
        fix = 'run with --pool (GPU workers), or set device = "auto" in the profile to accept the CPU'
        found.append(Finding("device", f"the profile asks for {profile.device!r} and this machine has no CUDA", fix))
    found += store_findings(store)
    return found


def _cuda_here() -> bool:
    import torch

    return torch.cuda.is_available()


def store_findings(store: str) -> list[Finding]:
    """The store can be written: a probe file is written and removed, or, for a local store not made yet, the
    folder that would hold it can be written (the doctor only looks: it creates no store)."""
    try:
        target = Store(store, create=False)
        problem = _creatable(Path(target.root)) if target.local else target.write_problem()
    except Exception as error:  # the URL itself is unusable (an unknown protocol, a missing package)
        problem = f"{type(error).__name__}: {error}"
    if problem is None:
        return []
    fix = "pass a writable --store (a local folder, or s3://... with AWS_* credentials in the environment)"
    return [Finding(f"store {store}", f"not writable ({problem})", fix)]


def _creatable(root: Path) -> str | None:
    """Why a local store at ``root`` could not be written or made (None when it could), creating nothing."""
    if root.is_dir():
        return Store(root, create=False).write_problem()
    parent = next(p for p in root.parents if p.exists())
    if root.exists() or not parent.is_dir():
        return f"{root if root.exists() else parent} is a file, not a folder"
    return None if os.access(parent, os.W_OK | os.X_OK) else f"cannot create a folder in {parent}"


def pool_findings(
    *,
    store: str,
    probe: bool = True,
    deployments: tuple[str, ...] = (TRAIN_DEPLOYMENT, STAGE_DEPLOYMENT, PROBE_DEPLOYMENT),
) -> list[Finding]:
    """The server side of ``--pool``: server, deployments, their pool with a live worker, the concurrency limit,
    and (``probe``) a flow run on the pool that reports CUDA and the store as a worker sees them (no CUDA is a
    warning: the run would go on, on the CPU)."""
    url = os.environ.get("PREFECT_API_URL") or _configured_api_url()
    start = "prefect server start &  then: prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api"
    if not url:
        return [Finding("Prefect server", "PREFECT_API_URL is not set: --pool needs a running server", start)]
    if (error := health_error(url)) is not None:
        reason = str(error).partition("\n")[0] or type(error).__name__  # a status error's text runs on for lines
        return [Finding("Prefect server", f"not reachable at {url} ({reason})", start)]
    found = _server_findings(deployments)
    if probe and not found:  # a live worker and the probe's deployment: look from inside the pool
        found = probe_findings(store)
    return found


def health_error(url: str) -> Exception | None:
    """Prefect's health check of the server at ``url``: None when it answers, else the error.

    Args:
        url: the server's API URL (``PREFECT_API_URL``).

    Returns:
        None, or the exception the check met (5 s, no retries: the doctor reports, it does not wait).
    """
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    with (
        temporary_settings({PREFECT_API_URL: url, PREFECT_CLIENT_MAX_RETRIES: 0}),
        get_client(sync_client=True, httpx_settings={"timeout": 5.0}) as client,
    ):
        return client.api_healthcheck()


def probe_findings(store: str) -> list[Finding]:
    """Run the ``gpu-probe`` flow on the GPU pool: a CUDA device visible there, the store writable from there."""
    from flows.pool import NoWorkerError, await_flow_run

    try:
        run_id = await_flow_run(
            PROBE_DEPLOYMENT, "gpu-probe", {"store": store}, worker_wait_s=PROBE_WAIT_S, what="probe", retries=0
        )
    except (NoWorkerError, RuntimeError) as error:
        return [Finding("GPU pool probe", str(error), f"prefect worker start --pool {GPU_POOL}  (on each GPU machine)")]
    seen = _probe_result(run_id)
    found = []
    if not seen["cuda"]:
        fix = "give the GPU workers an NVIDIA driver and a CUDA torch (docker/Dockerfile.gpu, --profile gpu)"
        found.append(Finding(f"GPU pool worker on {seen['host']}", "sees no CUDA device", fix, fatal=False))
    if not seen["store_writable"]:
        fix = "share the store with the workers (one volume, or s3://... with AWS_* in the workers' environment)"
        found.append(Finding(f"store {store} from {seen['host']}", f"not writable ({seen['store_error']})", fix))
    return found


def _probe_result(run_id: str) -> dict:
    """The probe's observation: the table artifact its flow run left on the server."""
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    table = next(a.data for a in found if a.key == "gpu-probe")
    return json.loads(table)[0] if isinstance(table, str) else table[0]


def _configured_api_url() -> str:
    from prefect.settings import get_current_settings

    return str(get_current_settings().api.url or "")


def _server_findings(deployments: tuple[str, ...]) -> list[Finding]:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    found: list[Finding] = []
    with get_client(sync_client=True) as client:
        pool = GPU_POOL
        for deployment in deployments:
            try:
                pool = client.read_deployment_by_name(deployment).work_pool_name or pool
            except ObjectNotFound:
                fix = "prefect --no-prompt deploy --all"
                found.append(Finding(f"deployment {deployment}", "not on the server", fix))
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            found.append(
                Finding(f"work pool {pool}", "does not exist", f"prefect work-pool create {pool} --type process")
            )
        else:
            fresh = datetime.now(UTC) - timedelta(seconds=HEARTBEAT_FRESH_S)
            workers = client.read_workers_for_work_pool(pool)
            if not any(w.last_heartbeat_time and w.last_heartbeat_time >= fresh for w in workers):
                fix = f"prefect worker start --pool {pool}  (on each GPU machine)"
                found.append(Finding(f"work pool {pool}", "no live worker (no heartbeat in 90 s)", fix))
        try:
            client.read_global_concurrency_limit_by_name(GPU_LIMIT)
        except ObjectNotFound:
            fix = f"prefect gcl create {GPU_LIMIT} --limit {GPU_LIMIT_SLOTS}"
            found.append(Finding(f"concurrency limit {GPU_LIMIT}", "does not exist", fix))
    return found
