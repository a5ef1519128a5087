"""Tests of pose2mesh.fitting: fitting the open body to 3D superset keypoints.

The recovery bounds come from fitting the exact superset keypoints of known
bodies (mild random poses, adult shapes, random headings and camera tilts):
over 300 such bodies the 30-step default fit left 0.7 mm mean keypoint error
(max 4.5 mm) and 5.3 mm mean vertex error (max 12.5 mm); over ten seeds of the
16-body test below, the batch means stayed <= 0.96 mm (keypoints) and
<= 5.7 mm (vertices), the worst body 12.3 mm.  The vertex error cannot reach
zero: the 52 keypoints do not observe every joint (e.g. the thumb joints and
some bone twists), which the pose prior keeps near rest.
"""
from __future__ import annotations

import pytest
import roma
import torch

from pose2mesh.body import OpenBody
from pose2mesh.fitting import CAMERA_FROM_BODY, FitResult, FoldedKeypoints, fit_body_to_keypoints

NUM = 16  # bodies in the recovery test


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Run these tests on one intra-op thread.

    A fit is thousands of small tensor operations; on a CPU shared with other
    work (e.g. a training run), every parallel region of a second thread waits
    for a core, which made this file 10-50x slower (45 s instead of a few)
    without changing any result beyond float rounding.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def body():
    return OpenBody.load()


def _adult_betas(body, n, generator, num_betas=16):
    from pose2mesh.data.synthetic import shape_rows

    adults, _ = shape_rows(body)
    pick = adults[torch.randint(len(adults), (n,), generator=generator)]
    return body.shape_table_betas[pick, :num_betas]


def _known_bodies(body, n=NUM, seed=0):
    """Mild random poses (axis-angle N(0, 0.3 rad) per axis), adult shapes, any heading, in camera axes.

    Returns root-relative superset keypoints ``(n, 52, 3)``, vertices ``(n, V, 3)`` and the parameters.
    """
    g = torch.Generator().manual_seed(seed)
    pose = roma.rotvec_to_rotmat(0.3 * torch.randn(n, body.num_joints - 1, 3, generator=g))
    betas = _adult_betas(body, n, g)
    yaw = torch.rand(n, generator=g) * 2 * torch.pi
    heading = roma.rotvec_to_rotmat(torch.stack([torch.zeros_like(yaw), yaw, torch.zeros_like(yaw)], -1))
    tilt = roma.rotvec_to_rotmat(torch.randn(n, 3, generator=g) * torch.tensor([0.3, 0.0, 0.05]))
    orient = tilt @ torch.tensor(CAMERA_FROM_BODY) @ heading
    out = body(pose=pose, betas=betas, global_orient=orient)
    keypoints = body.regress_keypoints(out.vertices)
    root = keypoints[:, :1]
    return keypoints - root, out.vertices - root, (pose, betas, orient)


def test_recovers_known_bodies_from_exact_keypoints(body):
    keypoints, vertices, _ = _known_bodies(body)
    fit = fit_body_to_keypoints(body, keypoints)
    assert isinstance(fit, FitResult)
    assert fit.vertices.shape == (NUM, body.num_vertices, 3) and fit.joints.shape == (NUM, 52, 3)
    assert fit.pose.shape == (NUM, body.num_joints - 1, 3, 3) and fit.global_orient.shape == (NUM, 3, 3)
    assert fit.betas.shape == (NUM, 16) and fit.transl.shape == (NUM, 3) and fit.error.shape == (NUM,)
    keypoint_mm = (fit.joints - keypoints).norm(dim=-1).mean(-1) * 1000
    vertex_mm = (fit.vertices - vertices).norm(dim=-1).mean(-1) * 1000
    assert keypoint_mm.mean() < 2.0 and keypoint_mm.max() < 10.0, keypoint_mm
    assert vertex_mm.mean() < 8.0 and vertex_mm.max() < 20.0, vertex_mm
    assert fit.error.max() * 1000 < 5.0  # the residual after the fitted translation


