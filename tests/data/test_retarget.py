"""Retargeting motion onto the open body's rig (pose2mesh.data.retarget)."""
from pathlib import Path

import numpy as np
import pytest
import roma
import torch

from pose2mesh.body import load_body
from pose2mesh.data.motion import Motion
from pose2mesh.data.retarget import JOINT_MAPS, Retargeter, bone_direction_errors

MOCAP = Path(__file__).resolve().parents[2].parent / "shared" / "mocap"


@pytest.fixture(scope="module")
def body():
    return load_body("default", dtype=torch.float64)


def _mb2_motion(body, frames=5, seed=0, arms_out=False):
    """A synthetic motion on a CMU mb2-named skeleton with the body's own rest offsets."""
    names = [JOINT_MAPS["cmu_mb2_31joint"][n] for n in body.joint_names]
    rest = body().rest_joints[0].numpy()
    offsets = rest - rest[[max(p, 0) for p in body.parents]]
    if arms_out:  # a T-pose rest: the arms horizontal instead of anny's A-pose
        for side, sign in (("Left", 1.0), ("Right", -1.0)):
            for joint in (f"{side}ForeArm", f"{side}Hand"):
                j = body.joint_names.index(joint)
                offsets[j] = [sign * np.linalg.norm(offsets[j]), 0.0, 0.0]
    gen = torch.Generator().manual_seed(seed)
    rot = roma.rotvec_to_rotmat(torch.randn(frames, len(names), 3, generator=gen, dtype=torch.float64) * 0.3).numpy()
    root = np.cumsum(np.full((frames, 3), 0.01), 0) + rest[0]
    return Motion(names, body.parents, offsets, rot, root, fps=30.0, source="synthetic", skeleton="cmu_mb2_31joint")


def test_same_rest_reproduces_source_rotations(body):
    motion = _mb2_motion(body)
    out = Retargeter.for_body(body)(motion)
    assert out.pose.shape == (5, 30, 3, 3) and out.global_orient.shape == (5, 3, 3) and out.transl.shape == (5, 3)
    assert torch.allclose(out.pose.double(), torch.from_numpy(motion.rotations[:, 1:]).double(), atol=1e-5)
    posed = body(pose=out.pose, global_orient=out.global_orient, transl=out.transl)
    assert np.allclose(posed.joints.numpy(), motion.global_positions(), atol=1e-4)


def test_t_pose_source_bones_point_where_the_source_points(body):
    motion = _mb2_motion(body, arms_out=True)
    out = Retargeter.for_body(body)(motion)
    posed = body(pose=out.pose, global_orient=out.global_orient, transl=out.transl)
    err = bone_direction_errors(motion, posed.joints.numpy(), body.joint_names)
    assert err.shape[1] == 16 and err.max() < 0.01  # degrees
    # the forearms differ from the source rotations: the rest poses differ
    elbow = body.joint_names.index("LeftForeArm") - 1
    assert not torch.allclose(out.pose[:, elbow].double(), torch.from_numpy(motion.rotations[:, elbow + 1]).double(), atol=1e-2)


def test_unknown_skeleton_is_refused(body):
    motion = _mb2_motion(body).replace(skeleton="mystery")
    with pytest.raises(ValueError, match="no joint map for skeleton 'mystery'.*known: cmu_3dsmax"):
        Retargeter.for_body(body)(motion)


@pytest.mark.skipif(not MOCAP.is_dir(), reason="../shared/mocap is absent")
@pytest.mark.parametrize("relpath", ["01_01.bvh.gz", "extra_daz_skeleton/13_11.bvh.gz", "more/16_01.amc.gz"])
def test_shared_motion_retargets_within_5_degrees(body, relpath, tmp_path):
    from pose2mesh.data import load_motion

    motion = load_motion(MOCAP / relpath, cache_dir=tmp_path, fps=10)
    out = Retargeter.for_body(body)(motion)
    posed = body(pose=out.pose, global_orient=out.global_orient, transl=out.transl)
    err = bone_direction_errors(motion, posed.joints.numpy(), body.joint_names)
    assert err.mean() <= 5.0
    lowest = posed.vertices[..., 1].min(-1).values
    assert lowest.abs().median() < 0.1  # feet near the floor (y = 0) after root scaling
