"""Tests of :mod:`pose2mesh.body.smpl` on synthetic model files (never a licensed one).

The files come from ``tests/body/smpl_fixture.py`` (through the fixtures of
``conftest.py``): one vertex cluster per joint of a T-pose skeleton in SMPL's
frame (Y up, X left, Z forward), one-hot skinning, ``J_regressor`` = cluster
means.  The reference values are smplx's own API (``smplx.create`` with
axis-angle input) and closed-form geometry, not stored numbers.
"""
from __future__ import annotations

import logging
import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import roma
import torch

smplx = pytest.importorskip("smplx", reason="needs the 'smpl' extra (smplx)")

from pose2mesh.body.base import BodyOutput  # noqa: E402
from pose2mesh.body.smpl import SMPLBody, find_model_file  # noqa: E402
from pose2mesh.joints import get_layout  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
NUM_POSE = {"smpl": 23, "smplh": 21, "smplx": 21}
NUM_JOINTS = {"smpl": 24, "smplh": 52, "smplx": 55}
NUM_VERTICES = {"smpl": 6890, "smplh": 6890, "smplx": 10475}


@pytest.fixture(scope="module")
def model_dir(synthetic_smpl_dir, write_synthetic_smpl) -> Path:
    """The shared SMPL + SMPL-H folder, plus a synthetic SMPL-X file."""
    if not (synthetic_smpl_dir / "smplx" / "SMPLX_NEUTRAL.npz").exists():
        write_synthetic_smpl(synthetic_smpl_dir, "smplx")
    return synthetic_smpl_dir


@pytest.fixture(scope="module")
def bodies(model_dir) -> dict[str, SMPLBody]:
    """One float32 CPU body per model type (read-only in the tests)."""
    return {t: SMPLBody(model_dir, t) for t in ("smpl", "smplh", "smplx")}


def _descendants(parents: tuple[int, ...], joint: int) -> set[int]:
    out = {joint}
    for j, p in enumerate(parents):  # parents come before children in SMPL's order
        if p in out:
            out.add(j)
    return out


