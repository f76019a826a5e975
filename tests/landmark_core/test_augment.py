"""Augmentors, the two-step sampler and single-resample rendering."""

from __future__ import annotations

import numpy as np
import pytest

from landmark_core import geometry
from landmark_core.augment import (
    Blur,
    Contrast,
    ContrastChange,
    Crop,
    FaceContext,
    Flip,
    Light,
    Lighting,
    Occlude,
    Rotate,
    Scale,
    Translate,
    View,
    _apply_op,
    _lighting_lut,
    render_view,
    render_views,
    sample_views,
)
from landmark_core.headpose import mean_face_3d
from landmark_core.sampler import (
    AugmentConfig,
    eval_steps,
    rotation_elt,
    rotation_translation_elt,
    train_copies,
    train_steps,
)
from landmark_core.wflw import FLIP_PERMUTATION, OUTER_EYE_CORNERS


def _face(h: int = 300, w: int = 400) -> tuple[np.ndarray, np.ndarray, FaceContext]:
    """A frontal 2-D face (the mean face's x, -y) in a box at (150, 140), with a bright dot at every landmark."""
    pts = mean_face_3d()[:, :2] * np.array([60.0, -60.0]) + np.array([150.0, 140.0])
    image = np.full((h, w, 3), 40, np.uint8)
    for x, y in pts:
        image[int(y), int(x)] = 255  # the dot covers the pixel whose square holds the landmark
    box = (*pts.min(axis=0), *pts.max(axis=0))
    return image, pts, FaceContext.from_box(box)


def test_flip_permutation_matches_the_mirrored_mean_face():
    face = mean_face_3d()
    mirrored = face * np.array([-1.0, 1.0, 1.0])
    err = np.linalg.norm(mirrored[list(FLIP_PERMUTATION)] - face, axis=1)
    assert err.max() < 0.12 and err.mean() < 0.05
    assert np.linalg.norm(mirrored - face, axis=1).mean() > 0.3  # the identity would be badly wrong
    assert all(FLIP_PERMUTATION[FLIP_PERMUTATION[i]] == i for i in range(98))


def test_flipped_view_keeps_landmark_semantics():
    image, pts, ctx = _face()
    view = Flip(p=1.0)(View(), ctx, pts, np.random.default_rng(0))
    out = view.landmarks(pts)
    a, b = OUTER_EYE_CORNERS
    assert (out[a, 0] < out[b, 0]) == (pts[a, 0] < pts[b, 0])  # 60 stays on the same side of the image
    np.testing.assert_allclose(np.sort(out[:, 0]), np.sort(2 * ctx.center[0] - pts[:, 0]))


def test_rendered_crop_shows_each_landmark_where_its_coordinates_say():
    _, pts, ctx = _face()
    rng = np.random.default_rng(3)
    for j in range(0, 98, 9):
        image = np.zeros((300, 400, 3), np.uint8)
        image[int(pts[j, 1]), int(pts[j, 0])] = 255  # a dot on the pixel whose square holds landmark j
        view = View()
        for aug in (Flip(p=0.5), Scale(amount=0.15), Translate(r=0.05), Rotate(max_deg=45), Crop(size=256, factor=1.6)):
            view = aug(view, ctx, pts, rng)
        crop, lm = render_view(image=image, landmarks=pts, view=view, size=256)
        weight = crop[..., 0].astype(float)
        ys, xs = np.mgrid[: crop.shape[0], : crop.shape[1]]
        centre = np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum() + 0.5
        # The dot's centre is within 0.5 px per axis of the landmark before the warp.
        tol = 0.5 * np.sqrt(2) * geometry.scale_of(view.matrix) + 0.1
        k = int(np.flatnonzero(view.perm == j)[0])
        assert np.abs(centre - lm[k]).max() < tol


