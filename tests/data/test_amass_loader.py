"""AMASS loader (pose2mesh.data.amass): reading, validation, resampling, Z-up -> Y-up.

Uses a synthetic AMASS sequence and the synthetic SMPL-H model of
``tests/body/smpl_fixture.py`` (no licensed data); skipped without smplx.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import roma
import torch

from pose2mesh.data.amass import AMASS_TO_YUP, AmassBodyMotion, AmassMotion, load_amass, read_amass
from pose2mesh.data.retarget import BodyMotion

pytest.importorskip("smplx", reason="needs the 'smpl' extra (smplx)")


def _smpl_fixture():
    """``tests/body/smpl_fixture.py`` as a module (tests/body is not on sys.path from here)."""
    spec = importlib.util.spec_from_file_location(
        "_amass_smpl_fixture", Path(__file__).resolve().parents[1] / "body" / "smpl_fixture.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("amass_models")
    fixture = _smpl_fixture()
    fixture.write_synthetic_smpl(folder, "smplh", "neutral", num_betas=10)
    fixture.write_synthetic_smpl(folder, "smpl", "neutral", num_betas=10)
    return folder


@pytest.fixture(scope="module")
def body(model_dir):
    from pose2mesh.body.smpl import SMPLBody

    return SMPLBody(model_dir, model_type="smplh", gender="neutral", num_betas=10, dtype=torch.float64)


def _amass_arrays(frames: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    """A synthetic AMASS sequence: small random rotations, a drifting Z-up root, 16 betas."""
    rng = np.random.default_rng(seed)
    poses = 0.3 * rng.standard_normal((frames, 156))
    poses[:, :3] += (1.2, 0.3, -0.5)  # a clear root rotation so the pelvis offset matters
    trans = np.array([0.4, -0.2, 0.9]) + 0.02 * np.arange(frames)[:, None] * rng.standard_normal(3)
    return {
        "poses": poses,
        "trans": trans,
        "betas": 0.5 * rng.standard_normal(16),
        "mocap_framerate": np.array(60.0),
        "gender": np.array("neutral"),
        "dmpls": np.zeros((frames, 8)),  # present in AMASS files, ignored
    }


def _write(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.fixture
def amass_file(tmp_path) -> Path:
    return _write(tmp_path / "seq_poses.npz", _amass_arrays())


def _rotmats(rotvecs) -> torch.Tensor:
    return roma.rotvec_to_rotmat(torch.as_tensor(np.asarray(rotvecs), dtype=torch.float64))


# ---- reading ---------------------------------------------------------------------------------


def test_read_shapes_and_values(amass_file):
    motion = read_amass(amass_file)
    raw = _amass_arrays()
    assert isinstance(motion, AmassMotion) and len(motion) == motion.num_frames == 6
    assert motion.poses.shape == (6, 52, 3) and motion.poses.dtype == np.float64
    assert motion.betas.shape == (16,) and motion.trans.shape == (6, 3)
    assert motion.fps == 60.0 and motion.gender == "neutral" and motion.source == str(amass_file)
    np.testing.assert_array_equal(motion.poses.reshape(6, 156), raw["poses"])
    np.testing.assert_array_equal(motion.trans, raw["trans"])


def test_read_accepts_bytes_gender_and_alternative_framerate_key(tmp_path):
    arrays = _amass_arrays()
    arrays["gender"] = np.array(b"Female")
    arrays["mocap_frame_rate"] = arrays.pop("mocap_framerate")
    motion = read_amass(_write(tmp_path / "bytes.npz", arrays))
    assert motion.gender == "female" and motion.fps == 60.0


def test_missing_file_raises_file_not_found(tmp_path):
    path = tmp_path / "nope" / "missing_poses.npz"
    with pytest.raises(FileNotFoundError, match="missing_poses.npz") as info:
        read_amass(path)
    assert "amass.is.tue.mpg.de" in str(info.value)


def _drop(key):
    def edit(arrays):
        del arrays[key]

    return edit


def _set(key, value):
    def edit(arrays):
        arrays[key] = value(arrays) if callable(value) else value

    return edit


def _poison(key, value):
    def edit(arrays):
        arrays[key] = arrays[key].copy()
        arrays[key].reshape(-1)[3] = value

    return edit


@pytest.mark.parametrize(
    "edit, key",
    [
        (_drop("poses"), "poses"),
        (_set("poses", lambda a: a["poses"][:, :150]), "poses"),
        (_set("poses", lambda a: a["poses"][0]), "poses"),
        (_set("poses", np.array([["a"] * 156] * 6)), "poses"),
        (_poison("poses", np.nan), "poses"),
        (_poison("poses", np.inf), "poses"),
        (_drop("trans"), "trans"),
        (_set("trans", lambda a: a["trans"][:5]), "trans"),
        (_poison("trans", -np.inf), "trans"),
        (_drop("betas"), "betas"),
        (_set("betas", np.zeros((2, 16))), "betas"),
        (_poison("betas", np.nan), "betas"),
        (_drop("mocap_framerate"), "mocap_framerate"),
        (_set("mocap_framerate", np.array(0.0)), "mocap_framerate"),
        (_set("mocap_framerate", np.array([60.0, 30.0])), "mocap_framerate"),
        (_drop("gender"), "gender"),
        (_set("gender", np.array("robot")), "gender"),
    ],
)
def test_malformed_file_raises_value_error_naming_file_and_key(tmp_path, edit, key):
    arrays = _amass_arrays()
    edit(arrays)
    path = _write(tmp_path / "broken_seq.npz", arrays)
    with pytest.raises(ValueError) as info:
        read_amass(path)
    message = str(info.value)
    assert str(path) in message and f"'{key}'" in message, message


def test_shape_file_and_smplx_fit_get_hints(tmp_path):
    shape_file = _write(tmp_path / "shape.npz", {"betas": np.zeros(16), "gender": np.array("male")})
    with pytest.raises(ValueError, match="shape.npz"):
        read_amass(shape_file)
    arrays = _amass_arrays()
    arrays["poses"] = np.zeros((6, 165))
    with pytest.raises(ValueError, match="SMPL-X"):
        read_amass(_write(tmp_path / "smplx_fit.npz", arrays))


def test_not_an_npz_raises_value_error(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("not a zip archive")
    with pytest.raises(ValueError, match="text.npz"):
        read_amass(path)


def test_corrupt_member_raises_value_error_naming_file_and_key(tmp_path):
    path = _write(tmp_path / "crc.npz", _amass_arrays())
    raw = bytearray(path.read_bytes())
    at = raw.find(b"poses.npy") + 200  # inside the stored member's data: its CRC-32 no longer matches
    raw[at : at + 50] = b"\x07" * 50
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"AMASS file '.*crc\.npz': cannot read 'poses', the archive is corrupt"):
        read_amass(path)


# ---- resampling ------------------------------------------------------------------------------


def test_resample_60_to_30_halves_frames_and_keeps_endpoints(tmp_path, amass_file):
    motion = read_amass(amass_file)
    half = motion.resample(30)
    assert half.fps == 30.0 and len(half) == 3 and half.betas is motion.betas
    # Frames at t = 0, 1/30, 2/30 s are source frames 0, 2, 4 (first endpoint kept).
    torch.testing.assert_close(_rotmats(half.poses), _rotmats(motion.poses[::2]), atol=1e-12, rtol=0)
    np.testing.assert_allclose(half.trans, motion.trans[::2], atol=1e-12)
    # With an odd frame count the duration is a multiple of 1/30 s: both endpoints kept.
    odd = read_amass(_write(tmp_path / "odd.npz", _amass_arrays(frames=7))).resample(30)
    source = read_amass(tmp_path / "odd.npz")
    assert len(odd) == 4
    torch.testing.assert_close(_rotmats(odd.poses[[0, -1]]), _rotmats(source.poses[[0, -1]]), atol=1e-12, rtol=0)
    np.testing.assert_allclose(odd.trans[[0, -1]], source.trans[[0, -1]], atol=1e-12)


def test_resample_interpolates_with_slerp(tmp_path):
    motion = read_amass(_write(tmp_path / "seq.npz", _amass_arrays(frames=7)))
    out = motion.resample(40)  # source frames 0, 1.5, 3, 4.5, 6
    assert len(out) == 5 and out.fps == 40.0
    q = roma.rotvec_to_unitquat(torch.as_tensor(motion.poses))
    expected = roma.unitquat_to_rotmat(roma.unitquat_slerp(q[1], q[2], torch.tensor([0.5], dtype=torch.float64))[0])
    torch.testing.assert_close(_rotmats(out.poses[1]), expected, atol=1e-10, rtol=0)
    np.testing.assert_allclose(out.trans[1], 0.5 * (motion.trans[1] + motion.trans[2]), atol=1e-12)
    assert motion.resample(60).poses is motion.poses  # same rate: unchanged
    with pytest.raises(ValueError, match="fps"):
        motion.resample(0)


# ---- conversion to a body --------------------------------------------------------------------


def test_convention_zup_to_yup_maps_z_to_y():
    change = AMASS_TO_YUP
    np.testing.assert_allclose(change @ [0, 0, 1], [0, 1, 0])  # AMASS up -> our up
    np.testing.assert_allclose(change @ [0, 1, 0], [0, 0, -1])
    np.testing.assert_allclose(change @ [1, 0, 0], [1, 0, 0])
    np.testing.assert_allclose(change, roma.rotvec_to_rotmat(torch.tensor([-np.pi / 2, 0.0, 0.0])).numpy(), atol=1e-7)


def test_to_body_motion_shapes(amass_file, body):
    out = read_amass(amass_file).to_body_motion(body)
    assert isinstance(out, AmassBodyMotion) and isinstance(out, BodyMotion) and len(out) == 6
    assert out.pose.shape == (6, 21, 3, 3) and out.global_orient.shape == (6, 3, 3) and out.transl.shape == (6, 3)
    assert out.betas.shape == (1, 10)  # the synthetic model has 10 shape components: AMASS's 16 truncated
    assert out.left_hand_pose.shape == out.right_hand_pose.shape == (6, 15, 3, 3)
    assert out.pose.dtype == torch.float64 and out.fps == 60.0 and out.source == str(amass_file)
    np.testing.assert_allclose(out.betas[0].numpy(), _amass_arrays()["betas"][:10])


def _posed_zup(motion: AmassMotion, body) -> torch.Tensor:
    """Vertices of the raw (Z-up) AMASS parameters, posed by SMPLBody without any conversion."""
    poses = torch.as_tensor(motion.poses)
    return body(
        pose=poses[:, 1:22],
        betas=torch.as_tensor(motion.betas[:10])[None],
        global_orient=poses[:, 0],
        transl=torch.as_tensor(motion.trans),
        left_hand_pose=poses[:, 22:37],
        right_hand_pose=poses[:, 37:52],
    )


def test_yup_conversion_equals_rotated_zup_mesh(amass_file, body):
    motion = read_amass(amass_file)
    reference = _posed_zup(motion, body)
    change = torch.as_tensor(AMASS_TO_YUP)
    converted = body(**motion.to_body_motion(body).body_inputs())
    torch.testing.assert_close(converted.vertices, reference.vertices @ change.T, atol=1e-5, rtol=0)
    torch.testing.assert_close(converted.joints, reference.joints @ change.T, atol=1e-5, rtol=0)
    # The pelvis correction matters: rotating trans alone misplaces the body.
    naive = body(
        **{**motion.to_body_motion(body).body_inputs(), "transl": torch.as_tensor(motion.trans) @ change.T}
    )
    assert (naive.vertices - reference.vertices @ change.T).norm(dim=-1).max() > 1e-2


def test_upright_amass_root_becomes_identity(tmp_path, body):
    """A body standing upright in AMASS (root = +90 deg about X, head towards +Z) stands along +Y."""
    arrays = _amass_arrays()
    arrays["poses"][:, :3] = (np.pi / 2, 0.0, 0.0)
    motion = read_amass(_write(tmp_path / "upright.npz", arrays))
    head = body.joint_names.index("head")
    raw = _posed_zup(motion, body).joints
    assert (raw[:, head, 2] - raw[:, 0, 2] > 0.3).all()  # Z up in the file
    out = motion.to_body_motion(body)
    torch.testing.assert_close(out.global_orient, torch.eye(3, dtype=torch.float64).expand(6, 3, 3))
    joints = body(**out.body_inputs()).joints
    assert (joints[:, head, 1] - joints[:, 0, 1] > 0.3).all()  # Y up here


def test_zup_option_keeps_file_parameters(amass_file, body):
    motion = read_amass(amass_file)
    out = motion.to_body_motion(body, y_up=False)
    torch.testing.assert_close(out.global_orient, _rotmats(motion.poses[:, 0]))
    torch.testing.assert_close(out.transl, torch.as_tensor(motion.trans))
    torch.testing.assert_close(body(**out.body_inputs()).vertices, _posed_zup(motion, body).vertices)


def test_smpl_body_gets_identity_hand_joints(amass_file, model_dir):
    from pose2mesh.body.smpl import SMPLBody

    smpl = SMPLBody(model_dir, model_type="smpl", dtype=torch.float64)
    out = read_amass(amass_file).to_body_motion(smpl)
    assert out.pose.shape == (6, 23, 3, 3) and out.left_hand_pose is None and out.right_hand_pose is None
    torch.testing.assert_close(out.pose[:, 21:], torch.eye(3, dtype=torch.float64).expand(6, 2, 3, 3))
    assert smpl(**out.body_inputs()).vertices.shape == (6, 6890, 3)


def test_non_smpl_body_is_rejected(amass_file):
    with pytest.raises(ValueError, match="SMPL"):
        read_amass(amass_file).to_body_motion(torch.nn.Identity())


def test_load_amass_resamples_and_converts(amass_file, body):
    out = load_amass(amass_file, body, fps=30)
    assert len(out) == 3 and out.fps == 30.0 and out.pose.shape == (3, 21, 3, 3)
    full = read_amass(amass_file).to_body_motion(body)
    torch.testing.assert_close(out.global_orient, full.global_orient[::2])
    torch.testing.assert_close(out.transl, full.transl[::2])
    assert len(load_amass(amass_file, body, fps=None)) == 6
