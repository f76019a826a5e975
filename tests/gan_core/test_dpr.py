"""DPR port: strict loading of the published weights and the published network's coefficients on a real face."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from gan_core.dpr import HourglassNet, dpr_input, estimate_sh, load_dpr

SHARED = Path(__file__).resolve().parents[3] / "shared" / "weights" / "dpr" / "trained_model_03.t7"
FACE = Path(__file__).resolve().parents[1] / "data" / "ffhq" / "astronaut_full_128.png"
# DPR's own code (zhhoper/DPR, model/defineHourglass_512_gray_skip.py, eval mode) with trained_model_03.t7 on
# astronaut_full_128.png through dpr_input (cv2.resize to 512, L of Lab / 255): its output light, [9].
PUBLISHED_SH = [
    0.9160534739494324,
    -0.09614989161491394,
    0.21722066402435303,
    -0.2535438537597656,
    -0.0908065065741539,
    0.06096651405096054,
    -0.13503329455852509,
    0.030677080154418945,
    -0.17819109559059143,
]

needs_weights = pytest.mark.skipif(not SHARED.is_file(), reason=f"published DPR weights not at {SHARED}")


@needs_weights
def test_published_weights_load_strictly_and_predict_the_published_coefficients():
    model = load_dpr(SHARED)
    assert len(model.state_dict()) == 250
    sh = estimate_sh(model=model, images_bgr=[cv2.imread(str(FACE))])[0]
    np.testing.assert_allclose(sh, PUBLISHED_SH, atol=1e-5)


@needs_weights
def test_the_estimator_path_equals_the_full_network_light_output():
    model = load_dpr(SHARED)
    x = dpr_input(image_bgr=cv2.imread(str(FACE)))
    with torch.no_grad():
        relit, light = model(x, torch.zeros(1, 9, 1, 1))
    assert relit.shape == (1, 1, 512, 512) and float(relit.min()) >= 0 and float(relit.max()) <= 1
    assert torch.allclose(light.flatten(), model.estimate_light(x).flatten())


def test_port_has_the_published_layout_and_refuses_other_files(tmp_path):
    net = HourglassNet()
    keys = net.state_dict()
    assert len(keys) == 250  # the inner hourglasses are registered twice, as in the published file
    assert "HG3.middle.middle.middle.middle.predict_FC1.weight" in keys and "light.predict_FC1.weight" in keys
    state = dict(keys)
    torch.save({k: v for k, v in state.items() if k != "output.bias"}, tmp_path / "missing.t7")
    with pytest.raises(ValueError, match="missing \\['output.bias'\\]"):
        load_dpr(tmp_path / "missing.t7")
    torch.save({**state, "pre_conv.weight": torch.zeros(16, 3, 5, 5)}, tmp_path / "shape.t7")
    with pytest.raises(ValueError, match="pre_conv.weight"):
        load_dpr(tmp_path / "shape.t7")


def test_random_network_estimates_a_batch():
    torch.manual_seed(0)
    model = HourglassNet().eval()
    faces = [np.full((64, 64, 3), v, np.uint8) for v in (40, 200)]
    sh = estimate_sh(model=model, images_bgr=faces)
    assert sh.shape == (2, 9) and np.isfinite(sh).all() and not np.allclose(sh[0], sh[1])