def _random_inputs(body: SMPLBody, batch: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return dict(
        pose=0.4 * torch.randn(batch, body.num_pose_joints, 3, generator=g),
        betas=torch.randn(batch, body.num_betas, generator=g),
        global_orient=0.8 * torch.randn(batch, 3, generator=g),
        transl=torch.randn(batch, 3, generator=g),
    )


# --------------------------------------------------------------------------- building


@pytest.mark.parametrize("model_type", ["smpl", "smplh", "smplx"])
def test_builds_with_the_model_layout(bodies, model_type):
    body = bodies[model_type]
    assert str(body) == f"SMPLBody(model_type='{model_type}', gender='neutral', num_betas=10)"
    assert body.num_joints == NUM_JOINTS[model_type] == len(body.parents)
    assert body.num_pose_joints == NUM_POSE[model_type]
    assert body.num_vertices == NUM_VERTICES[model_type]
    assert body.parents[0] == -1 and all(0 <= p < j for j, p in enumerate(body.parents) if j)
    assert body.faces.dtype == torch.int64 and body.faces.shape[1] == 3
    assert int(body.faces.max()) < body.num_vertices
    superset = get_layout("superset")
    assert body.regressor_superset.shape == (superset.num_joints, body.num_vertices)
    rows = body.regressor_superset.abs().sum(1)
    for name, total in zip(superset.names, rows.tolist()):
        assert (total == 0) == (name in body.missing_superset), name
    built = body.regressor_superset[rows > 0].sum(1)  # every built point is a weighted mean
    torch.testing.assert_close(built, torch.ones_like(built))


def test_joint_names_follow_smpl24_and_smplx(bodies):
    assert bodies["smpl"].joint_names == get_layout("smpl24").names
    assert bodies["smplh"].joint_names == tuple(smplx.joint_names.SMPLH_JOINT_NAMES[:52])
    assert bodies["smplx"].joint_names == tuple(smplx.joint_names.JOINT_NAMES[:55])
    for body in bodies.values():  # the body joints are shared
        assert body.joint_names[:22] == get_layout("smpl24").names[:22]


def test_superset_sources(bodies):
    smpl, smplh = bodies["smpl"], bodies["smplh"]
    for name in ("nose", "left_eye", "right_ear", "left_big_toe", "right_heel", "left_hand", "spine3"):
        assert name not in smpl.missing_superset
    # SMPL has no finger joints: the BlazePose knuckles are missing; SMPL-H has them.
    assert {"left_index", "left_pinky", "left_thumb", "head_top"} <= smpl.missing_superset
    assert not {"left_index", "left_pinky", "left_thumb"} & smplh.missing_superset
    assert {"thorax", "spine"} <= smpl.derived_superset
    assert "left_hand" in smplh.derived_superset and "left_hand" not in smpl.derived_superset
    # single-vertex picks come from smplx's table
    nose = get_layout("superset").index("nose")
    row = smpl.regressor_superset[nose]
    assert int(row.argmax()) == smplx.vertex_ids.vertex_ids["smplh"]["nose"] and float(row.sum()) == 1.0


def test_model_path_lookup(model_dir, tmp_path, write_synthetic_smpl):
    folder_file = find_model_file(model_dir, "smpl")
    assert folder_file == model_dir / "smpl" / "SMPL_NEUTRAL.pkl"
    assert find_model_file(model_dir, "smplh") == model_dir / "smplh" / "SMPLH_NEUTRAL.npz"
    assert find_model_file(model_dir / "smplh", "smplh", ext="npz") == model_dir / "smplh" / "SMPLH_NEUTRAL.npz"
    # a file path works whatever its name (the official SMPL file names are not SMPL_*.pkl)
    renamed = tmp_path / "basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl"
    renamed.write_bytes(folder_file.read_bytes())
    body = SMPLBody(renamed)
    assert body.model_file == renamed and body.num_joints == 24
    # the type folder itself, and an .npz SMPL file (smplx itself reads SMPL pickles only)
    body = SMPLBody(model_dir / "smpl", "smpl")
    assert body.model_file == folder_file
    with open(folder_file, "rb") as handle:
        data = pickle.load(handle)
    data["J_regressor"] = data["J_regressor"].toarray()
    np.savez(tmp_path / "SMPL_NEUTRAL.npz", **data)
    body_npz = SMPLBody(tmp_path, "smpl")
    assert body_npz.model_file.suffix == ".npz"
    torch.testing.assert_close(body_npz().vertices, body().vertices)


def test_a_file_of_another_model_type_is_a_clear_error(model_dir, tmp_path):
    smpl_file, smplh_file = model_dir / "smpl" / "SMPL_NEUTRAL.pkl", model_dir / "smplh" / "SMPLH_NEUTRAL.npz"
    for path, model_type in ((smpl_file, "smplh"), (smplh_file, "smplx"), (smplh_file, "smpl")):
        with pytest.raises(ValueError, match=rf"is model_type='{model_type}' right\?"):
            SMPLBody(path, model_type)
    np.savez(tmp_path / "junk.npz", nothing=np.zeros(3))
    with pytest.raises(ValueError, match="is not a SMPL model file"):
        SMPLBody(tmp_path / "junk.npz", "smpl")


def test_missing_file_raises_helpful_error(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        SMPLBody(tmp_path, "smpl")
    message = str(info.value)
    assert str(tmp_path / "smpl" / "SMPL_NEUTRAL.pkl") in message
    assert "https://smpl.is.tue.mpg.de" in message and "licence" in message
    with pytest.raises(FileNotFoundError, match="https://mano.is.tue.mpg.de") as info:
        SMPLBody(tmp_path, "smplh", gender="female")
    assert "SMPLH_FEMALE.pkl" in str(info.value) and "SMPLH_FEMALE.npz" in str(info.value)
    with pytest.raises(FileNotFoundError, match="https://smpl-x.is.tue.mpg.de") as info:
        SMPLBody(tmp_path / "models" / "SMPLX_MALE.npz", "smplx")
    assert "SMPLX_MALE.npz" in str(info.value)


def test_invalid_arguments_list_the_choices(model_dir):
    with pytest.raises(ValueError, match="choose one of: smpl, smplh, smplx"):
        SMPLBody(model_dir, "smpll")
    with pytest.raises(ValueError, match="choose one of: neutral, male, female"):
        SMPLBody(model_dir, "smpl", gender="child")
    with pytest.raises(ValueError, match="model_type='smplh'"):  # an SMPL-X file read as SMPL-H
        SMPLBody(model_dir / "smplx" / "SMPLX_NEUTRAL.npz", "smplh")


def test_missing_smplx_raises_import_error(model_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "smplx", None)  # makes `import smplx` fail
    with pytest.raises(ImportError, match=r"pip install 'pose2mesh\[smpl\]'"):
        SMPLBody(model_dir, "smpl")


def test_import_pose2mesh_does_not_import_smplx():
    code = "import pose2mesh, pose2mesh.body.smpl, sys; assert 'smplx' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_too_many_betas_are_capped_with_a_warning(model_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="pose2mesh.body.smpl"):
        body = SMPLBody(model_dir, "smpl", num_betas=16)
    assert body.num_betas == 10
    assert "num_betas=10 instead of 16" in caplog.text


def test_licensed_arrays_are_not_saved_in_state_dict(bodies):
    assert bodies["smpl"].state_dict() == {}
    assert bodies["smplh"].state_dict() == {}


# --------------------------------------------------------------------------- forward


@pytest.mark.parametrize("model_type", ["smpl", "smplh", "smplx"])
def test_output_shapes(bodies, model_type):
    body = bodies[model_type]
    out = body(**_random_inputs(body, batch=3))
    assert isinstance(out, BodyOutput)
    v, j = body.num_vertices, body.num_joints
    assert out.vertices.shape == (3, v, 3)
    assert out.joints.shape == out.rest_joints.shape == (3, j, 3)
    assert out.transforms.shape == (3, j, 3, 4)
    assert all(torch.isfinite(t).all() for t in vars(out).values())


@pytest.mark.parametrize("model_type", ["smpl", "smplh", "smplx"])
def test_zero_pose_and_shape_is_the_template(bodies, model_type):
    body = bodies[model_type]
    layer = body.layer
    out = body()
    assert out.vertices.shape[0] == 1
    torch.testing.assert_close(out.vertices[0], layer.v_template)
    expected = layer.J_regressor @ layer.v_template
    torch.testing.assert_close(out.joints[0], expected)
    torch.testing.assert_close(out.rest_joints[0], expected)
    identity = torch.eye(3, 4).expand(body.num_joints, 3, 4)
    torch.testing.assert_close(out.transforms[0], identity)


@pytest.mark.parametrize("model_type", ["smpl", "smplh", "smplx"])
def test_transforms_map_rest_joints_to_joints(bodies, model_type):
    body = bodies[model_type]
    out = body(**_random_inputs(body, batch=2, seed=1))
    rotation, translation = out.transforms[..., :3], out.transforms[..., 3]
    torch.testing.assert_close(torch.einsum("bjik,bjk->bji", rotation, out.rest_joints) + translation, out.joints)
    # with one-hot skinning (and the cluster's tiny pose blend shapes), each cluster moves rigidly
    weights = body.layer.lbs_weights
    owner = weights.argmax(1)
    v_shaped = body.layer.v_template + smplx.lbs.blend_shapes(
        _random_inputs(body, batch=2, seed=1)["betas"], body.layer.shapedirs
    )
    if model_type != "smplx":  # SMPL-X's shaped template also has expression offsets (zero here)
        rigid = torch.einsum("bvik,bvk->bvi", rotation[:, owner], v_shaped) + translation[:, owner]
        assert (rigid - out.vertices).abs().max() < 0.01  # pose blend shapes are ~1e-3


def test_matches_smplx_axis_angle_api(model_dir, bodies):
    """Same vertices and joints as smplx.create's classic model fed axis-angle."""
    body = bodies["smpl"]
    inputs = _random_inputs(body, batch=2, seed=2)
    reference = smplx.create(str(model_dir), "smpl", batch_size=2)
    with torch.no_grad():
        expected = reference(
            betas=inputs["betas"],
            body_pose=inputs["pose"].reshape(2, -1),
            global_orient=inputs["global_orient"],
            transl=inputs["transl"],
        )
        out = body(**inputs)
    torch.testing.assert_close(out.vertices, expected.vertices, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.joints, expected.joints[:, :24], atol=1e-5, rtol=1e-5)


def test_matrix_and_axis_angle_inputs_agree(bodies):
    body = bodies["smplh"]
    inputs = _random_inputs(body, batch=2, seed=3)
    hand = 0.3 * torch.randn(2, 15, 3, generator=torch.Generator().manual_seed(0))
    a = body(**inputs, left_hand_pose=hand)
    b = body(
        pose=roma.rotvec_to_rotmat(inputs["pose"]),
        betas=inputs["betas"],
        global_orient=roma.rotvec_to_rotmat(inputs["global_orient"]),
        transl=inputs["transl"],
        left_hand_pose=hand.reshape(2, 45),  # smplx's flat layout is accepted too
    )
    torch.testing.assert_close(a.vertices, b.vertices)


def test_transl_shifts_every_vertex_and_joint(bodies):
    body = bodies["smpl"]
    inputs = _random_inputs(body, batch=2, seed=4)
    shift = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.25, -3.0]])
    moved = body(**{**inputs, "transl": inputs["transl"] + shift})
    still = body(**inputs)
    torch.testing.assert_close(moved.vertices - still.vertices, shift[:, None].expand_as(still.vertices))
    torch.testing.assert_close(moved.joints - still.joints, shift[:, None].expand_as(still.joints))
    torch.testing.assert_close(moved.rest_joints, still.rest_joints)


