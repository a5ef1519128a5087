import pytest
import torch

from pose2mesh.models import MeshNet, MeshNetConfig, count_parameters


def test_unpool_gather_equals_sparse_unpool_matrix(hierarchy):
    net = MeshNet(MeshNetConfig(), hierarchy)
    for l in range(net.config.coarsest):
        x = torch.randn(2, hierarchy.num_nodes[l + 1], 4)
        sparse = torch.stack([torch.sparse.mm(hierarchy.unpool_matrix(l), xi) for xi in x])
        assert torch.equal(net._unpool(x, l), sparse)


@pytest.mark.parametrize("output_level", [0, 1, 2])
def test_full_resolution_output(hierarchy, output_level):
    n = 7 - output_level + 1
    cfg = MeshNetConfig(coarsest=7, output_level=output_level, channels=(16,) * n, blocks=(1,) + (0,) * (n - 1), K=2)
    net = MeshNet(cfg, hierarchy).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 52, 2), torch.rand(2, 52, 3), torch.ones(2, 52))
    assert out.shape == (2, hierarchy.num_nodes[0], 3)
    assert torch.isfinite(out).all()


def test_buffers_move_and_are_not_persistent(hierarchy):
    net = MeshNet(MeshNetConfig(), hierarchy)
    names = dict(net.named_buffers())
    assert "laplacian_7" in names and "unpool_index_0" in names and "keypoint_laplacian" in names
    assert not any(k.startswith(("laplacian_", "unpool_index_")) for k in net.state_dict())
    assert net.hierarchy_hash == hierarchy.content_hash()
    net64 = MeshNet(MeshNetConfig(), hierarchy).double()
    assert net64.laplacian_7.dtype == torch.float64


def test_config_errors(hierarchy):
    with pytest.raises(ValueError, match="entries"):
        MeshNetConfig(coarsest=7, output_level=2, channels=(8, 8), blocks=(0, 0))
    with pytest.raises(ValueError, match="choose one of: factored, dense"):
        MeshNetConfig(lift="conv")
    with pytest.raises(ValueError, match="hierarchy has levels"):
        MeshNet(MeshNetConfig(coarsest=9, channels=(8,) * 8, blocks=(0,) * 8), hierarchy)


def test_detach_posenet(hierarchy):
    cfg = MeshNetConfig(coarsest=7, output_level=5, channels=(8, 8, 8), blocks=(0, 0, 0), detach_posenet=True)
    net = MeshNet(cfg, hierarchy)
    j = torch.rand(1, 52, 3, requires_grad=True)
    net(torch.rand(1, 52, 2), j, torch.ones(1, 52)).sum().backward()
    assert j.grad is None
    print(f"\nsmall MeshNet: {count_parameters(net)} parameters")
