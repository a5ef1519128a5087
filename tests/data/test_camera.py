"""Tests of pose2mesh.data.camera: projection conventions and the camera sampler."""
import re

import numpy as np
import pytest
import torch

from pose2mesh.data.camera import CameraSampler, Cameras, project_points, truncation_mask

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


def _gen(device, seed=0):
    return torch.Generator(device=device).manual_seed(seed)


def _K(fx=500.0, fy=520.0, cx=320.0, cy=240.0, device="cpu"):
    return torch.tensor([[[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]], device=device)


def _people(n, device, seed=1):
    g = torch.Generator(device=device).manual_seed(seed)
    centers = torch.rand(n, 3, generator=g, device=device) * 4 - 2
    heights = 1.4 + 0.5 * torch.rand(n, generator=g, device=device)
    return centers, heights


def test_optical_axis_projects_to_principal_point(device):
    K = _K(device=device)
    pts = torch.tensor([[[0.0, 0.0, 1.0], [0.0, 0.0, 7.5]]], device=device)
    uv = project_points(pts, K)
    assert uv.shape == (1, 2, 2)
    torch.testing.assert_close(uv, torch.tensor([[[320.0, 240.0]] * 2], device=device))


def test_convention_right_is_larger_u_down_is_larger_v(device):
    K = _K(device=device)
    pts = torch.tensor([[[0.0, 0.0, 2.0], [0.1, 0.0, 2.0], [0.0, 0.1, 2.0]]], device=device)
    uv = project_points(pts, K)[0]
    assert uv[1, 0] > uv[0, 0] and uv[1, 1] == uv[0, 1]
    assert uv[2, 1] > uv[0, 1] and uv[2, 0] == uv[0, 0]
    # golden value: u = fx * x / z + cx
    assert uv[1, 0].item() == pytest.approx(500 * 0.1 / 2 + 320)


def test_behind_camera_is_nan_and_flagged(device):
    K = _K(device=device)
    pts = torch.tensor([[[0.0, 0.0, -1.0], [0.1, 0.0, 0.0], [0.0, 0.0, 1.0]]], device=device)
    uv = project_points(pts, K)
    assert torch.isnan(uv[0, :2]).all() and torch.isfinite(uv[0, 2]).all()
    size = torch.tensor([[640.0, 480.0]], device=device)
    mask = truncation_mask(uv, pts[..., 2], size)
    assert mask.tolist() == [[False, False, True]]


def test_truncation_mask_bounds(device):
    uv = torch.tensor([[[0.0, 0.0], [639.4, 479.4], [-0.6, 10.0], [10.0, 479.6], [320.0, 240.0]]], device=device)
    depth = torch.tensor([[1.0, 1.0, 1.0, 1.0, -1.0]], device=device)
    mask = truncation_mask(uv, depth, torch.tensor([[640.0, 480.0]], device=device))
    assert mask.tolist() == [[True, True, False, False, False]]


def test_cameras_project_any_batch_shape(device):
    cams = CameraSampler().sample(*_people(5, device), _gen(device))
    pts = torch.randn(5, 4, 3, 3, device=device)
    uv, depth = cams.project(pts)
    assert uv.shape == (5, 4, 3, 2) and depth.shape == (5, 4, 3)
    cam = cams.to_camera(pts)
    manual = torch.einsum("nij,nabj->nabi", cams.R, pts) + cams.t[:, None, None]
    torch.testing.assert_close(cam, manual)
    assert len(cams) == 5 and cams.to("cpu").K.device.type == "cpu"


def test_project_points_names_a_wrong_K_shape():
    pts = torch.tensor([[[0.0, 0.0, 1.0], [0.1, 0.0, 2.0]]])
    with pytest.raises(ValueError, match=re.escape("K must have shape (N, 3, 3), one per camera (K[None] for one), got (3, 3)")):
        project_points(pts, _K()[0])


def test_centers_are_camera_positions_in_the_body_frame(device):
    # golden value: R = I, t = (1, 2, 3) -> centre -R^T t = (-1, -2, -3)
    eye = torch.eye(3, device=device)[None]
    cams = Cameras(_K(device=device), eye, torch.tensor([[1.0, 2.0, 3.0]], device=device),
                   torch.tensor([[640.0, 480.0]], device=device))
    torch.testing.assert_close(cams.centers, torch.tensor([[-1.0, -2.0, -3.0]], device=device))
    # sampled cameras: the centre maps to the origin of the camera frame
    cams = CameraSampler().sample(*_people(5, device), _gen(device))
    assert cams.centers.shape == (5, 3) and cams.centers.device.type == device.type
    cam = cams.to_camera(cams.centers[:, None])
    torch.testing.assert_close(cam, torch.zeros_like(cam), atol=1e-4, rtol=0)


def test_sampled_cameras_geometry(device):
    n = 4096
    centers, heights = _people(n, device)
    sampler = CameraSampler()
    cams = sampler.sample(centers, heights, _gen(device))
    assert cams.K.device.type == device.type and len(cams) == n
    eye = torch.eye(3, device=device).expand(n, 3, 3)
    torch.testing.assert_close(cams.R @ cams.R.transpose(1, 2), eye, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(cams.R), torch.ones(n, device=device), atol=1e-5, rtol=0)
    # person centre in front and (almost always) in the image
    uv, depth = cams.project(centers[:, None])
    assert (depth > 0).all()
    inside = truncation_mask(uv, depth, cams.image_size)
    assert inside.float().mean() > 0.95
    # field of view in the documented range
    fov = torch.rad2deg(cams.vertical_fov)
    assert fov.min() >= 15 - 1e-3 and fov.max() <= 90 + 1e-3
    assert fov.max() - fov.min() > 60  # the range is actually used
    # image sizes from the documented set, both orientations
    sizes = {tuple(s) for s in cams.image_size.int().tolist()}
    assert sizes <= set(sampler.image_sizes) and (1080, 1920) in sizes and (1920, 1080) in sizes
    # principal point within 5% of the centre
    off = (cams.K[:, :2, 2] - (cams.image_size - 1) / 2).abs() / cams.image_size
    assert off.max() <= 0.05 + 1e-6


def _vertical_segment(centers, heights):
    top, bottom = centers.clone(), centers.clone()
    top[:, 1] += heights / 2
    bottom[:, 1] -= heights / 2
    return torch.stack([top, bottom], 1)  # (N, 2, 3): head, feet


def test_height_fraction_exact_without_tilt_or_jitter(device):
    n = 512
    centers, heights = _people(n, device)
    sampler = CameraSampler(height_fraction=(0.5, 0.5), camera_height=(0.0, 0.0), max_roll_deg=0.0, look_at_jitter=0.0)
    cams = sampler.sample(centers, heights, _gen(device))
    uv, _ = cams.project(_vertical_segment(centers, heights))
    frac = (uv[:, 1, 1] - uv[:, 0, 1]) / cams.image_size[:, 1]
    torch.testing.assert_close(frac, torch.full_like(frac, 0.5), atol=1e-4, rtol=0)


def test_height_fraction_within_sampled_range(device):
    n = 4096
    centers, heights = _people(n, device)
    cams = CameraSampler().sample(centers, heights, _gen(device))
    uv, depth = cams.project(_vertical_segment(centers, heights))
    ok = (depth > 0).all(1)
    assert ok.float().mean() > 0.99
    frac = (uv[ok, 0] - uv[ok, 1]).norm(dim=-1) / cams.image_size[ok, 1]
    within = (frac > 0.3 * 0.8) & (frac < 1.1 * 1.25)
    assert within.float().mean() > 0.95
    assert frac.median() > 0.5 and frac.median() < 0.9


def test_upright_head_above_feet(device):
    n = 2048
    centers, heights = _people(n, device)
    cams = CameraSampler(max_roll_deg=1.0).sample(centers, heights, _gen(device))
    uv, depth = cams.project(_vertical_segment(centers, heights))
    ok = (depth > 0).all(1)
    assert (uv[ok, 0, 1] < uv[ok, 1, 1]).all()
    # the image "down" axis points to -Y of the world for zero roll
    cams0 = CameraSampler(max_roll_deg=0.0).sample(centers, heights, _gen(device))
    assert (cams0.R[:, 1, 1] < 0).all()  # camera y axis . world Y < 0
    assert cams0.R[:, 0, 1].abs().max() < 1e-5  # x axis horizontal


def test_same_seed_same_cameras_different_seed_differ(device):
    centers, heights = _people(64, device)
    a = CameraSampler().sample(centers, heights, _gen(device, 7))
    b = CameraSampler().sample(centers, heights, _gen(device, 7))
    c = CameraSampler().sample(centers, heights, _gen(device, 8))
    for name in ("K", "R", "t", "image_size"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.R, c.R) and not torch.equal(a.K, c.K)


def test_roll_range(device):
    centers, heights = _people(2048, device)
    cams = CameraSampler().sample(centers, heights, _gen(device))
    # roll = angle of the camera x axis out of the horizontal plane
    roll = torch.rad2deg(torch.asin(cams.R[:, 0, 1].clamp(-1, 1))).abs()
    assert roll.max() <= 10 + 1e-3 and roll.max() > 5


def test_generator_on_wrong_device_is_a_clear_error():
    centers, heights = _people(4, "cpu")
    g = torch.Generator(device="cpu")
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="generator"):
            CameraSampler().sample(centers.cuda(), heights.cuda(), g)
    with pytest.raises(ValueError, match="fov"):
        CameraSampler(fov_deg=(0.0, 10.0))


