import math

import pytest
import torch

from pose2mesh.models import normalize_keypoints


def test_box_center_and_half_larger_side():
    xy = torch.tensor([[[10.0, 20.0], [30.0, 60.0], [1e6, -1e6]]])
    presence = torch.tensor([[1.0, 1.0, 0.0]])
    norm, center, scale = normalize_keypoints(xy, presence)
    assert torch.allclose(center, torch.tensor([[20.0, 40.0]]))
    assert torch.allclose(scale, torch.tensor([20.0]))  # larger side 40 -> 20
    assert torch.allclose(norm[0, :2], torch.tensor([[-0.5, -1.0], [0.5, 1.0]]))
    assert torch.equal(norm[0, 2], torch.zeros(2))  # absent -> exactly 0


def test_absent_nan_does_not_leak():
    xy = torch.tensor([[[0.0, 0.0], [2.0, 2.0], [math.nan, math.inf]]])
    norm, center, scale = normalize_keypoints(xy, torch.tensor([[1.0, 1.0, 0.0]]))
    assert torch.isfinite(norm).all() and torch.isfinite(center).all() and torch.isfinite(scale).all()


def test_translation_and_scale_invariance():
    g = torch.Generator().manual_seed(1)
    xy = torch.rand(3, 52, 2, generator=g) * 100
    presence = (torch.rand(3, 52, generator=g) > 0.5).float()
    presence[:, :2] = 1
    n0, _, _ = normalize_keypoints(xy, presence)
    n1, _, _ = normalize_keypoints(xy * 3.5 + torch.tensor([40.0, -7.0]), presence)
    assert torch.allclose(n0, n1, atol=1e-5)


def test_no_present_keypoint_gives_zeros():
    norm, center, scale = normalize_keypoints(torch.rand(2, 5, 2), torch.zeros(2, 5))
    assert torch.equal(norm, torch.zeros(2, 5, 2)) and torch.equal(center, torch.zeros(2, 2))
    assert (scale > 0).all()


def test_single_point_is_finite_and_leading_dims():
    norm, center, scale = normalize_keypoints(torch.rand(2, 3, 4, 2), torch.ones(2, 3, 4))
    assert norm.shape == (2, 3, 4, 2) and center.shape == (2, 3, 2) and scale.shape == (2, 3)
    one = torch.tensor([[[5.0, 5.0], [1.0, 1.0]]])
    n, _, s = normalize_keypoints(one, torch.tensor([[1.0, 0.0]]))
    assert torch.isfinite(n).all() and s.item() > 0


def test_shape_errors():
    with pytest.raises(ValueError, match="presence"):
        normalize_keypoints(torch.rand(2, 5, 2), torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"\(\.\.\., S, 2\)"):
        normalize_keypoints(torch.rand(2, 5, 3), torch.ones(2, 5))
