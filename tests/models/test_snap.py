"""Snapping onto exact 2D keypoints (pose2mesh.models.snap)."""
import math

import pytest
import torch

from pose2mesh import joints as J
from pose2mesh.body import load_body
from pose2mesh.camera import project_points
from pose2mesh.models import ROOT_INDEX, SNAP_SIGMA, copied_keypoints, snap_to_keypoints
from pose2mesh.models.lifter import anchor_weights

K = torch.tensor([[900.0, 0.0, 320.0], [0.0, 900.0, 240.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
NAMES = J.get_layout("superset").names


@pytest.fixture(scope="module")
def template():
    return load_body("default").v_template.detach().double()


@pytest.fixture(scope="module")
def weights(template, regressor):
    return anchor_weights(template, regressor, SNAP_SIGMA).double()


@pytest.fixture(scope="module")
def scene(template, regressor):
    """A true mesh 3 m in front of the camera, its exact 2D keypoints, and a smoothly wrong prediction of it."""
    reg = regressor.double()
    truth = template - reg[ROOT_INDEX] @ template
    truth = truth @ torch.tensor([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]], dtype=torch.float64)  # y up -> down
    t = torch.tensor([0.1, 0.2, 3.0], dtype=torch.float64)
    uv = project_points(reg @ truth + t, K)
    # the prediction: a bend of the limbs (x-dependent shift in depth and height), up to ~8 cm per vertex
    bend = torch.stack([0.02 * torch.sin(5 * truth[:, 1]), 0.1 * truth[:, 0].abs(), 0.08 * truth[:, 0]], -1)
    pred = truth + bend
    pred = pred - reg[ROOT_INDEX] @ pred
    return truth[None], uv[None], pred[None], t


def _reprojection_px(verts, uv, w, reg):
    """Mean pixel error of the snapped keypoints after placing the mesh on them."""
    from pose2mesh.camera import solve_translation

    joints = reg @ verts
    t = solve_translation(joints, uv, K, weights=w)
    err = (project_points(joints + t[:, None], K) - uv).norm(dim=-1)
    return ((err * w).sum(-1) / w.sum(-1)).item()


def test_copied_keypoints_are_the_layouts_own():
    coco = copied_keypoints("coco")
    assert coco.shape == (len(NAMES),) and coco.dtype == torch.bool and int(coco.sum()) == 17
    names = {n for n, c in zip(NAMES, coco.tolist()) if c}
    assert {"left_hip", "right_wrist", "nose", "left_ear"} <= names
    # derived by to_superset, approximations: COCO's pelvis (mean of the hips), its neck_nose (= nose)
    assert not names & {"pelvis", "spine", "neck", "thorax", "neck_nose"}
    # H36M has a thorax but no neck: to_superset's neck is the thorax, a few cm lower
    h36m = {n for n, c in zip(NAMES, copied_keypoints("h36m").tolist()) if c}
    assert "thorax" in h36m and "neck" not in h36m
    for layout in J.list_layouts():
        assert int(copied_keypoints(layout).sum()) == J.get_layout(layout).num_joints


@pytest.mark.parametrize("layout", J.list_layouts())
def test_a_mesh_on_its_own_keypoints_stays_put(scene, weights, regressor, layout):
    """Snapping the true mesh onto its own exact projections, in any layout, leaves it where it is."""
    truth, _, _, t = scene
    reg = regressor.double()
    uv = project_points(reg @ truth + t, K)  # exact superset keypoints
    kp = J.convert(uv, "superset", layout)
    xy, presence = J.to_superset(torch.cat([kp, torch.ones_like(kp[..., :1])], -1), layout)
    snapped = snap_to_keypoints(truth, xy, presence * copied_keypoints(layout).double(), K, reg, weights)
    assert (snapped - truth).norm(dim=-1).max() < 1e-4  # metres


def test_snapping_puts_the_keypoints_on_the_input_and_nearer_the_truth(scene, weights, regressor):
    truth, uv, pred, _ = scene
    reg = regressor.double()
    w = copied_keypoints("coco").double()[None]
    before = _reprojection_px(pred, uv, w, reg)
    snapped = snap_to_keypoints(pred, uv, w, K, reg, weights)
    after = _reprojection_px(snapped, uv, w, reg)
    assert before > 2.0 and after < 0.01, (before, after)
    # the snapped keypoints are nearer the truth (the bend's image-plane part is gone, its depth part stays)
    sel = w[0] > 0
    err = lambda v: (reg @ v[0] - reg @ truth[0])[sel].norm(dim=-1).mean().item()
    assert err(snapped) < 0.8 * err(pred)
    # still rooted at the regressed pelvis; float32 gives the same mesh to a few micrometres
    assert (reg[ROOT_INDEX] @ snapped[0]).abs().max() < 1e-9
    single = snap_to_keypoints(pred.float(), uv.float(), w.float(), K.float(), reg.float(), weights.float())
    assert single.dtype == torch.float32 and (single.double() - snapped).norm(dim=-1).max() < 2e-5


def test_only_vertices_near_snapped_keypoints_move(scene, weights, regressor, template):
    _, uv, pred, _ = scene
    reg = regressor.double()
    w = torch.zeros(1, len(NAMES), dtype=torch.float64)
    w[0, [NAMES.index("left_wrist"), NAMES.index("right_wrist"), NAMES.index("left_ankle")]] = 1.0
    snapped = snap_to_keypoints(pred, uv, w, K, reg, weights)
    shift = snapped[0] - pred[0]
    # everything shifts by the same re-rooting offset except around the snapped keypoints
    snapped_at = reg[w[0] > 0] @ template
    far = torch.cdist(template, snapped_at).min(1).values > 0.5
    rerooting = shift[far].mean(0)
    assert (shift[far] - rerooting).norm(dim=-1).max() < 1e-9
    assert (shift[~far] - rerooting).norm(dim=-1).max() > 0.005  # the hands and a foot did move


def test_absent_keypoints_do_not_leak_and_unplaceable_samples_are_kept(scene, weights, regressor):
    _, uv, pred, _ = scene
    reg = regressor.double()
    w = copied_keypoints("coco").double()[None].repeat(3, 1)
    xy = uv.repeat(3, 1, 1)
    xy[:, ~copied_keypoints("coco")] = math.nan  # nothing there, and not snapped
    xy[1, NAMES.index("nose")] = math.inf
    w[1, NAMES.index("nose")] = 0.0
    w[2] = 0.0
    w[2, NAMES.index("nose")] = 1.0  # one keypoint cannot place a body: sample 2 is left as it was
    verts = pred.repeat(3, 1, 1)
    out = snap_to_keypoints(verts, xy, w, K, reg, weights)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[2], verts[2], rtol=0, atol=0)
    assert (out[1] - out[0]).abs().max() > 1e-4  # the nose was not snapped in sample 1
    # the superset's nose and neck_nose share a regressor row: the damped solve still puts both on the input
    w_sup = torch.ones(1, len(NAMES), dtype=torch.float64)
    reg_rows = reg[[NAMES.index("nose"), NAMES.index("neck_nose")]]
    assert torch.equal(reg_rows[0], reg_rows[1])
    both = snap_to_keypoints(pred, uv, w_sup, K, reg, weights)
    assert torch.isfinite(both).all() and _reprojection_px(both, uv, w_sup, reg) < 0.05


def test_bad_input_is_refused(scene, weights, regressor):
    _, uv, pred, _ = scene
    reg = regressor.double()
    w = torch.ones(1, len(NAMES), dtype=torch.float64)
    with pytest.raises(ValueError, match=r"vertices must have shape \(B, V, 3\)"):
        snap_to_keypoints(pred[0], uv, w, K, reg, weights)
    with pytest.raises(ValueError, match="keypoints must be"):
        snap_to_keypoints(pred, uv[:, :10], w, K, reg, weights)
    with pytest.raises(ValueError, match="anchor_weights"):
        snap_to_keypoints(pred, uv, w, K, reg, weights.T)
    with pytest.raises(ValueError, match="non-negative"):
        snap_to_keypoints(pred, uv, -w, K, reg, weights)
    with pytest.raises(ValueError, match="ridge"):
        snap_to_keypoints(pred, uv, w, K, reg, weights, ridge=-1.0)