def test_single_resample_matches_step_by_step_full_size_warps():
    image, pts, ctx = _face()
    rng = np.random.default_rng(1)
    chain = [Scale(amount=0.15), Rotate(max_deg=45), Translate(r=0.05)]
    view, current = View(), image
    for aug in chain:
        before = view.matrix
        view = aug(view, ctx, pts, rng)
        step = view.matrix @ geometry.invert(before)
        current = geometry.warp_affine(image=current, matrix=step, size=max(image.shape))[
            : image.shape[0], : image.shape[1]
        ]
    view = Crop(size=128)(view, ctx, pts, rng)
    once, _ = render_view(image=image, landmarks=pts, view=view, size=128)
    crop = geometry.square_crop(center=ctx.center, side=1.6 * max(ctx.width, ctx.height), size=128)
    stepwise = geometry.warp_affine(image=current, matrix=crop, size=128)
    # Same content; the repeated resamples only blur the dots a little.
    diff = np.abs(once.astype(int) - stepwise.astype(int))
    assert diff.mean() < 2.0


def test_occluded_landmarks_are_not_visible_and_covered_by_the_occluder_colour():
    image, pts, ctx = _face()
    rng = np.random.default_rng(5)
    view = Occlude(p=1.0, lo=0.4, hi=0.4)(View(), ctx, pts, rng)
    view = Rotate(max_deg=30)(view, ctx, pts, rng)
    view = Crop(size=128)(view, ctx, pts, rng)
    crop, lm = render_view(image=image, landmarks=pts, view=view, size=128)
    hidden = np.flatnonzero(~view.visible)
    assert 0 < len(hidden) < 98
    color = np.array(view.ops[0].color)
    for j in hidden:
        x, y = lm[j]
        inner = geometry.apply_points(
            matrix=view.matrix @ geometry.invert(view.ops[0].matrix), points=view.ops[0].polygon
        )
        edge = min(np.abs(inner[:, 0] - x).min(), np.abs(inner[:, 1] - y).min())
        if edge > 1.5:  # away from the antialiased border the pixel is exactly the occluder
            np.testing.assert_array_equal(crop[int(y), int(x)], color)


def test_lighting_lut_scales_and_clips_each_hsv_channel():
    lut = _lighting_lut((1.5, 0.5, 2.0))[:, 0]
    assert lut[100, 0] == 150 and lut[150, 0] == 179  # hue clipped at 179
    assert lut[100, 1] == 50
    assert lut[100, 2] == 200 and lut[200, 2] == 255
    image = np.full((8, 8, 3), (30, 60, 90), np.uint8)
    darker = _apply_op(image.copy(), Lighting(factors=(1.0, 1.0, 0.5)), np.eye(3))
    assert darker.astype(int).sum() < image.astype(int).sum()


def test_blur_sigma_follows_the_scale_between_its_frame_and_the_output():
    image = np.zeros((64, 64, 3), np.uint8)
    image[32, 32] = 255
    sharp = _apply_op(image.copy(), Blur(matrix=np.eye(3), sigma=2.0), np.diag([0.1, 0.1, 1.0]))
    np.testing.assert_array_equal(sharp, image)  # sigma 0.2 px in the output: no visible blur
    wide = _apply_op(image.copy(), Blur(matrix=np.eye(3), sigma=1.0), np.diag([3.0, 3.0, 1.0]))
    assert (wide[..., 0] > 0).sum() > (
        _apply_op(image.copy(), Blur(matrix=np.eye(3), sigma=1.0), np.eye(3))[..., 0] > 0
    ).sum()


def test_two_step_views_share_step_one_and_differ_by_a_rotation_about_the_crop_centre():
    image, pts, ctx = _face()
    config = rotation_elt()
    for seed in range(20):
        v1, v2 = sample_views(steps=train_steps(config), ctx=ctx, landmarks=pts, rng=np.random.default_rng(seed))
        assert np.array_equal(v1.perm, v2.perm) and np.array_equal(v1.visible, v2.visible)
        assert [type(op) for op in v1.ops] == [type(op) for op in v2.ops]
        t = geometry.relative(source=v1.matrix, target=v2.matrix)
        np.testing.assert_allclose(t[:2, :2] @ t[:2, :2].T, np.eye(2), atol=1e-9)  # a pure rotation...
        np.testing.assert_allclose(
            geometry.apply_points(matrix=t, points=np.array([[64.0, 64.0]])), [[64, 64]], atol=1e-9
        )
        angle = np.degrees(np.arctan2(-t[0, 1], t[0, 0]))
        assert abs(angle) <= 90 + 1e-9  # beta - alpha with alpha, beta in [-45, 45]


