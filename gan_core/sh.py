"""Second-order spherical-harmonic (SH) lighting in DPR's convention, and the study's lighting presets.

DPR (and StyleFlow, which uses DPR's estimates) orders the 9 coefficients ``1, Y, Z, X, YX, YZ, 3Z^2-1, XZ,
X^2-Y^2`` and folds the Lambertian attenuation (pi, 2pi/3, pi/4 per band) into the basis, so shading is
``basis(n) @ sh``. Its normal axes, read off DPR's own half-sphere renderer: X to the image's right, Z up,
and Y pointing *away* from the viewer. :func:`dpr_normals` converts from this project's model/camera-facing
axes (x right, y up, z toward the viewer).

The presets are StyleFlow's six lighting examples (rows 8, 33, 641, 547, 28, 34 of its published
``data/light.npy``, CC BY-NC-SA 4.0, R. Abdal et al.), copied as 54 numbers with their names from the study.
"""

from __future__ import annotations

import numpy as np

ATTENUATION = np.pi * np.array([1.0, 2.0 / 3.0, 0.25])

PRESETS: dict[str, np.ndarray] = {
    name: np.asarray(values)
    for name, values in {
        "left_to_right": [0.785498, -0.089578, 0.215241, 0.280035, -0.109324, -0.007329, -0.233743, 0.029123, 0.235821],
        "right_to_left": [
            0.828138,
            -0.180148,
            0.522225,
            -0.304316,
            0.177256,
            -0.071018,
            -0.080638,
            -0.291484,
            0.291195,
        ],
        "up_to_down": [0.8019, -0.245954, 0.124247, -0.100857, -0.016697, -0.07273, -0.123047, 0.013365, 0.009409],
        "down_to_up": [0.63915, -0.176766, 0.680426, 0.109943, 0.158147, -0.057227, 0.176585, 0.170394, 0.329559],
        "none": [1.054907, 0.245198, 0.238319, 0.003445, -0.064258, 0.143821, -0.312507, -0.014421, -0.096498],
        "frontal": [0.780291, -0.253649, 0.009759, -0.014651, -0.015664, 0.00103, -0.222962, -0.036112, -0.041247],
    }.items()
}
PRESET_ROWS = {"left_to_right": 8, "right_to_left": 33, "up_to_down": 641, "down_to_up": 547, "none": 28, "frontal": 34}


def dpr_normals(normals_xyz: np.ndarray) -> np.ndarray:
    """Model-axis normals (x right, y up, z toward the viewer) -> DPR's (X right, Y away from the viewer, Z up).

    Shapes:
        ``[..., 3] -> [..., 3]``.
    """
    x, y, z = normals_xyz[..., 0], normals_xyz[..., 1], normals_xyz[..., 2]
    return np.stack([x, -z, y], axis=-1)


def sh_basis(normals_dpr: np.ndarray) -> np.ndarray:
    """DPR's attenuated SH basis of unit normals (DPR axes).

    Shapes:
        ``[N, 3] -> [N, 9]``.
    """
    x, y, z = normals_dpr[:, 0], normals_dpr[:, 1], normals_dpr[:, 2]
    c0, c1, c2 = 0.5 / np.sqrt(np.pi), np.sqrt(3) / 2 / np.sqrt(np.pi), np.sqrt(15) / 2 / np.sqrt(np.pi)
    a0, a1, a2 = ATTENUATION
    return np.stack(
        [
            np.full_like(x, c0 * a0),
            c1 * y * a1,
            c1 * z * a1,
            c1 * x * a1,
            c2 * y * x * a2,
            c2 * y * z * a2,
            np.sqrt(5) / 4 / np.sqrt(np.pi) * (3 * z**2 - 1) * a2,
            c2 * x * z * a2,
            np.sqrt(15) / 4 / np.sqrt(np.pi) * (x**2 - y**2) * a2,
        ],
        axis=1,
    )


def shading(*, normals_dpr: np.ndarray, sh: np.ndarray) -> np.ndarray:
    """Irradiance ``basis(n) @ sh`` for ``[N, 3]`` normals and ``[9]`` coefficients -> ``[N]``."""
    return sh_basis(normals_dpr) @ np.asarray(sh, dtype=np.float64)


def fit_sh(*, normals_dpr: np.ndarray, luminance: np.ndarray, ridge: tuple[float, float] = (1e-3, 0.05)) -> np.ndarray:
    """Least-squares SH lighting that best explains ``luminance`` on surfaces with ``normals`` (constant albedo).

    A face shows only the camera-facing half of the sphere, where second-band terms such as YZ can mimic the
    first band (Y is nearly constant there): unregularised, the fit explains a light from above with a negative
    Z and a large YZ. A Tikhonov penalty, heavier on the second band, makes the first band carry the
    direction (on rendered faces with a known light: in-plane direction within a few degrees).

    Args:
        normals_dpr: ``[N, 3]`` unit normals, DPR axes.
        luminance: ``[N]`` observed intensity (DPR's L/255 scale).
        ridge: Tikhonov weights on band 1 (coefficients 1-3) and band 2 (4-8), relative to the data scale.

    Returns:
        ``[9]`` coefficients.

    Raises:
        ValueError: fewer than 9 samples, or a non-finite result.
    """
    if len(luminance) < 9:
        raise ValueError(f"an SH fit needs at least 9 samples, got {len(luminance)}")
    basis = sh_basis(normals_dpr)
    gram = basis.T @ basis
    scale = np.trace(gram) / 9
    penalty = np.diag([0.0] + [ridge[0] * scale] * 3 + [ridge[1] * scale] * 5)
    sh = np.linalg.solve(gram + penalty, basis.T @ luminance)
    if not np.all(np.isfinite(sh)):
        raise ValueError("SH fit is not finite")
    return sh


def relit_target(*, source: np.ndarray, presets: list[str], amounts: list[float]) -> np.ndarray:
    """StyleFlow's lighting edit: ``source + sum_i amount_i * (preset_i - source)``.

    Args:
        source: ``[9]`` the face's estimated lighting.
        presets: names in :data:`PRESETS`.
        amounts: one weight per preset (0 = unchanged, 1 = that preset alone).
    """
    target = np.asarray(source, dtype=np.float64).copy()
    for name, amount in zip(presets, amounts, strict=True):
        target += amount * (PRESETS[name] - source)
    return target


def plan_variants(
    *, n_variants: int, k_lights: int, amount_min: float, amount_max: float, seed: int
) -> list[tuple[list[str], list[float]]]:
    """The study's controls: ``n_variants`` relightings, each moving toward ``k_lights`` distinct presets by
    amounts drawn uniformly from ``[amount_min, amount_max]`` (divided by ``k_lights`` so the sum stays in
    range), from a seeded generator (the same seed gives the same plan)."""
    if not 1 <= k_lights <= len(PRESETS):
        raise ValueError(f"k_lights must be in 1..{len(PRESETS)}, got {k_lights}")
    rng = np.random.default_rng(seed)
    names = list(PRESETS)
    plan = []
    for _ in range(n_variants):
        chosen = [names[i] for i in rng.choice(len(names), size=k_lights, replace=False)]
        amounts = (rng.uniform(amount_min, amount_max, size=k_lights) / k_lights).tolist()
        plan.append((chosen, amounts))
    return plan