def test_float64_keeps_dtype():
    centers, heights = _people(8, "cpu")
    cams = CameraSampler().sample(centers.double(), heights.double(), _gen("cpu"))
    assert cams.R.dtype == torch.float64 and cams.K.dtype == torch.float64


def _three_cameras():
    eye = torch.eye(3).repeat(3, 1, 1)
    return Cameras(_K().repeat(3, 1, 1), eye, torch.arange(9.0).reshape(3, 3), torch.tensor([[640.0, 480.0]] * 3))


def test_integer_index_behaves_like_a_sequence():
    cams = _three_cameras()
    for index, row in ((0, 0), (2, 2), (-1, 2), (-3, 0), (np.int64(1), 1), (torch.tensor(1), 1), (torch.tensor(-1), 2)):
        one = cams[index]
        assert len(one) == 1 and torch.equal(one.t, cams.t[row : row + 1]), index
    for index in (3, -4, np.int64(5), torch.tensor(3)):
        with pytest.raises(IndexError, match=rf"camera index {int(index)} is out of range for 3 cameras"):
            cams[index]
    # 1-D indices still select as before
    assert torch.equal(cams[torch.tensor([2, 0])].t, cams.t[[2, 0]])
    assert torch.equal(cams[torch.tensor([True, False, True])].t, cams.t[[0, 2]])
    assert len(cams[1:]) == 2


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(image_sizes=((0, 0),)), r"image_sizes must be positive \(width, height\) pixel pairs, got \(0, 0\)"),
        (dict(image_sizes=((640, 480), (640, -1))), r"image_sizes must be positive .* got \(640, -1\)"),
        (dict(look_at_jitter=float("nan")), "look_at_jitter must be finite and >= 0, got nan"),
        (dict(principal_point_jitter=float("inf")), "principal_point_jitter must be finite and >= 0, got inf"),
        (dict(look_at_jitter=-0.1), "look_at_jitter must be finite and >= 0, got -0.1"),
    ],
)
def test_sampler_rejects_degenerate_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CameraSampler(**kwargs)


def test_sampler_checks_the_heights_shape():
    centers, heights = _people(4, "cpu")
    for bad in (heights[:3], heights[:, None]):
        with pytest.raises(ValueError, match=re.escape(f"heights must have shape (N=4,) like centers, got {tuple(bad.shape)}")):
            CameraSampler().sample(centers, bad, _gen("cpu"))
