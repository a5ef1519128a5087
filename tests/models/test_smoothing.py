"""Output smoothing of the MeshNet (MeshNetConfig.smooth)."""
import copy

import numpy as np
import pytest
import torch

from pose2mesh.models import MeshNetConfig, build_model, model_config
from pose2mesh.models.meshnet import smoothing_operator


def test_one_iteration_moves_half_way_to_the_neighbour_mean(hierarchy):
    op = smoothing_operator(hierarchy)
    level = hierarchy.levels[0]
    x = torch.randn(level.num_nodes, 3, generator=torch.Generator().manual_seed(0))
    out = op @ x
    src, dst = torch.from_numpy(level.edge_index[0].copy()), torch.from_numpy(level.edge_index[1].copy())
    for v in (0, 100, 5000):
        neighbours = dst[src == v]
        expected = 0.5 * x[v] + 0.5 * x[neighbours].mean(0)
        assert torch.allclose(out[v], expected, atol=1e-6)
    # rows sum to 1: a translation passes unchanged
    shift = torch.tensor([[0.3, -1.0, 2.0]]).expand(level.num_nodes, 3)
    assert torch.allclose(op @ (x + shift), out + shift, atol=1e-5)


def test_smoothing_removes_noise_and_keeps_the_shape(hierarchy):
    from pose2mesh.body import load_body

    template = load_body("default").v_template.float()
    noisy = template + 0.005 * torch.randn(template.shape, generator=torch.Generator().manual_seed(1))
    op = smoothing_operator(hierarchy)
    smoothed = op @ (op @ noisy)
    # closer to the clean surface than the noisy input was
    assert (smoothed - template).norm(dim=-1).mean() < 0.5 * (noisy - template).norm(dim=-1).mean()


def test_meshnet_output_is_the_smoothed_unsmoothed_output(hierarchy, regressor, keypoints):
    xy, p = keypoints
    torch.manual_seed(0)
    plain = build_model("smoke", hierarchy, regressor).eval()
    cfg = copy.deepcopy(model_config("smoke"))
    cfg.meshnet.smooth = 2
    smooth = build_model(cfg, hierarchy, regressor).eval()
    smooth.load_state_dict(plain.state_dict())
    with torch.no_grad():
        raw = plain.meshnet(*_meshnet_inputs(plain, xy, p))
        out = smooth.meshnet(*_meshnet_inputs(smooth, xy, p))
    op = smoothing_operator(hierarchy)
    expected = torch.stack([op @ (op @ r) for r in raw])
    assert torch.allclose(out, expected, atol=1e-6)


def _meshnet_inputs(model, xy, p):
    from pose2mesh.models.normalize import normalize_keypoints

    norm, _, _ = normalize_keypoints(xy, p)
    return norm, model.posenet(norm, p), p


def test_smooth_must_be_a_count():
    for bad in (-1, 1.5):
        with pytest.raises(ValueError, match="smooth must be a non-negative int"):
            MeshNetConfig(smooth=bad)
    assert np.isclose(MeshNetConfig(smooth=3).smooth, 3)
