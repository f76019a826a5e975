"""Pool scaling: the same sharded projection with 1 worker (the named baseline) and with 2 workers of a real
Prefect server's GPU pool, side by side in one run; prints each wall time and the speedup.

Each worker stands for one GPU: it takes one flow run at a time (``--limit 1``) and computes with one thread, so
on a 2-core machine two workers have a core each. The projection is the tiny random generator on the CPU, its
faces cut into shards of ``--shard-faces`` (every shard is a ``run-stage`` flow run); both runs make the same
key and the same bytes (checked).

Usage: .venv/bin/python benchmarks/pool_scaling.py [--faces 8] [--shard-faces 2] [--steps 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from prefect import flow
from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

from flows.pool import run_on_pool
from gan_core.projector_config import ProjectorConfig
from kit.prefect_stage import StageRef, StageRunner
from kit.stage import Runtime
from kit.store import Store
from tasks.project import project
from tasks.published_weights import ProjectConfig

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the test helpers (the server, the pool, the toy aligned faces) live in tests/
    sys.path.insert(0, str(ROOT))


@flow(name="pool-scaling-benchmark")
def sharded_projection(store: str, filtered: StageRef, config: dict, shard_faces: int) -> StageRef:
    """The projection of ``filtered`` on the GPU pool, one flow run per shard, merged here."""
    runner = StageRunner(store=store, runtime=Runtime(device="cpu", shard_faces=shard_faces))
    typed = ProjectConfig(**{**config, "projector": ProjectorConfig(**config["projector"])})
    return run_on_pool(runner, project, typed, filtered=filtered, worker_wait_s=300, device="cpu")


def one_run(*, workers: int, base: Path, env: dict[str, str], args: argparse.Namespace) -> tuple[float, StageRef]:
    """Wall seconds of the sharded projection with ``workers`` workers (a fresh store, an emptied server)."""
    from tests.flows.server import BIN, Processes, create_limit, create_process_pools, deploy, reset_server
    from tests.kit.toy_stages import AlignedFacesConfig, aligned_faces

    reset_server(env["PREFECT_API_URL"])
    create_process_pools(env, "gpu-pool")
    create_limit(env, "eltrepro-gpu", workers)
    deploy(env, "run-stage")
    folder = base / f"workers-{workers}"
    folder.mkdir()
    procs = Processes(folder)
    single = env | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PREFECT_HOME": str(folder / "home")}
    for i in range(workers):
        procs.start(
            f"worker-{i}", [str(BIN / "prefect"), "worker", "start", "--pool", "gpu-pool", "--limit", "1"], single
        )
    try:
        store = Store(folder / "store")
        filtered = aligned_faces.run(store=store, config=AlignedFacesConfig(faces=args.faces))[0]
        ref = StageRef(store=store.url, stage=filtered.stage, key=filtered.key)
        config = {
            "generator": "random",
            "perceptual": "random",
            "batch_size": args.batch,
            "amp": False,
            "projector": {"steps": args.steps, "w_avg_samples": 256, "discard_step": args.steps},
        }
        settings = {PREFECT_API_URL: env["PREFECT_API_URL"], PREFECT_HOME: str(folder / "home")}
        with temporary_settings(updates=settings):
            started = time.perf_counter()
            merged = sharded_projection(store.url, ref, config, args.shard_faces)
            return time.perf_counter() - started, merged
    finally:
        procs.stop()


def _arrays(ref: StageRef) -> dict[str, bytes]:
    folder = Path(ref.output().path)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.np[yz]")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=8)
    parser.add_argument("--shard-faces", type=int, default=2)
    parser.add_argument("--batch", type=int, default=2, help="faces projected at once (shards hold whole batches)")
    parser.add_argument("--steps", type=int, default=300, help="optimisation steps per face")
    args = parser.parse_args()
    if min(args.faces, args.shard_faces, args.batch, args.steps) < 1:
        parser.error("--faces, --shard-faces, --batch and --steps must be at least 1")
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    from tests.flows.server import Processes, start_server

    with tempfile.TemporaryDirectory(prefix="pool-scaling-") as tmp:
        base = Path(tmp)
        server = Processes(base)
        try:
            _, env = start_server(base, server)
            times, refs = {}, {}
            for workers in (1, 2):
                times[workers], refs[workers] = one_run(workers=workers, base=base, env=env, args=args)
                print(f"{workers} worker(s): {times[workers]:6.1f} s", flush=True)
            same = _arrays(refs[1]) == _arrays(refs[2])
        finally:  # the last logs go while the server is up
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10)
            server.stop()
    shards = -(-args.faces // (-(-args.shard_faces // args.batch) * args.batch))
    print(f"{args.faces} faces x {args.steps} steps in {shards} shards; same key: {refs[1].key == refs[2].key}")
    print(f"same projections (latents, noises, losses): {same}")
    print(f"speedup, 2 workers over 1 (the baseline): {times[1] / times[2]:.2f}x")


if __name__ == "__main__":
    main()