def test_global_orient_rotates_about_the_root_joint(bodies):
    body = bodies["smpl"]
    rotation = roma.rotvec_to_rotmat(torch.tensor([0.3, -1.2, 0.7]))
    rest = body()
    turned = body(global_orient=rotation[None])
    root = rest.joints[:, :1]
    torch.testing.assert_close(turned.joints[:, 0], rest.joints[:, 0])  # root unchanged before transl
    torch.testing.assert_close(turned.vertices, (rest.vertices - root) @ rotation.T + root)
    transl = torch.tensor([0.1, 0.2, 0.3])
    moved = body(global_orient=rotation[None], transl=transl)
    torch.testing.assert_close(moved.joints[:, 0], rest.joints[:, 0] + transl)


def test_convention_frame_axes(bodies):
    """SMPL's frame: Y up, X to the body's left, Z forward; axis-angle by the right-hand rule."""
    body = bodies["smpl"]
    joints = body().joints[0]
    names = body.joint_names
    assert joints[names.index("left_hip"), 0] > 0 > joints[names.index("right_hip"), 0]
    assert joints[names.index("head"), 1] > joints[names.index("pelvis"), 1] > joints[names.index("left_ankle"), 1]
    nose = body.regress_keypoints(body().vertices, "coco")[0, 0]
    assert nose[2] > joints[names.index("head"), 2]  # the face looks towards +Z
    # +90 degrees about +Y turns the body's left (+X) towards -Z
    turned = body(global_orient=torch.tensor([0.0, math.pi / 2, 0.0])).joints[0]
    offset = turned[names.index("left_hip")] - turned[0]
    rest_offset = joints[names.index("left_hip")] - joints[0]
    torch.testing.assert_close(offset, torch.stack([rest_offset[2], rest_offset[1], -rest_offset[0]]))
    assert offset[2] < -0.05


