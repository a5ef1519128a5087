"""Keypoint anchoring (ModelConfig.anchor): the mesh follows the PoseNet's keypoints."""
import pytest
import torch

from pose2mesh.body import load_body
from pose2mesh.models import ModelConfig, build_model, model_config
from pose2mesh.models.lifter import anchor_weights


@pytest.fixture(scope="module")
def template():
    return load_body("default").v_template.detach().float()


def _smoke(anchor: float) -> ModelConfig:
    cfg = model_config("smoke")
    cfg.anchor = anchor
    return cfg


def test_weights_are_local_and_sum_to_one(template, regressor):
    w = anchor_weights(template, regressor, sigma=0.03)
    assert w.shape == (template.shape[0], regressor.shape[0]) and w.dtype == torch.float32
    assert torch.allclose(w.sum(1), torch.ones(w.shape[0]), atol=1e-5)
    # a vertex at a keypoint's regressed position follows that keypoint most
    keypoints = regressor.double() @ template.double()
    nearest = torch.cdist(keypoints.float(), template).argmin(1)  # (S,) vertex nearest each keypoint
    assert (w[nearest].argmax(1) == torch.arange(regressor.shape[0])).float().mean() > 0.9
    # negligible weights are dropped (the product stays cheap), and the rest renormalised
    assert (w > 0).sum(1).float().mean() < 10 and w[w > 0].min() >= 1e-3
    dense = anchor_weights(template, regressor, sigma=0.03, min_weight=0.0)
    assert (dense > 0).sum() > 2 * (w > 0).sum() and (w - dense).abs().sum(1).max() < 0.05
    # a wider kernel spreads the weight
    assert anchor_weights(template, regressor, sigma=0.2).max(1).values.mean() < w.max(1).values.mean()


def test_anchoring_moves_the_mesh_towards_the_posenet(hierarchy, regressor, template, keypoints):
    xy, p = keypoints
    torch.manual_seed(0)
    plain = build_model(_smoke(0.0), hierarchy, regressor).eval()
    outs = {}
    for anchor in (0.0, 0.5, 1.0):
        model = build_model(_smoke(anchor), hierarchy, regressor, template=template).eval()
        model.load_state_dict(plain.state_dict())
        with torch.no_grad():
            outs[anchor] = model(xy, p)
    # the same network: PoseNet untouched, anchor 0 identical to no anchoring
    with torch.no_grad():
        ref = plain(xy, p)
    assert torch.equal(outs[0.0]["vertices"], ref["vertices"])
    assert torch.equal(outs[0.5]["joints_posenet"], ref["joints_posenet"])
    gap = {a: (o["joints_mesh"] - o["joints_posenet"]).norm(dim=-1).mean().item() for a, o in outs.items()}
    assert gap[1.0] < gap[0.5] < 0.9 * gap[0.0]
    # still root-relative at the mesh's own pelvis
    assert (regressor[0] @ outs[0.5]["vertices"]).abs().max() < 1e-5


def test_anchoring_needs_a_template_and_a_valid_strength(hierarchy, regressor):
    with pytest.raises(ValueError, match="pass template=body.v_template"):
        build_model(_smoke(0.5), hierarchy, regressor)
    with pytest.raises(ValueError, match=r"anchor must be in \[0, 1\]"):
        ModelConfig(anchor=1.5)
    with pytest.raises(ValueError, match="anchor_sigma must be positive"):
        ModelConfig(anchor=0.5, anchor_sigma=0.0)


def test_anchoring_and_smoothing_train(hierarchy, regressor, template, keypoints):
    """Gradients reach the PoseNet through the anchoring offsets, and the MeshNet through the smoothing."""
    xy, p = keypoints
    cfg = _smoke(0.5)
    cfg.meshnet.smooth = 2
    model = build_model(cfg, hierarchy, regressor, template=template).train()
    out = model(xy, p)
    out["vertices"].abs().mean().backward()
    for name in ("posenet", "meshnet"):
        grads = [q.grad for q in getattr(model, name).parameters() if q.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), name
