import numpy as np
import pytest

from gan_core.sh import PRESETS, dpr_normals, fit_sh, plan_variants, relit_target, sh_basis, shading


def _sphere(n: int = 40) -> np.ndarray:
    xs = np.linspace(-0.95, 0.95, n)
    x, y = np.meshgrid(xs, -xs)
    keep = x**2 + y**2 < 0.9
    z = np.sqrt(1 - x[keep] ** 2 - y[keep] ** 2)
    return np.stack([x[keep], y[keep], z], axis=1)


def test_axes_follow_dpr_and_the_basis_constants():
    toward_viewer, up, right = np.eye(3)[[2, 1, 0]]
    assert np.allclose(dpr_normals(toward_viewer), [0, -1, 0]) and np.allclose(dpr_normals(up), [0, 0, 1])
    assert np.allclose(dpr_normals(right), [1, 0, 0])
    basis = sh_basis(np.array([[0.0, 0.0, 1.0]]))[0]
    assert basis[0] == pytest.approx(0.5 / np.sqrt(np.pi) * np.pi)
    assert basis[2] == pytest.approx(np.sqrt(3) / 2 / np.sqrt(np.pi) * 2 * np.pi / 3)
    assert basis[6] == pytest.approx(np.sqrt(5) / 4 / np.sqrt(np.pi) * 2 * np.pi / 4)


def test_fit_recovers_the_lighting_of_a_rendered_sphere():
    normals = dpr_normals(_sphere())
    for sh in PRESETS.values():
        luminance = shading(normals_dpr=normals, sh=sh)
        np.testing.assert_allclose(fit_sh(normals_dpr=normals, luminance=luminance, ridge=(0.0, 0.0)), sh, atol=1e-8)
    with pytest.raises(ValueError, match="at least 9"):
        fit_sh(normals_dpr=normals[:5], luminance=np.ones(5))


def test_presets_are_styleflows_rows_and_point_where_named():
    assert list(PRESETS) == ["left_to_right", "right_to_left", "up_to_down", "down_to_up", "none", "frontal"]
    assert PRESETS["left_to_right"][3] > 0 > PRESETS["right_to_left"][3]  # X coefficients of opposite sign


def test_target_moves_toward_the_presets_by_the_amounts():
    source = np.linspace(0.1, 0.9, 9)
    assert np.allclose(relit_target(source=source, presets=[], amounts=[]), source)
    assert np.allclose(relit_target(source=source, presets=["frontal"], amounts=[1.0]), PRESETS["frontal"])
    half = relit_target(source=source, presets=["none", "frontal"], amounts=[0.25, 0.25])
    assert np.allclose(half, source + 0.25 * (PRESETS["none"] - source) + 0.25 * (PRESETS["frontal"] - source))


def test_variant_plan_is_seeded_distinct_and_in_range():
    plan = plan_variants(n_variants=3, k_lights=3, amount_min=0.3, amount_max=0.9, seed=5)
    assert plan == plan_variants(n_variants=3, k_lights=3, amount_min=0.3, amount_max=0.9, seed=5)
    assert plan != plan_variants(n_variants=3, k_lights=3, amount_min=0.3, amount_max=0.9, seed=6)
    for presets, amounts in plan:
        assert len(set(presets)) == 3 and all(0.1 <= a <= 0.3 for a in amounts)
    with pytest.raises(ValueError, match="k_lights"):
        plan_variants(n_variants=1, k_lights=7, amount_min=0, amount_max=1, seed=0)