def test_left_elbow_rotation_moves_only_the_left_forearm_and_hand(bodies):
    for model_type in ("smpl", "smplh"):
        body = bodies[model_type]
        elbow = body.joint_names.index("left_elbow")
        pose = torch.zeros(1, body.num_pose_joints, 3)
        pose[0, elbow - 1] = torch.tensor([0.0, 0.0, 1.0])  # pose has no root: joint j is row j - 1
        rest, bent = body(), body(pose=pose)
        moved_joints = _descendants(body.parents, elbow)
        assert {body.joint_names[j] for j in moved_joints} >= {"left_elbow", "left_wrist"}
        skinned = body.layer.lbs_weights[:, sorted(moved_joints)].sum(1) > 0
        displacement = (bent.vertices - rest.vertices)[0].norm(dim=-1)
        assert displacement[~skinned].max() == 0.0
        wrist = body.layer.lbs_weights[:, body.joint_names.index("left_wrist")] > 0
        assert displacement[wrist].min() > 0.1  # the hand swings by ~0.26 m x 1 rad
        torch.testing.assert_close(bent.joints[0, elbow], rest.joints[0, elbow])


def test_regress_smpl24_gives_the_skeleton_at_zero_pose(bodies):
    out = bodies["smpl"](betas=torch.randn(2, 10, generator=torch.Generator().manual_seed(5)))
    torch.testing.assert_close(bodies["smpl"].regress_keypoints(out.vertices, "smpl24"), out.joints)
    out = bodies["smplh"]()
    keypoints = bodies["smplh"].regress_keypoints(out.vertices, "smpl24")
    torch.testing.assert_close(keypoints[:, :22], out.joints[:, :22])
    # SMPL's hand joint on SMPL-H: the mean of the index and pinky knuckles (DERIVATIONS)
    names = bodies["smplh"].joint_names
    knuckles = out.joints[:, [names.index("left_index1"), names.index("left_pinky1")]].mean(1)
    torch.testing.assert_close(keypoints[:, 22], knuckles)


