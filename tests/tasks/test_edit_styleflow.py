"""edit_styleflow: another StyleFlow attribute edit than lighting, on the projected faces of a small twin."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gan_core.attributes import STYLEFLOW_MEANS
from landmark_core.config import ConfigError, from_dict
from tasks.attributes import AttributesConfig
from tasks.edit_styleflow import AttributeEditConfig, edit_styleflow
from tests.tasks.test_relight_styleflow import GENERATOR, chain, conditions_of  # noqa: F401 (chain: a fixture)


def test_the_edit_renders_one_face_per_target_with_the_attribute_moved(chain):  # noqa: F811
    store, dataset, index, filtered, projected = chain
    conditions = conditions_of(chain, AttributesConfig(estimator="fit"))
    params = AttributeEditConfig(attribute="beard", targets=(0.5, 1.0), flow="random", generator=GENERATOR)
    inputs = {"filtered": filtered, "projected": projected, "attributes": conditions}
    out, computed = edit_styleflow.run(store=store, config=params, **inputs)
    edited = out.manifest()
    faces = len(conditions.manifest())
    assert computed and len(edited) == 2 * faces and (edited["backend"] == "styleflow_edit").all()
    assert sorted(set(edited["target_value"])) == [0.5, 1.0] and (edited["attribute"] == "beard").all()
    assert np.allclose(edited["source_value"], STYLEFLOW_MEANS["beard"], atol=1e-6)
    assert (edited["code_change"] > 0).all()
    info = out.metadata()["info"]
    assert info["attribute"] == "beard" and info["meaningful"] is False and "edited pictures" in info["warning"]
    for path in edited["image_path"]:
        assert cv2.imread(str(out.local_dir() / path)).shape == (128, 128, 3)
    again, computed = edit_styleflow.run(store=store, config=params, **inputs)
    assert not computed and again.key == out.key


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"attribute": "yaw"}, "attribute 'yaw' moves landmarks"),
        ({"attribute": "expression"}, "attribute 'expression' moves landmarks"),
        ({"attribute": "moustache"}, "attribute 'moustache': expected one of gender"),
        ({"attribute": "age", "targets": [70.0]}, r"targets \[70.0\]: age needs values in \[0.0, 65.0\]"),
        ({"attribute": "beard", "targets": []}, "beard needs values"),
    ],
)
def test_an_edit_that_moves_landmarks_or_leaves_the_range_is_one_line(values, message):
    with pytest.raises(ConfigError, match=message) as err:
        from_dict(AttributeEditConfig, values, where="p.toml", key="gan.styleflow_edit")
    assert "\n" not in str(err.value) and "p.toml" in str(err.value)
