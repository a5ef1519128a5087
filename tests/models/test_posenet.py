import pytest
import torch

from pose2mesh.models import GraphPoseNet, MLPPoseNet, count_parameters


def _inputs(b=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(b, 52, 2, generator=g) * 2 - 1
    presence = (torch.rand(b, 52, generator=g) > 0.3).float()
    presence[:, 5] = 0.0
    return xy, presence


@pytest.mark.parametrize("net", [GraphPoseNet, MLPPoseNet], ids=["graph", "mlp"])
def test_shape_root_and_masking(net):
    torch.manual_seed(0)
    model = net().eval()
    xy, p = _inputs()
    with torch.no_grad():
        out = model(xy, p)
        assert out.shape == (3, 52, 3)
        assert torch.equal(out[:, 0], torch.zeros(3, 3))  # pelvis is the root
        moved = xy.clone()
        moved[p == 0] = torch.randn(int((p == 0).sum()), 2) * 100
        moved[0, 5] = float("nan")
        assert torch.equal(model(moved, p), out)  # absent coordinates never matter
        present = xy.clone()
        i = int(torch.nonzero(p[0])[1])
        present[0, i] += 0.3
        assert not torch.allclose(model(present, p)[0], out[0])


def test_graph_posenet_is_small_and_repr():
    model = GraphPoseNet()
    n = count_parameters(model)
    print(f"\nGraphPoseNet: {n} parameters\n{model}")
    assert n < 2_000_000
    assert "channels=96" in repr(model) and "ChebConv(96, 96, K=3)" in repr(model)


def test_absent_embedding_is_used():
    model = GraphPoseNet().eval()
    xy, p = _inputs(1)
    with torch.no_grad():
        out = model(xy, p)
        model.absent_embedding.add_(0.5)
        assert not torch.allclose(model(xy, p), out)


def test_bad_input_shape():
    with pytest.raises(ValueError, match="S = 52"):
        GraphPoseNet()(torch.rand(1, 17, 2), torch.ones(1, 17))