def test_result_is_the_body_posed_in_camera_axes_about_the_pelvis(body):
    """Convention pin: ``body(pose, betas, global_orient, transl)`` gives ``vertices``; pelvis at 0;
    an upright body facing the camera gets ``global_orient`` = CAMERA_FROM_BODY (camera y down)."""
    g = torch.Generator().manual_seed(1)
    betas = _adult_betas(body, 1, g)
    out = body(betas=betas, global_orient=torch.tensor(CAMERA_FROM_BODY)[None])
    keypoints = body.regress_keypoints(out.vertices)
    keypoints = keypoints - keypoints[:, :1] + torch.tensor([0.3, -0.2, 4.0])  # any translation is fine
    fit = fit_body_to_keypoints(body, keypoints)
    again = body(pose=fit.pose, betas=fit.betas, global_orient=fit.global_orient, transl=fit.transl)
    torch.testing.assert_close(again.vertices, fit.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(body.regress_keypoints(fit.vertices), fit.joints, atol=1e-5, rtol=0)
    assert fit.joints[:, 0].abs().max() < 1e-6
    angle = roma.rotmat_geodesic_distance(fit.global_orient[0], torch.tensor(CAMERA_FROM_BODY))
    assert angle < 0.05  # radians
    head, ankle = fit.joints[0, 9], fit.joints[0, 23]  # superset head, left_ankle
    assert head[1] < ankle[1] - 1.0  # camera y points down: the head is above the ankles


def test_zero_weight_keypoints_are_ignored(body):
    keypoints, vertices, _ = _known_bodies(body, n=4, seed=2)
    weights = torch.ones(4, 52)
    weights[:, 33:41] = 0.0  # hands and fingers
    weights[1, 21:33] = 0.0  # all leg points of one sample below the hips
    corrupted = keypoints.clone()
    corrupted[weights == 0] = 5.0
    corrupted[0, 35] = float("nan")
    clean = fit_body_to_keypoints(body, keypoints, weights=weights, steps=10)
    fit = fit_body_to_keypoints(body, corrupted, weights=weights, steps=10)
    torch.testing.assert_close(fit.vertices, clean.vertices)
    kept = (fit.joints - keypoints).norm(dim=-1)[weights > 0]
    assert kept.mean() < 0.02  # metres: the weighted points are still fitted
    weights[2] = 0.0  # a sample with nothing to fit has no error, not a perfect one
    error = fit_body_to_keypoints(body, keypoints, weights=weights, steps=2).error
    assert error[2].isnan() and error[[0, 1, 3]].isfinite().all()


def test_batch_shapes_and_chunks(body):
    keypoints, _, _ = _known_bodies(body, n=6, seed=3)
    whole = fit_body_to_keypoints(body, keypoints, steps=3)
    chunked = fit_body_to_keypoints(body, keypoints, steps=3, batch_size=4)
    torch.testing.assert_close(chunked.vertices, whole.vertices, atol=1e-4, rtol=0)  # batched BLAS rounding
    grid = fit_body_to_keypoints(body, keypoints.view(2, 3, 52, 3), steps=3)
    assert grid.vertices.shape == (2, 3, body.num_vertices, 3) and grid.error.shape == (2, 3)
    torch.testing.assert_close(grid.vertices.reshape(6, -1, 3), whole.vertices, atol=1e-4, rtol=0)
    single = fit_body_to_keypoints(body, keypoints[0], steps=3, num_betas=0)
    assert single.vertices.shape == (body.num_vertices, 3) and single.betas.shape == (0,)
    assert single.pose.shape == (body.num_joints - 1, 3, 3)
    # the documented round trip, unbatched: global_orient (3, 3) is one rotation matrix
    again = body(single.pose, single.betas if single.betas.numel() else None, single.global_orient, single.transl)
    torch.testing.assert_close(again.vertices[0] - again.vertices[0].mean(0),
                               single.vertices - single.vertices.mean(0), atol=1e-4, rtol=0)


def test_l1_loss_fits_exact_keypoints(body):
    keypoints, vertices, _ = _known_bodies(body, n=4, seed=4)
    fit = fit_body_to_keypoints(body, keypoints, loss="l1")
    assert (fit.vertices - vertices).norm(dim=-1).mean() < 0.015


@pytest.mark.parametrize(
    "keypoints, weights, kwargs, match",
    [
        (torch.zeros(2, 17, 3), None, {}, r"shape \(\.\.\., 52, 3\)"),
        (torch.zeros(2, 52, 2), None, {}, r"shape \(\.\.\., 52, 3\)"),
        (torch.zeros(52), None, {}, r"shape \(\.\.\., 52, 3\)"),
        (torch.zeros(2, 52, 3), torch.ones(2, 17), {}, r"weights must have shape \(2, 52\)"),
        (torch.zeros(2, 52, 3), -torch.ones(2, 52), {}, "must be finite and >= 0"),
        (torch.full((2, 52, 3), float("nan")), None, {}, "non-finite"),
        (torch.zeros(0, 52, 3), None, {}, "no sample"),
        (torch.zeros(2, 52, 3), None, {"loss": "huber"}, "unknown loss 'huber'; choose one of: l2, l1"),
        (torch.zeros(2, 52, 3), None, {"num_betas": 65}, r"num_betas must be in \[0, 64\]"),
        (torch.zeros(2, 52, 3), None, {"steps": -1}, "steps must be >= 0"),
        (torch.zeros(2, 52, 3), None, {"sigma": 0.0}, "sigma must be finite and > 0"),
        (torch.zeros(2, 52, 3), None, {"sigma": float("inf")}, "sigma must be finite and > 0"),
        (torch.zeros(2, 52, 3), None, {"pose_weight": -1.0}, "must be finite and >= 0"),
        (torch.zeros(2, 52, 3), None, {"pose_weight": float("nan")}, "must be finite and >= 0"),
        (torch.zeros(2, 52, 3), None, {"betas_weight": float("inf")}, "must be finite and >= 0"),
    ],
)
def test_bad_inputs_raise_clear_errors(body, keypoints, weights, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_body_to_keypoints(body, keypoints, weights=weights, **kwargs)


def test_other_bodies_are_refused():
    with pytest.raises(TypeError, match="needs an OpenBody"):
        fit_body_to_keypoints(torch.nn.Identity(), torch.zeros(1, 52, 3))


def test_folded_keypoints_and_jacobian_match_the_mesh_and_autograd():
    """Float64: folded keypoints == regressor @ skinned mesh; analytic Jacobian == autograd's."""
    body = OpenBody.load(dtype=torch.float64)
    g = torch.Generator().manual_seed(5)
    num_betas = 6
    folded = FoldedKeypoints(body, num_betas)
    pose = roma.rotvec_to_rotmat(0.4 * torch.randn(2, body.num_joints - 1, 3, generator=g, dtype=torch.float64))
    orient = roma.rotvec_to_rotmat(torch.randn(2, 3, generator=g, dtype=torch.float64))
    betas = torch.randn(2, num_betas, generator=g, dtype=torch.float64)
    transl = torch.randn(2, 3, generator=g, dtype=torch.float64)
    keypoints, jac, transforms = folded(pose, betas, orient, transl)
    mesh = body(pose=pose, betas=betas, global_orient=orient, transl=transl).vertices
    torch.testing.assert_close(keypoints, body.regress_keypoints(mesh), atol=1e-12, rtol=0)
    assert jac.shape == (2, 52, 3, folded.num_params) and folded.num_params == 3 * body.num_joints + num_betas + 3

    parents = list(body.parents[1:])
    world = transforms[..., :3]
    for k in range(2):
        def perturbed(d, k=k):
            w = d[: 3 * body.num_joints].view(body.num_joints, 3)
            # A world-frame rotation w_i of joint i's subtree: r_i <- exp(G_parent^T w_i) r_i.
            local = roma.rotvec_to_rotmat((world[k, parents].transpose(-1, -2) @ w[1:, :, None])[..., 0]) @ pose[k]
            o = roma.rotvec_to_rotmat(w[0]) @ orient[k]
            b = betas[k] + d[3 * body.num_joints: -3]
            return folded(local[None], b[None], o[None], (transl[k] + d[-3:])[None], jacobian=False)[0][0]

        expected = torch.autograd.functional.jacobian(perturbed, torch.zeros(folded.num_params, dtype=torch.float64))
        torch.testing.assert_close(jac[k], expected, atol=1e-10, rtol=0)


def test_predict_fitting_matches_the_fit_of_the_posenet_keypoints(body):
    from pose2mesh._assets import asset_path
    from pose2mesh.graph import load_hierarchy
    from pose2mesh.graph.build import DEFAULT_FILE
    from pose2mesh.joints import to_superset
    from pose2mesh.metrics.evaluate import predict_fitting
    from pose2mesh.models import build_model

    torch.manual_seed(0)
    model = build_model("smoke", load_hierarchy(asset_path(DEFAULT_FILE)), body.regressor_superset).eval()
    g = torch.Generator().manual_seed(6)
    keypoints = torch.cat([200 + 300 * torch.rand(3, 17, 2, generator=g), torch.ones(3, 17, 1)], -1)
    out = predict_fitting(model, keypoints, "coco", body, steps=3)
    assert out["joints"].shape == (3, 52, 3) and out["vertices"].shape == (3, body.num_vertices, 3)
    assert out["joints"][:, 0].abs().max() < 1e-6  # root-relative, like predict()
    with torch.no_grad():
        lifted = model(*to_superset(keypoints, "coco"), mesh=False)["joints_posenet"]
    fit = fit_body_to_keypoints(body, lifted, steps=3)
    torch.testing.assert_close(out["vertices"], fit.vertices)


def test_public_surface():
    import pose2mesh.fitting as fitting

    assert set(fitting.__all__) == {
        "FitResult", "FoldedKeypoints", "fit_body_to_keypoints", "CAMERA_FROM_BODY", "LOSSES", "TORSO",
    }
    assert fitting.LOSSES == ("l2", "l1")
