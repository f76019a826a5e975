"""Physical relighting: normals of a posed mean face, the SH fit on a rendered face, the ratio image, and the
reasons a face is refused."""

import numpy as np
import pytest

from gan_core.relight_physical import (
    PhysicalConfig,
    RelightError,
    estimate_source_sh,
    face_geometry,
    face_mesh,
    relight,
)
from gan_core.sh import PRESETS, relit_target, shading
from landmark_core.headpose import camera_matrix, mean_face_3d, project_points, rotation_from_pose

SHAPE = (480, 640, 3)


def _landmarks(yaw: float = 0.0, scale: float = 1.0) -> np.ndarray:
    K = camera_matrix(width=SHAPE[1], height=SHAPE[0])
    rotation = rotation_from_pose(yaw=yaw, pitch=0.0, roll=0.0)
    return project_points(
        points=np.asarray(mean_face_3d()), rotation=rotation, translation=np.array([0.0, 0.0, 9.0 / scale]), K=K
    )


def _render(geometry, sh: np.ndarray, albedo: float = 0.8) -> np.ndarray:
    """A grey photo whose face region is shaded by ``sh`` on the geometry's normals (L = albedo * shading)."""
    import cv2

    image = np.full(SHAPE, 90, np.uint8)
    x0, y0, x1, y1 = geometry.box
    lum = albedo * shading(normals_dpr=geometry.normals.reshape(-1, 3), sh=sh).reshape(geometry.mask.shape)
    lum = np.clip(np.where(geometry.mask, lum, 90 / 255), 0, 1)
    lab = np.dstack([lum * 255, np.full_like(lum, 128), np.full_like(lum, 128)]).astype(np.uint8)
    image[y0:y1, x0:x1] = cv2.resize(
        cv2.cvtColor(lab, cv2.COLOR_LAB2BGR), (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST
    )
    return image


def test_mesh_normals_face_the_viewer():
    points, triangles, normals = face_mesh()
    assert points.shape == (118, 3) and np.array_equal(points[:98], mean_face_3d())  # landmarks + forehead
    assert triangles.shape[1] == 3 and len(triangles) > 150
    assert np.allclose(np.linalg.norm(normals, axis=1), 1.0) and (normals[:, 2] > 0).all()
    assert normals[54, 2] > 0.9  # the nose tip looks straight at the camera
    assert normals[108:, 1].mean() > 0.3  # the upper forehead faces up


def test_frontal_face_normals_point_at_the_camera_in_the_middle_and_sideways_at_the_edges():
    geometry = face_geometry(landmarks=_landmarks(), image_shape=SHAPE)
    h, w = geometry.mask.shape
    assert geometry.mask.mean() > 0.4 and geometry.fit_mask.sum() < geometry.mask.sum()
    centre = geometry.normals[h // 2, w // 2]
    assert centre[1] < -0.8  # DPR's Y points away from the viewer
    row = geometry.normals[h // 2][geometry.mask[h // 2]]
    assert row[0, 0] < -0.3 and row[-1, 0] > 0.3  # left edge faces left, right edge faces right


def test_turning_the_head_turns_the_normals():
    """Near the nose tip (landmark 54) the normal follows the yaw: x ~ sin(yaw) (its model normal is ~frontal)."""
    for yaw in (-30, 30):
        lm = _landmarks(yaw=yaw)
        geometry = face_geometry(landmarks=lm, image_shape=SHAPE)
        x0, y0, x1, _ = geometry.box
        scale = geometry.mask.shape[1] / (x1 - x0)
        col, row = np.round((lm[54] - [x0, y0]) * scale).astype(int)
        nose = geometry.normals[row - 1 : row + 2, col - 1 : col + 2, 0].mean()
        assert np.sign(nose) == np.sign(yaw) and abs(nose) > 0.3


def test_fit_recovers_the_lighting_a_face_was_rendered_with():
    geometry = face_geometry(landmarks=_landmarks(), image_shape=SHAPE)
    for name in ("left_to_right", "down_to_up"):
        image = _render(geometry, PRESETS[name])
        sh = estimate_source_sh(image_bgr=image, geometry=geometry)
        fitted = shading(normals_dpr=geometry.normals[geometry.fit_mask], sh=sh)
        true = 0.8 * shading(normals_dpr=geometry.normals[geometry.fit_mask], sh=PRESETS[name])
        inside = (true > 0.05) & (true < 0.95)
        assert np.abs(fitted - true)[inside].mean() < 0.02


def test_ratio_image_changes_only_the_face_and_is_the_identity_for_the_same_light():
    geometry = face_geometry(landmarks=_landmarks(), image_shape=SHAPE)
    image = _render(geometry, PRESETS["frontal"])
    source = estimate_source_sh(image_bgr=image, geometry=geometry)
    same = relight(image_bgr=image, geometry=geometry, source_sh=source, target_sh=source)
    assert np.abs(same.astype(int) - image).max() <= 1
    target = relit_target(source=source, presets=["left_to_right"], amounts=[1.0])
    out = relight(image_bgr=image, geometry=geometry, source_sh=source, target_sh=target)
    x0, y0, x1, y1 = geometry.box
    outside = np.ones(SHAPE[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], image[outside])
    changed = np.abs(out.astype(int) - image).max(axis=2)[y0:y1, x0:x1]
    assert changed.max() > 20
    h, w = changed.shape  # the face's right half (image right) brightens, its left half does not
    assert out[y0:y1, x0 + w // 2 : x1].mean() > image[y0:y1, x0 + w // 2 : x1].mean()


def test_bad_faces_are_refused_with_a_reason():
    lm = _landmarks()
    with pytest.raises(RelightError, match="degenerate landmarks"):
        face_geometry(landmarks=np.where(np.arange(98)[:, None] == 3, np.nan, lm), image_shape=SHAPE)
    with pytest.raises(RelightError, match="too small"):
        face_geometry(landmarks=_landmarks(scale=0.05), image_shape=SHAPE)
    with pytest.raises(RelightError, match="degenerate landmarks"):
        face_geometry(landmarks=lm[:60], image_shape=SHAPE)
    geometry = face_geometry(landmarks=lm, image_shape=SHAPE)
    image = _render(geometry, PRESETS["frontal"])
    with pytest.raises(RelightError, match="NaN SH"):
        relight(image_bgr=image, geometry=geometry, source_sh=np.full(9, np.nan), target_sh=PRESETS["none"])
    assert PhysicalConfig().work_size == 160


def test_writing_into_a_reused_buffer_gives_the_same_image():
    geometry = face_geometry(landmarks=_landmarks(), image_shape=SHAPE)
    image = _render(geometry, PRESETS["frontal"])
    source = estimate_source_sh(image_bgr=image, geometry=geometry)
    buffer = np.full_like(image, 7)
    for name in ("none", "up_to_down"):
        target = relit_target(source=source, presets=[name], amounts=[0.8])
        fresh = relight(image_bgr=image, geometry=geometry, source_sh=source, target_sh=target)
        reused = relight(image_bgr=image, geometry=geometry, source_sh=source, target_sh=target, out=buffer)
        assert reused is buffer and np.array_equal(reused, fresh)


@pytest.mark.parametrize(
    "light", [(1.0, 0.0, 0.6), (-1.0, 0.0, 0.6), (0.0, 1.0, 0.6), (0.0, -1.0, 0.6), (0.7, 0.7, 0.6)]
)
def test_fit_finds_the_light_of_the_synthetic_renderer(light):
    """An independent check of the axes: the twin's renderer lights its own head model from a known direction;
    the fit on the mean-face normals recovers that direction in the image plane."""
    from landmark_core.synth.render import Appearance, FaceSpec, Lighting, render_face

    appearance = Appearance(
        skin=(0.8, 0.65, 0.55),
        hair=(0.2, 0.15, 0.1),
        iris=(0.3, 0.2, 0.1),
        lips=(0.7, 0.3, 0.3),
        clothes=(0.3, 0.3, 0.6),
        bald=True,
    )
    image = np.full((512, 512, 3), 0.4, np.float32)
    lighting = Lighting(direction=light, ambient=0.25, diffuse=0.8, specular=0)
    spec = FaceSpec(
        shape=np.asarray(mean_face_3d()),
        yaw=0,
        pitch=0,
        roll=0,
        center=(256, 280),
        face_width=260,
        appearance=appearance,
        lighting=lighting,
    )
    face = render_face(image=image, spec=spec, focal=512)
    bgr = (image[..., ::-1] * 255).clip(0, 255).astype(np.uint8)
    sh = estimate_source_sh(image_bgr=bgr, geometry=face_geometry(landmarks=face.landmarks, image_shape=bgr.shape))
    found, true = sh[[3, 2]], np.array([light[0], light[1]])  # DPR X (right) and Z (up)
    cos = found @ true / np.linalg.norm(found) / np.linalg.norm(true)
    assert np.degrees(np.arccos(np.clip(cos, -1, 1))) < 10