def test_rotation_translation_views_differ_by_a_translation_too():
    _, pts, ctx = _face()
    shifts = []
    for seed in range(10):
        v1, v2 = sample_views(
            steps=train_steps(rotation_translation_elt()), ctx=ctx, landmarks=pts, rng=np.random.default_rng(seed)
        )
        t = geometry.relative(source=v1.matrix, target=v2.matrix)
        shifts.append(np.abs(geometry.apply_points(matrix=t, points=np.array([[64.0, 64.0]])) - 64).max())
    assert max(shifts) > 0.5


def test_mapping_ground_truth_between_views_lands_on_the_other_views_ground_truth():
    _, pts, ctx = _face()
    config = AugmentConfig(flip_p=0.5, r1=0.05, r2=0.05)
    for seed in range(50):
        v1, v2 = sample_views(steps=train_steps(config), ctx=ctx, landmarks=pts, rng=np.random.default_rng(seed))
        t = geometry.relative(source=v1.matrix, target=v2.matrix)
        index = np.argsort(v1.perm)[v2.perm]
        mapped = geometry.apply_points(matrix=t, points=v1.landmarks(pts)[index])
        assert np.abs(mapped - v2.landmarks(pts)).max() < 0.5


def test_sampler_is_deterministic_per_seed_and_eval_is_the_plain_crop():
    _, pts, ctx = _face()
    a = sample_views(steps=train_steps(rotation_elt()), ctx=ctx, landmarks=pts, rng=np.random.default_rng(9))
    b = sample_views(steps=train_steps(rotation_elt()), ctx=ctx, landmarks=pts, rng=np.random.default_rng(9))
    assert all(np.array_equal(x.matrix, y.matrix) for x, y in zip(a, b, strict=True))
    (view,) = sample_views(steps=eval_steps(AugmentConfig()), ctx=ctx, landmarks=pts, rng=np.random.default_rng(0))
    np.testing.assert_allclose(view.matrix, Crop(size=128)(View(), ctx, pts, None).matrix)
    assert view.ops == ()


def test_single_view_config_runs_both_steps_on_one_view_and_bad_views_are_rejected():
    _, pts, ctx = _face()
    (view,) = sample_views(
        steps=train_steps(AugmentConfig(views=1)), ctx=ctx, landmarks=pts, rng=np.random.default_rng(0)
    )
    assert view.matrix[0, 0] != pytest.approx(Crop(size=128)(View(), ctx, pts, None).matrix[0, 0])
    for bad in (0, 9):
        with pytest.raises(ValueError, match="views"):
            AugmentConfig(views=bad)
    with pytest.raises(ValueError, match=r"copy_\*_p need views >= 2"):
        AugmentConfig(views=1, copy_occlusion_p=0.5)
    with pytest.raises(ValueError, match="copy_contrast_p must be a probability"):
        AugmentConfig(copy_contrast_p=1.5)


def test_light_and_occlude_respect_their_probability():
    _, pts, ctx = _face()
    rng = np.random.default_rng(0)
    assert Light(p=0.0)(View(), ctx, pts, rng).ops == ()
    assert Occlude(p=0.0)(View(), ctx, pts, rng).ops == ()
    counts = sum(len(Light(p=0.5)(View(), ctx, pts, rng).ops) for _ in range(400))
    assert 150 < counts < 250