@pytest.mark.parametrize("model_type", ["smpl", "smplh", "smplx"])
def test_regress_coco(bodies, model_type):
    body = bodies[model_type]
    out = body(**_random_inputs(body, batch=2, seed=6))
    coco = body.regress_keypoints(out.vertices, "coco")
    assert coco.shape == (2, 17, 3)
    assert not set(get_layout("coco").names) & body.missing_superset  # the body has every COCO point
    assert torch.isfinite(coco).all() and (coco.abs().sum(-1) > 0).all()
    rest = body.regress_keypoints(body().vertices, "coco")[0]
    names = get_layout("coco").names
    assert rest[names.index("left_eye"), 0] > rest[names.index("right_eye"), 0]
    assert rest[names.index("nose"), 1] > rest[names.index("left_shoulder"), 1]


def test_smplh_hand_pose_moves_only_the_hand(bodies):
    body = bodies["smplh"]
    hand = torch.zeros(15, 3)
    hand[0] = torch.tensor([0.0, 0.0, 0.8])  # left_index1
    rest, posed = body(), body(left_hand_pose=hand)
    index1 = body.joint_names.index("left_index1")
    moved = body.layer.lbs_weights[:, sorted(_descendants(body.parents, index1))].sum(1) > 0
    displacement = (posed.vertices - rest.vertices)[0].norm(dim=-1)
    assert displacement[~moved].max() == 0.0 and displacement[moved].max() > 0.01


def test_smplx_face_inputs(bodies):
    body = bodies["smplx"]
    # the expression moves head vertices, hence the head joint and the jaw / eyes hanging from it
    head = body.layer.lbs_weights[:, sorted(_descendants(body.parents, body.joint_names.index("head")))].sum(1) > 0
    rest = body()
    expressive = body(expression=torch.ones(1, 5))  # fewer than 10 coefficients: padded with zeros
    changed = (expressive.vertices - rest.vertices)[0].norm(dim=-1) > 0
    assert changed.any() and not changed[~head].any()
    jaw = body.joint_names.index("jaw")
    opened = body(jaw_pose=torch.tensor([[0.4, 0.0, 0.0]]), leye_pose=torch.eye(3)[None], reye_pose=None)
    on_jaw = body.layer.lbs_weights[:, jaw] > 0
    moved = (opened.vertices - rest.vertices)[0].norm(dim=-1) > 0
    assert moved[on_jaw].all() and not moved[~on_jaw].any()
    torch.testing.assert_close(
        torch.einsum("bjik,bjk->bji", expressive.transforms[..., :3], expressive.rest_joints)
        + expressive.transforms[..., 3],
        expressive.joints,
    )


def test_batch_broadcasting(bodies):
    body = bodies["smplh"]
    single = body(pose=torch.zeros(21, 3))  # unbatched pose
    assert single.vertices.shape[0] == 1
    out = body(global_orient=torch.eye(3)[None], pose=torch.zeros(1, 21, 3))  # (1, 3, 3) = one matrix
    assert out.vertices.shape[0] == 1
    assert body(global_orient=torch.eye(3)).vertices.shape[0] == 1  # (3, 3) rotation: one matrix
    rotvecs = 0.5 * torch.randn(3, 3, generator=torch.Generator().manual_seed(0))  # (B, 3) with B = 3
    three = body(global_orient=rotvecs)
    looped = torch.cat([body(global_orient=rotvecs[i:i + 1]).vertices for i in range(3)])
    torch.testing.assert_close(three.vertices, looped)
    out = body(transl=torch.zeros(4, 3), pose=torch.zeros(1, 21, 3))
    assert out.vertices.shape[0] == 4
    out = body(right_hand_pose=torch.zeros(5, 15, 3))  # a hand input alone sets the batch
    assert out.vertices.shape[0] == 5 and out.transforms.shape[0] == 5
    with pytest.raises(ValueError, match="inconsistent batch sizes"):
        body(transl=torch.zeros(4, 3), left_hand_pose=torch.zeros(3, 15, 3))


