"""A run prints only the project's own lines, Prefect's run logs and the progress bars: no TensorFlow C++ log, no
Python warning, no event the Prefect server refuses."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.flows.server import BIN
from tests.flows.tiny_profile import write_profile

pytestmark = pytest.mark.slow

NOISE = {
    "a TensorFlow/absl C++ log line": re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|cpu_feature_guard|oneDNN"),
    "a Python warning": re.compile(r"\b[A-Z]\w*Warning: "),
    "a refused event": re.compile(r"Refusing to publish event"),
    "a traceback": re.compile(r"^Traceback \(most recent call last\)"),
}


def test_a_run_with_the_gan_branch_prints_no_foreign_noise(tmp_path):
    profile = write_profile(tmp_path, 0.25, gan=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TF_", "PYTHONWARNINGS"))}
    env["PREFECT_HOME"] = str(tmp_path / "home")
    args = [str(BIN / "eltrepro"), "run", "--profile", str(profile), "--store", str(tmp_path / "store")]
    done = subprocess.run(
        [*args, "--experiments", "two_step_l0"], env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Task run 'segment_train" in output  # TensorFlow ran in this process
    noisy = [f"{what}: {line}" for line in output.splitlines() for what, rx in NOISE.items() if rx.search(line)]
    assert not noisy, "\n".join(noisy)
    assert "no ImageNet VGG16 weights given" in output  # the stage's caveat, as a line of the run's log
    assert done.stdout.rstrip().splitlines()[-1].endswith("report.md")  # the last line of stdout: the report
