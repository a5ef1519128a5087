"""Tests of the open default body (pose2mesh.body.OpenBody) and its shipped asset."""
import re
import subprocess
import sys

import numpy as np
import pytest
import roma
import torch

from pose2mesh._assets import asset_path, load_npz, save_npz
from pose2mesh.body import OpenBody, load_body
from pose2mesh.body.open_body import SKIN_CHUNK, sparse_skinning_layout
from pose2mesh.joints import get_layout, list_layouts


@pytest.fixture(scope="module")
def body():
    return load_body("default", dtype=torch.float64)


def _rest_keypoints(body, layout):
    out = body()
    return dict(zip(get_layout(layout).names, body.regress_keypoints(out.vertices, layout)[0]))


def test_load_and_repr(body):
    assert body.num_vertices == 12272
    assert body.num_joints == 31 and body.joint_names[0] == "Hips" and body.parents[0] == -1
    assert body.faces.shape == (24540, 3) and body.faces.dtype == torch.int64
    assert int(body.faces.max()) == body.num_vertices - 1
    assert repr(body).startswith("OpenBody(vertices=12272, joints=31, betas=64")
    assert len(body.content_hash) == 64


def test_load_body_unknown_name():
    with pytest.raises(ValueError, match="choose one of: default, smpl, smplh, smplx"):
        load_body("smpl-x")


def test_convention_y_up_x_left_z_forward(body):
    kp = _rest_keypoints(body, "superset")
    assert kp["head_top"][1] > kp["pelvis"][1] + 0.5  # Y up, metres
    assert kp["left_shoulder"][0] > 0 > kp["right_shoulder"][0]  # +X = body's left
    assert kp["nose"][2] > kp["head"][2]  # +Z = forward
    assert kp["left_big_toe"][2] > kp["left_heel"][2]
    height = body().vertices[0, :, 1].max() - body().vertices[0, :, 1].min()
    assert 1.4 < height < 2.0  # the mean body is adult-sized, in metres


@pytest.mark.parametrize("layout", list_layouts())
def test_regressed_keypoints_lie_where_their_names_say(body, layout):
    kp = _rest_keypoints(body, layout)
    verts = body().vertices[0]
    for name, point in kp.items():
        assert torch.isfinite(point).all(), name
        assert (verts - point).norm(dim=-1).min() < 0.12, f"{layout}:{name} is far from the body"
        if name.startswith("left_"):
            assert point[0] > 0.01, f"{layout}:{name} should be on the left (+X)"
            twin = "right_" + name[5:]
            if twin in kp:
                assert torch.allclose(point[1:], kp[twin][1:], atol=0.02), f"{name} and {twin} are not mirror images"
        if name.startswith("right_"):
            assert point[0] < -0.01, f"{layout}:{name} should be on the right (-X)"
    superset = _rest_keypoints(body, "superset")
    pelvis, head_top = superset["pelvis"], superset["head_top"]
    for side in ("left", "right"):
        ankle, knee, hip = (superset[f"{side}_{p}"] for p in ("ankle", "knee", "hip"))
        assert ankle[1] < knee[1] < hip[1] < pelvis[1] + 0.05
        assert superset[f"{side}_shoulder"][1] > superset[f"{side}_elbow"][1] > superset[f"{side}_wrist"][1]
        assert superset[f"{side}_heel"][1] < knee[1] and superset[f"{side}_big_toe"][1] < knee[1]
        assert superset[f"{side}_eye"][1] > superset["nose"][1] - 0.01
    assert head_top[1] > superset["nose"][1] > superset["neck"][1] > superset["thorax"][1] - 0.05 > pelvis[1]
    assert superset["spine1"][1] < superset["spine2"][1] < superset["spine3"][1] < superset["neck"][1]


def test_every_superset_point_is_defined(body):
    assert body.missing_superset == frozenset()
    reg = body.keypoint_regressor("superset")
    assert torch.allclose(reg.sum(1), torch.ones(reg.shape[0], dtype=reg.dtype))
    assert (reg >= 0).all()


def test_zero_pose_is_rest_and_transl_shifts(body):
    betas = torch.randn(2, body.num_betas, dtype=torch.float64) * 0.5
    out = body(betas=betas)
    rest_v, rest_j = body.shape(betas)
    assert torch.allclose(out.vertices, rest_v, atol=1e-10)
    assert torch.allclose(out.joints, rest_j, atol=1e-10)
    moved = body(betas=betas, transl=torch.tensor([[1.0, -2.0, 3.0]], dtype=torch.float64))
    assert torch.allclose(moved.vertices - out.vertices, torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64).expand_as(out.vertices))


