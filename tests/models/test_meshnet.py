import pytest
import torch

from pose2mesh.models import MeshNet, MeshNetConfig, count_parameters
from pose2mesh.models.layers import masked_coordinates


def test_unpool_gather_equals_sparse_unpool_matrix(hierarchy):
    net = MeshNet(MeshNetConfig(), hierarchy)
    for l in range(net.config.coarsest):
        x = torch.randn(2, hierarchy.num_nodes[l + 1], 4)
        sparse = torch.stack([torch.sparse.mm(hierarchy.unpool_matrix(l), xi) for xi in x])
        assert torch.equal(x.index_select(1, getattr(net, f"unpool_index_{l}")), sparse)
    # the composed gather from the output level to the mesh = the product of the unpooling matrices
    x = torch.randn(hierarchy.num_nodes[2], 3)
    expected = torch.sparse.mm(hierarchy.unpool_matrix(0), torch.sparse.mm(hierarchy.unpool_matrix(1), x))
    assert torch.equal(x[net.vertex_to_output], expected)


def reference_forward(net: MeshNet, norm_xy, joints3d, presence):
    """MeshNet's forward pass as first written, the reference for its fast path.

    Batch-first features, one gather per unpooling, each convolution on the
    unpooled features, the per-vertex refinement as an element-wise product
    and sum. The fast path (node-major features, unpooling fused into the
    next convolution, composed gathers, baddbmm, chunked eval) must give the
    same result up to float rounding.
    """
    cfg = net.config
    xy, p = masked_coordinates(norm_xy, presence)
    h = torch.cat([xy, joints3d, p.unsqueeze(-1)], dim=-1)
    for conv in net.joint_convs:
        h = conv(h, net.keypoint_laplacian)
    b = h.shape[0]
    if cfg.lift == "dense":
        x = net.lift_dense(h.reshape(b, -1)).view(b, net.num_coarse, -1)
    else:
        x = net.lift_channels(torch.matmul(net.lift_mix, h)) + net.lift_embedding
    x = torch.relu(x)

    def unpool(x, l):
        return x.index_select(1, getattr(net, f"unpool_index_{l}"))

    for i, (l, stage) in enumerate(zip(net.levels, net.stages)):
        if i > 0:
            x = unpool(x, l)
        for block in stage:
            x = block(x, getattr(net, f"laplacian_{l}"))
    verts = net.head(x, getattr(net, f"laplacian_{cfg.output_level}"))
    if cfg.output_level == 0:
        return verts
    feats = net.to_refine(x)
    for l in range(cfg.output_level - 1, -1, -1):
        verts, feats = unpool(verts, l), unpool(feats, l)
    return verts + (feats.unsqueeze(-1) * net.refine_weight).sum(dim=-2) + net.refine_bias


REFERENCE_CONFIGS = {
    "default": MeshNetConfig(),
    # the paper preset's kinds of layer: dense lift, BatchNorm, convolutions down to the full mesh
    "dense-batchnorm-level0": MeshNetConfig(coarsest=3, output_level=0, channels=(8, 6, 6, 4), blocks=(1, 0, 1, 0),
                                            joint_channels=(8, 8), lift="dense", lift_channels=6, norm="batch"),
    "K2": MeshNetConfig(coarsest=7, output_level=4, channels=(16, 16, 16, 8), blocks=(1, 0, 0, 0),
                        joint_channels=(16,), K=2, refine_channels=4),
}


def _inputs(batch, dtype):
    g = torch.Generator().manual_seed(batch)
    presence = (torch.rand(batch, 52, generator=g) > 0.2).to(dtype)
    return (2 * torch.rand(batch, 52, 2, generator=g, dtype=dtype) - 1, 0.5 * torch.randn(batch, 52, 3, generator=g,
            dtype=dtype), presence)


@pytest.mark.parametrize("name", sorted(REFERENCE_CONFIGS))
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_fast_path_equals_reference_path(hierarchy, name, train):
    torch.manual_seed(0)
    net = MeshNet(REFERENCE_CONFIGS[name], hierarchy).double().train(train)
    with torch.no_grad():  # non-trivial norm parameters and refinement
        for prm in net.parameters():
            prm.add_(0.1 * torch.randn_like(prm))
    inputs = _inputs(5, torch.float64)
    net.eval_chunk = 2  # eval: chunks of 2, 2 and 1 samples
    torch.testing.assert_close(net(*inputs), reference_forward(net, *inputs), atol=1e-10, rtol=1e-10)
    if train:
        params = [q for q in net.parameters()]
        fast = torch.autograd.grad(net(*inputs).square().sum(), params)
        ref = torch.autograd.grad(reference_forward(net, *inputs).square().sum(), params)
        for a, b in zip(fast, ref):
            torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)


def test_fast_path_float32_within_1e5_and_chunking(hierarchy):
    torch.manual_seed(1)
    net = MeshNet(MeshNetConfig(), hierarchy).eval()
    inputs = _inputs(7, torch.float32)
    with torch.inference_mode():
        ref = reference_forward(net, *inputs)
        out = net(*inputs)
        net.eval_chunk = 3
        chunked = net(*inputs)
        one = net(*(t[:1] for t in inputs))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    # other chunk sizes change the GEMM shapes, hence the float rounding, not the result
    torch.testing.assert_close(chunked, out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(one, out[:1], atol=1e-5, rtol=1e-5)
    assert out.is_contiguous() and out.shape == (7, hierarchy.num_nodes[0], 3)


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