def test_copies_share_step_one_and_the_study_pair_draws_what_it_always_drew():
    _, pts, ctx = _face()
    config = AugmentConfig(views=3, flip_p=0.5, r1=0.05, r2=0.05)
    steps = train_steps(config)
    assert train_copies(config) == (1, 2) and train_copies(AugmentConfig(views=1)) == (1,)
    for seed in range(10):
        views = sample_views(steps=steps, ctx=ctx, landmarks=pts, rng=np.random.default_rng(seed), copies=(1, 2))
        assert len(views) == 3 and all(np.array_equal(v.perm, views[0].perm) for v in views)  # one flip for all
        for v in views[1:]:  # each copy maps onto the first exactly, through its own step 2
            t = geometry.relative(source=views[0].matrix, target=v.matrix)
            mapped = geometry.apply_points(matrix=t, points=views[0].landmarks(pts))
            assert np.abs(mapped - v.landmarks(pts)).max() < 1e-6
        assert not np.allclose(views[1].matrix, views[2].matrix)
        pair = train_steps(AugmentConfig(flip_p=0.5, r1=0.05, r2=0.05))
        a = sample_views(steps=pair, ctx=ctx, landmarks=pts, rng=np.random.default_rng(seed))
        b = sample_views(steps=pair, ctx=ctx, landmarks=pts, rng=np.random.default_rng(seed), copies=(1, 1))
        assert all(np.array_equal(x.matrix, y.matrix) for x, y in zip(a, b, strict=True))
    with pytest.raises(ValueError, match="copies"):
        sample_views(steps=steps, ctx=ctx, landmarks=pts, rng=np.random.default_rng(0), copies=(1,))


def test_switched_off_copy_changes_draw_nothing_so_the_study_rows_are_unchanged():
    assert train_steps(AugmentConfig()) == train_steps(AugmentConfig(copy_lighting_p=0.0, copy_occlusion_p=0.0))
    names = [type(a).__name__ for a in train_steps(AugmentConfig(copy_occlusion_p=0.5, copy_contrast_p=0.5))[1]]
    assert names == ["Rotate", "Translate", "Occlude", "Contrast", "Crop"]


@pytest.mark.parametrize("change", ["copy_lighting_p", "copy_contrast_p", "copy_occlusion_p"])
def test_per_copy_changes_alter_pixels_but_move_no_landmark_so_elt_is_invariant_to_them(change):
    """The copies differ in pixels (the change happened) while the relative transform between them is the
    geometry alone: the ELT term maps landmarks through the geometry (equivariant) and through nothing else
    (invariant to colour, contrast and occluders)."""
    image, pts, ctx = _face()
    image = np.random.default_rng(0).integers(0, 256, size=image.shape, dtype=np.uint8)
    config = AugmentConfig(r1=0.0, r2=0.0, max_angle_deg=0.0, occlusion_p=0, lighting_p=0, blur_p=0, **{change: 1.0})
    for seed in range(5):
        views = sample_views(steps=train_steps(config), ctx=ctx, landmarks=pts, rng=np.random.default_rng(seed))
        (c1, p1), (c2, p2) = render_views(image=image, landmarks=pts, views=views, size=config.size)
        np.testing.assert_allclose(
            geometry.relative(source=views[0].matrix, target=views[1].matrix), np.eye(3), atol=1e-9
        )
        assert np.array_equal(views[0].perm, views[1].perm) and np.array_equal(p1, p2)
        assert not np.array_equal(c1, c2)
    if change == "copy_occlusion_p":  # an occluder hides landmarks in its copy only; they stay ELT targets
        assert any((~v.visible).any() for v in views) and not np.array_equal(views[0].visible, views[1].visible)
    else:
        assert all(v.visible.all() for v in views)


def test_contrast_scales_the_distance_from_the_mean():
    image = np.random.default_rng(1).integers(60, 200, size=(32, 32, 3)).astype(np.uint8)
    out = _apply_op(image.copy(), ContrastChange(factor=0.5), np.eye(3)).astype(float)
    np.testing.assert_allclose(out.mean(axis=(0, 1)), image.mean(axis=(0, 1)), atol=0.6)
    np.testing.assert_allclose(out.std(axis=(0, 1)), 0.5 * image.std(axis=(0, 1)), rtol=0.05)
    _, pts, ctx = _face()
    view = Contrast(p=1.0)(View(), ctx, pts, np.random.default_rng(0))
    assert isinstance(view.ops[-1], ContrastChange) and 0.6 <= view.ops[-1].factor <= 1.4
    assert Contrast(p=0.0)(View(), ctx, pts, np.random.default_rng(0)).ops == ()