def test_global_orient_rotates_about_root(body):
    rot = roma.rotvec_to_rotmat(torch.tensor([[0.0, np.pi / 2, 0.0]], dtype=torch.float64))
    out0, out = body(), body(global_orient=rot)
    root = out0.joints[0, 0]
    assert torch.allclose(out.joints[0, 0], root)
    expected = (out0.vertices[0] - root) @ rot[0].T + root
    assert torch.allclose(out.vertices[0], expected, atol=1e-10)
    # +90 degrees about Y turns the body's left (+X) to -Z.
    assert out.vertices[0, :, 2].min() < out0.vertices[0, :, 2].min() - 0.3


def test_elbow_rotation_moves_only_the_forearm(body):
    pose = torch.zeros(1, body.num_joints - 1, 3, dtype=torch.float64)
    elbow = body.joint_names.index("LeftForeArm")
    pose[0, elbow - 1] = torch.tensor([0.0, 0.0, 1.0])
    moved = (body(pose=pose).vertices[0] - body().vertices[0]).norm(dim=-1) > 1e-6
    weights = body.skin_weights
    left_arm = [body.joint_names.index(n) for n in ("LeftForeArm", "LeftHand", "LThumb", "LeftFingerBase", "LeftHandFinger1")]
    assert moved.any()
    assert torch.equal(moved, weights[:, left_arm].sum(1) > 1e-6)
    kp = body.regress_keypoints(body(pose=pose).vertices, "coco")[0]
    kp0 = body.regress_keypoints(body().vertices, "coco")[0]
    names = get_layout("coco").names
    assert (kp - kp0).norm(dim=-1)[names.index("left_wrist")] > 0.1
    assert (kp - kp0).norm(dim=-1)[names.index("right_wrist")] < 1e-9


def test_transforms_map_rest_joints_to_posed(body):
    pose = roma.rotvec_to_rotmat(torch.randn(3, body.num_joints - 1, 3, dtype=torch.float64) * 0.3)
    out = body(pose=pose, betas=torch.randn(3, 8, dtype=torch.float64), transl=torch.randn(3, 3, dtype=torch.float64))
    mapped = (out.transforms[..., :3] @ out.rest_joints[..., None])[..., 0] + out.transforms[..., 3]
    assert torch.allclose(mapped, out.joints, atol=1e-10)


def test_differentiable_and_gradcheck(body):
    pose = (torch.randn(1, body.num_joints - 1, 3, dtype=torch.float64) * 0.2).requires_grad_()
    betas = torch.randn(1, 4, dtype=torch.float64, requires_grad=True)
    out = body(pose=pose, betas=betas)
    body.regress_keypoints(out.vertices, "h36m").sum().backward()
    assert pose.grad.abs().sum() > 0 and betas.grad.abs().sum() > 0

    def keypoints(p, b):
        return body.regress_keypoints(body(pose=p, betas=b).vertices, "coco")

    inputs = (pose.detach().requires_grad_(), betas.detach().requires_grad_())
    assert torch.autograd.gradcheck(keypoints, inputs, eps=1e-6, atol=1e-5)


def test_sparse_skinning_equals_the_dense_product():
    """The CPU sparse skinning path gives the dense LBS product's vertices (float32: < 1e-5 m)."""
    body = load_body("default")
    gen = torch.Generator().manual_seed(0)
    n = 2 * SKIN_CHUNK + 5  # a partial last chunk
    pose = roma.rotvec_to_rotmat(torch.randn(n, body.num_joints - 1, 3, generator=gen) * 0.6)
    orient = roma.rotvec_to_rotmat(torch.randn(n, 3, generator=gen))
    for num in (1, 16, body.num_betas):
        betas = torch.randn(n, num, generator=gen) * 1.5
        with torch.no_grad():
            out = body(pose=pose, betas=betas, global_orient=orient, transl=torch.randn(n, 3, generator=gen))
            dense = body._skin(body._shape_cm(betas), out.transforms, body._skin_weights_t).transpose(1, 2)
            sparse = body._skin_sparse(betas, out.transforms).transpose(1, 2)
        assert torch.equal(out.vertices, sparse)  # forward takes the sparse path on the CPU without grad
        assert (sparse - dense).abs().max() < 1e-5