def test_wrong_inputs_raise(bodies):
    smpl, smplh = bodies["smpl"], bodies["smplh"]
    with pytest.raises(ValueError, match=r"pose must have shape \(B, 23, 3\)"):
        smpl(pose=torch.zeros(2, 21, 3))
    with pytest.raises(ValueError, match="pose"):
        smpl(pose=torch.zeros(2, 23, 4))
    with pytest.raises(ValueError, match="betas"):
        smpl(betas=torch.zeros(2, 11))
    with pytest.raises(ValueError, match="left_hand_pose"):
        smplh(left_hand_pose=torch.zeros(2, 14, 3))
    with pytest.raises(TypeError, match="left_hand_pose.*'smpl'; accepted: none"):
        smpl(left_hand_pose=torch.zeros(1, 15, 3))
    with pytest.raises(TypeError, match="jaw_pose.*accepted: left_hand_pose, right_hand_pose"):
        smplh(jaw_pose=torch.zeros(1, 3))
    with pytest.raises(ValueError, match="expression"):
        bodies["smplx"](expression=torch.zeros(1, 11))


# --------------------------------------------------------------------------- autograd, dtype, device


def test_gradients_flow_to_pose_and_betas(bodies):
    body = bodies["smplh"]
    inputs = {k: v.requires_grad_() for k, v in _random_inputs(body, batch=2, seed=7).items()}
    hand = torch.zeros(2, 15, 3, requires_grad=True)
    out = body(**inputs, left_hand_pose=hand)
    loss = out.vertices.square().sum() + out.joints.sum() + out.transforms.sum()
    loss.backward()
    for name, tensor in [*inputs.items(), ("left_hand_pose", hand)]:
        assert tensor.grad is not None and torch.isfinite(tensor.grad).all(), name
        assert tensor.grad.abs().sum() > 0, name


def test_gradcheck_float64(model_dir):
    body = SMPLBody(model_dir, "smpl", dtype=torch.float64)
    g = torch.Generator().manual_seed(8)
    weights = torch.randn(body.num_vertices, 3, generator=g, dtype=torch.float64)
    pose = 0.3 * torch.randn(1, 23, 3, generator=g, dtype=torch.float64)
    betas = torch.randn(1, 10, generator=g, dtype=torch.float64)

    def energy(pose, betas):
        return (body(pose=pose, betas=betas).vertices * weights).sum()

    assert torch.autograd.gradcheck(energy, (pose.requires_grad_(), betas.requires_grad_()), fast_mode=True)


@pytest.mark.parametrize("device", DEVICES)
def test_dtype_and_device(model_dir, device):
    body = SMPLBody(model_dir, "smplh", device=device)
    assert body.regressor_superset.device.type == device and body.layer.v_template.device.type == device
    out32 = body(**{k: v.to(device) for k, v in _random_inputs(body, batch=2).items()})
    assert out32.vertices.dtype == torch.float32 and out32.vertices.device.type == device
    body = body.to(torch.float64)
    assert body.layer.shapedirs.dtype == body.regressor_superset.dtype == torch.float64
    assert body.faces.dtype == torch.int64
    out64 = body(**_random_inputs(body, batch=2))  # CPU float32 inputs are cast and moved
    for value in vars(out64).values():
        assert value.dtype == torch.float64 and value.device.type == device
    torch.testing.assert_close(out64.vertices.float(), out32.vertices, atol=1e-5, rtol=1e-5)
    keypoints = body.regress_keypoints(out64.vertices, "h36m")
    assert keypoints.dtype == torch.float64 and keypoints.shape == (2, 17, 3)


# --------------------------------------------------------------------------- the synthetic files


def test_synthetic_files_are_deterministic(tmp_path, write_synthetic_smpl):
    a = write_synthetic_smpl(tmp_path / "a", "smplh", seed=3)
    b = write_synthetic_smpl(tmp_path / "b", "smplh", seed=3)
    assert a.name == b.name == "SMPLH_NEUTRAL.npz" and a.parent.name == "smplh"
    with np.load(a) as x, np.load(b) as y:
        assert sorted(x.files) == sorted(y.files)
        for key in x.files:
            np.testing.assert_array_equal(x[key], y[key])
        assert x["posedirs"].shape == (6890, 3, 9 * 51) and x["kintree_table"].shape == (2, 52)
    female = write_synthetic_smpl(tmp_path, "smpl", gender="female")
    assert female == tmp_path / "smpl" / "SMPL_FEMALE.pkl"
    assert SMPLBody(tmp_path, "smpl", gender="female").gender == "female"
