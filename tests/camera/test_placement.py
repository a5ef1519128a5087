"""Camera placement: recover a known translation from synthetic projections (OpenCV axes, metres, pixels)."""
import math

import numpy as np
import pytest
import torch

from pose2mesh.camera import (
    DEFAULT_FOV_DEG,
    default_focal_length,
    default_intrinsics,
    project_points,
    reprojection_error,
    solve_translation,
)


def _pose(n: int, j: int = 17, seed: int = 0) -> torch.Tensor:
    """(n, j, 3) root-relative points of a person-sized cloud (metres, y down)."""
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(n, j, 3, generator=g, dtype=torch.float64) * torch.tensor([0.25, 0.5, 0.15], dtype=torch.float64)
    return p - p[:, :1]


def _translations(n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, 3, generator=g, dtype=torch.float64)
    return torch.stack([t[:, 0] - 0.5, t[:, 1] * 0.6 - 0.3, 2.0 + 6.0 * t[:, 2]], -1)


K = torch.tensor(default_intrinsics((640, 480), 500.0))


def test_convention_default_intrinsics_60deg_on_longer_side():
    Kd = default_intrinsics((1920, 1080))
    f = 0.5 * 1920 / math.tan(math.radians(DEFAULT_FOV_DEG / 2))
    assert Kd[0, 0] == pytest.approx(f) and Kd[1, 1] == pytest.approx(f)
    assert (Kd[0, 2], Kd[1, 2]) == (959.5, 539.5)  # pixel centres at integers
    # portrait: the longer side is the height
    assert default_focal_length((1080, 1920)) == pytest.approx(f)
    assert default_intrinsics((640, 480), 800.0)[0, 0] == 800.0


def test_convention_projection_x_right_y_down():
    pts = torch.tensor([[[0.0, 0.0, 2.0], [0.1, 0.0, 2.0], [0.0, 0.1, 2.0]]], dtype=torch.float64)
    uv = project_points(pts, K)[0]
    assert torch.allclose(uv[0], K[:2, 2])
    assert uv[1, 0] > uv[0, 0] and uv[2, 1] > uv[0, 1]  # +x right, +y down in the image


@pytest.mark.parametrize("refine_steps", [0, 5])
def test_recovers_known_translation(refine_steps):
    p, t = _pose(32), _translations(32)
    uv = project_points(p + t[:, None], K)
    est = solve_translation(p, uv, K, refine_steps=refine_steps)
    assert est.shape == (32, 3) and est.dtype == torch.float64
    assert (est - t).abs().max().item() < 1e-4