def test_sparse_skinning_layout_places_every_vertex_once(body):
    weights = body.skin_weights.numpy()
    layout = sparse_skinning_layout(weights)
    real = layout.columns[layout.columns >= 0]
    assert np.array_equal(np.sort(real), np.arange(body.num_vertices))
    for bone, piece in zip(layout.piece_bones, layout.columns[: layout.num_rigid].reshape(-1, layout.piece)):
        piece = piece[piece >= 0]
        assert len(piece) and (weights[piece, bone] > 0).all() and ((weights[piece] != 0).sum(1) == 1).all()
    for bones, start, end in layout.groups:
        members = layout.columns[layout.num_rigid + start : layout.num_rigid + end]
        assert (members >= 0).all() and not np.delete(weights[members], bones, axis=1).any()
    assert (layout.columns[layout.num_rigid :] >= 0).all()


def test_skin_vertices_composes_a_camera(body):
    """Skinning by camera-composed transforms [R G | R g + t] equals x_cam = R x + t (body frame -> camera)."""
    pose = roma.rotvec_to_rotmat(torch.randn(3, body.num_joints - 1, 3, dtype=torch.float64) * 0.3)
    betas = torch.randn(3, 10, dtype=torch.float64)
    out = body(pose=pose, betas=betas)
    rot, t = roma.random_rotmat(3, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
    transforms = torch.cat([rot[:, None] @ out.transforms[..., :3],
                            rot[:, None] @ out.transforms[..., 3:] + t[:, None, :, None]], -1)
    expected = out.vertices @ rot.transpose(1, 2) + t[:, None]
    # exact but for the skinning weights, which sum to 1 to float32 rounding (x |t| ~ 1e-7 m)
    assert torch.allclose(body.skin_vertices(betas, transforms), expected, atol=1e-6)
    ids = torch.tensor([0, 5, 4000, body.num_vertices - 1])
    assert torch.allclose(body.skin_vertices(betas, transforms, ids), expected[:, ids], atol=1e-6)


def test_batch_broadcast_and_bad_inputs(body):
    out = body(pose=torch.zeros(4, body.num_joints - 1, 3), betas=torch.zeros(1, body.num_betas))
    assert out.vertices.shape == (4, body.num_vertices, 3) and out.joints.shape == (4, 31, 3)
    single = body(pose=torch.zeros(body.num_joints - 1, 3))
    assert single.vertices.shape == (1, body.num_vertices, 3)
    with pytest.raises(ValueError, match=r"pose must have shape \(B, 30, 3\)"):
        body(pose=torch.zeros(2, 23, 3))
    with pytest.raises(ValueError, match="inconsistent batch sizes"):
        body(pose=torch.zeros(2, 30, 3), betas=torch.zeros(3, 10))
    with pytest.raises(ValueError, match="betas must have shape"):
        body(betas=torch.zeros(1, 65))
    with pytest.raises(ValueError, match=r"betas must have shape \(B, S'\) with S' <= 64, got \(1, 70\)"):
        body.shape(torch.zeros(1, 70, dtype=body.v_template.dtype))
    with pytest.raises(ValueError, match="empty batch"):
        body(pose=torch.zeros(0, 30, 3))
    assert body(betas=torch.zeros(2, 0)).vertices.shape == (2, body.num_vertices, 3)  # no betas given: zeros
    with pytest.raises(ValueError, match=r"vertices must have shape \(\.\.\., 12272, 3\)"):
        body.regress_keypoints(torch.zeros(2, 10, 3), "coco")
    with pytest.raises(ValueError, match="unknown joint layout"):
        body.regress_keypoints(body().vertices, "cocoo")


def test_float32_default_and_device_move():
    body = load_body("default")
    assert body.v_template.dtype == torch.float32
    out = body(pose=torch.zeros(2, 30, 3))
    assert out.vertices.dtype == torch.float32 and out.vertices.device.type == "cpu"
    assert all(b.device.type == "cpu" for b in body.buffers())
    if torch.cuda.is_available():
        gpu = load_body("default", device="cuda")
        assert gpu(pose=torch.zeros(1, 30, 3, device="cuda")).vertices.is_cuda


def test_betas_from_rest_roundtrip(body):
    betas = torch.randn(3, body.num_betas, dtype=torch.float64)
    assert torch.allclose(body.betas_from_rest(*body.shape(betas)), betas, atol=1e-6)


def test_betas_from_rest_of_the_float32_body():
    body = load_body("default")  # float32, as shipped
    betas = body.shape_table_betas[:4]
    rest = body.shape(betas)
    est = body.betas_from_rest(*rest)
    assert est.dtype == torch.float32 and (est - betas).abs().max() < 1e-2


def test_shape_table_spans_children_and_adults(body):
    table = body.shape_table_betas
    labels = body.phenotype_labels
    assert labels == ("gender", "age", "muscle", "weight", "height", "proportions")
    rest_v, _ = body.shape(table[:512])
    heights = rest_v[..., 1].max(1).values - rest_v[..., 1].min(1).values
    age = body.shape_table_phenotypes[:512, labels.index("age")]
    assert heights[age < 0.2].mean() < 1.1 < 1.5 < heights[age > 0.6].mean()


def test_asset_hash_detects_edits(tmp_path):
    arrays, digest = load_npz(asset_path("body_default.npz"))
    assert OpenBody(arrays, digest).content_hash == digest
    arrays["v_template"] = arrays["v_template"] + np.float32(1e-3)
    bad = tmp_path / "bad.npz"
    save_npz(bad, arrays)
    with np.load(bad) as data:  # tamper: keep the old hash
        tampered = {k: data[k] for k in data.files}
    tampered["content_hash"] = np.array(digest)
    np.savez(bad, **tampered)
    with pytest.raises(ValueError, match="content hash mismatch"):
        OpenBody.load(bad)


def test_import_is_light():
    code = "import pose2mesh, pose2mesh.body, pose2mesh.joints, pose2mesh.graph, sys; " \
           "bad = [m for m in ('anny', 'smplx', 'warp', 'torch_geometric') if m in sys.modules]; assert not bad, bad"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_fidelity_against_anny():
    """A few random bodies: our LBS layer reproduces anny's forward pass (mean <= 2 mm)."""
    pytest.importorskip("anny", reason="the fidelity check needs anny: pip install 'pose2mesh[train]'")
    from pose2mesh.body.export import measure_fidelity

    res = measure_fidelity(num=6, seed=1, batch=6)
    assert res["vertex_mean_mm"] <= 2.0, res
    assert res["joint_mean_mm"] <= 2.0, res


@pytest.mark.parametrize("name", ["export_default_body", "build_anny"])
def test_export_without_anny_names_the_extra(monkeypatch, tmp_path, name):
    """Without the train extra, the export raises the ImportError that says what to install."""
    from pose2mesh.body import export

    monkeypatch.setitem(sys.modules, "anny", None)  # `import anny` now raises ImportError
    args = (tmp_path / "body.npz",) if name == "export_default_body" else ()
    with pytest.raises(ImportError, match=re.escape("pip install 'pose2mesh[train]'")):
        getattr(export, name)(*args)


def test_export_reproduces_the_shipped_asset(tmp_path):
    """`pose2mesh build-body` rebuilds graphs/body_default.npz: arrays equal to float32 round-off, regressor weights to ~1e-7."""
    pytest.importorskip("anny", reason="the export needs anny: pip install 'pose2mesh[train]'")
    from pose2mesh.body.export import export_default_body

    export_default_body(tmp_path / "body.npz")
    rebuilt, _ = load_npz(tmp_path / "body.npz")
    shipped, _ = load_npz(asset_path("body_default.npz"))
    assert rebuilt.keys() == shipped.keys()
    fitted = ("regressor_rows", "regressor_cols", "regressor_values", "meta")  # NNLS: BLAS rounding varies
    for key in shipped:
        if key in fitted:
            continue
        assert shipped[key].dtype == rebuilt[key].dtype, key
        if np.issubdtype(shipped[key].dtype, np.floating):
            # SVD / QR round-off depends on the BLAS thread count: equal to float32 precision (~1e-7 m)
            np.testing.assert_allclose(rebuilt[key], shipped[key], rtol=0, atol=1e-6, err_msg=key)
        else:
            assert np.array_equal(shipped[key], rebuilt[key]), key

    def dense(a):
        out = np.zeros((len(a["regressor_names"]), a["v_template"].shape[0]))
        np.add.at(out, (a["regressor_rows"], a["regressor_cols"]), a["regressor_values"])
        return out

    assert np.abs(dense(rebuilt) - dense(shipped)).max() < 1e-5