def test_recovers_translation_with_per_sample_skewed_intrinsics_and_weights():
    p, t = _pose(8, seed=3), _translations(8, seed=4)
    Ks = K.expand(8, 3, 3).clone()
    Ks[:, 0, 1] = 3.0  # skew
    Ks[:, 0, 2] += torch.linspace(-50, 50, 8, dtype=torch.float64)  # off-centre principal points
    Ks[:, 1, 1] = 520.0  # non-square pixels
    uv = project_points(p + t[:, None], Ks)
    w = torch.rand(8, 17, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + 0.1
    assert (solve_translation(p, uv, Ks, weights=w) - t).abs().max().item() < 1e-4


def test_float32_and_any_leading_batch_shape():
    p, t = _pose(6), _translations(6)
    uv = project_points(p + t[:, None], K)
    est = solve_translation(p.float().reshape(2, 3, 17, 3), uv.float().reshape(2, 3, 17, 2), K.float())
    assert est.shape == (2, 3, 3) and est.dtype == torch.float32
    assert (est.reshape(6, 3).double() - t).abs().max().item() < 1e-3
    single = solve_translation(p[0], uv[0], K)
    assert single.shape == (3,) and (single - t[0]).abs().max().item() < 1e-4


def test_absent_keypoints_are_ignored_even_when_garbage():
    p, t = _pose(4), _translations(4)
    uv = project_points(p + t[:, None], K)
    w = torch.ones(4, 17, dtype=torch.float64)
    w[:, 5:] = 0
    uv[:, 5:] = 1e6  # garbage where absent
    uv[:, 4] = float("nan")  # non-finite counts as absent
    assert (solve_translation(p, uv, K, weights=w) - t).abs().max().item() < 1e-4


def test_two_points_are_enough():
    p, t = _pose(5), _translations(5)
    uv = project_points(p + t[:, None], K)
    w = torch.zeros(5, 17, dtype=torch.float64)
    w[:, [3, 9]] = 1.0
    assert (solve_translation(p, uv, K, weights=w) - t).abs().max().item() < 1e-4


def test_refinement_reduces_pixel_error_under_noise():
    p, t = _pose(64), _translations(64)
    p_noisy = p + 0.03 * torch.randn(p.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    uv = project_points(p + t[:, None], K)
    err = [reprojection_error(p_noisy + solve_translation(p_noisy, uv, K, refine_steps=s)[:, None], uv, K).mean()
           for s in (0, 5)]
    assert err[1] <= err[0] + 1e-9


def test_inconsistent_two_points_fall_back_in_front_of_camera():
    # the 2D order of two points contradicts their 3D order (a left/right swap):
    # the linear solution puts them behind the camera, the weak-perspective
    # fallback (and the refinement) must keep them in front of it
    p = torch.tensor([[-0.15, 0.0, 0.0], [0.15, 0.0, 0.0]], dtype=torch.float64)
    uv = torch.tensor([[340.0, 240.0], [300.0, 240.0]], dtype=torch.float64)
    import pose2mesh.camera.placement as placement

    t0 = placement.solve_translation(p, uv, K, refine_steps=0)
    assert t0[2].item() > 0.05
    t = solve_translation(p, uv, K)
    assert t[2].item() > 0.05 and torch.isfinite(t).all()


def test_fewer_than_two_points_raises_naming_the_sample():
    p, t = _pose(3), _translations(3)
    uv = project_points(p + t[:, None], K)
    w = torch.ones(3, 17)
    w[1, 1:] = 0
    with pytest.raises(ValueError, match=r"at least 2 present keypoints.*sample\(s\) \[1\]"):
        solve_translation(p, uv, K, weights=w)


def test_keypoints_coinciding_in_3d_raise():
    p = torch.zeros(1, 4, 3, dtype=torch.float64)
    uv = torch.tensor([[[100.0, 100.0], [140.0, 90.0], [120.0, 160.0], [90.0, 130.0]]], dtype=torch.float64)
    with pytest.raises(ValueError, match="coincide in 3D"):
        solve_translation(p, uv, K)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_keypoints_coinciding_in_the_image_raise_whatever_the_batch(order):
    """Distinct 3D points on one pixel: the linear system is singular whether or not the solver notices."""
    p, t = _pose(2), _translations(2)
    uv = project_points(p + t[:, None], K)
    w = torch.ones(2, 17)
    w[1, 3:] = 0
    uv[1, :3] = uv[1, 0]  # sample 1: its three present keypoints on one pixel
    idx = list(order)
    with pytest.raises(ValueError, match=rf"sample\(s\) \[{order.index(1)}\]: their present keypoints coincide in the image"):
        solve_translation(p[idx], uv[idx], K, weights=w[idx])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(points3d=torch.zeros(2, 17, 2)), r"points3d must have shape \(\.\.\., J, 3\)"),
        (dict(keypoints2d=torch.zeros(2, 16, 2)), "keypoints2d must have shape"),
        (dict(weights=torch.ones(2, 16)), "weights must have shape"),
        (dict(weights=-torch.ones(2, 17)), "weights must be >= 0"),
        (dict(K=torch.eye(2)), r"K must have shape \(3, 3\)"),
    ],
)
def test_bad_arguments(kwargs, message):
    args = dict(points3d=_pose(2), keypoints2d=torch.zeros(2, 17, 2), K=K)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        solve_translation(**args)


@pytest.mark.parametrize("size", [(640, float("nan")), (0, 480), (-1, 2), (640,), "abc"])
def test_bad_image_size(size):
    with pytest.raises(ValueError, match="image_size must be"):
        default_intrinsics(size)


@pytest.mark.parametrize("focal", [-100.0, 0.0, float("inf")])
def test_bad_focal_length(focal):
    with pytest.raises(ValueError, match="focal_length must be a finite positive"):
        default_intrinsics((640, 480), focal)


def test_reprojection_error_mask():
    pts = torch.tensor([[[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    uv = K[:2, 2].expand(1, 2, 2).clone()
    uv[0, 1, 0] += 3.0
    assert reprojection_error(pts, uv, K).item() == pytest.approx(1.5)
    assert reprojection_error(pts, uv, K, mask=torch.tensor([[True, False]])).item() == pytest.approx(0.0)
    assert np.isnan(reprojection_error(pts, uv, K, mask=torch.tensor([[False, False]])).item())
