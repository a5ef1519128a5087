"""Motion: resampling, T-pose drop, the .npz cache and load_motion's parse-once behaviour."""
import numpy as np
import pytest

import pose2mesh.data.bvh as bvh_module
from pose2mesh.data import Motion, load_motion, read_bvh
from pose2mesh.data.motion import known_skeleton_names, resolve_skeleton


def spinning(T=5, fps=120.0):
    """One root joint + child turning 10 deg/frame about Y, root moving 1 m/frame along X."""
    ang = np.radians(10.0 * np.arange(T))
    c, s = np.cos(ang), np.sin(ang)
    R = np.zeros((T, 2, 3, 3))
    R[:, 0] = np.stack([np.stack([c, 0 * c, s], -1), np.tile([0, 1, 0], (T, 1)),
                        np.stack([-s, 0 * c, c], -1)], 1)
    R[:, 1] = np.eye(3)
    root = np.stack([np.arange(T, dtype=float), np.zeros(T), np.zeros(T)], -1)
    return Motion(("root", "child"), (-1, 0), [[0, 0, 0], [0, 0, 1]], R, root, fps, "synthetic", "unknown")


def test_resample_halves_frames_and_keeps_endpoints():
    m = spinning(T=5)
    h = m.resample(60.0)
    assert h.num_frames == 3 and h.fps == 60.0
    np.testing.assert_allclose(h.rotations[[0, -1]], m.rotations[[0, -1]], atol=1e-6)
    np.testing.assert_allclose(h.root_positions[[0, -1]], m.root_positions[[0, -1]], atol=1e-6)
    np.testing.assert_allclose(h.rotations[1], m.rotations[2], atol=1e-6)


def test_resample_slerps_midway():
    d = spinning(T=2).resample(240.0)  # 0 and 10 deg -> 0, 5, 10 deg
    assert d.num_frames == 3
    np.testing.assert_allclose(np.degrees(np.arctan2(d.rotations[1, 0, 0, 2], d.rotations[1, 0, 0, 0])), 5.0,
                               atol=1e-4)
    np.testing.assert_allclose(d.root_positions[1], [0.5, 0, 0], atol=1e-6)


def test_drop_first_frame():
    m = spinning(T=5).drop_first_frame()
    assert m.num_frames == 4
    np.testing.assert_allclose(m.root_positions[0], [1, 0, 0])


def test_save_load_round_trip(tmp_path):
    m = spinning(T=7)
    m.save(tmp_path / "m.npz")
    back = Motion.load(tmp_path / "m.npz")
    assert back.joint_names == m.joint_names and back.parents == m.parents
    assert back.fps == m.fps and back.source == m.source and back.skeleton == m.skeleton
    assert back.rotations.dtype == np.float32
    np.testing.assert_allclose(back.rotations, m.rotations, atol=1e-6)
    np.testing.assert_array_equal(back.root_positions, m.root_positions)
    np.testing.assert_array_equal(back.offsets, m.offsets)
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:  # no object arrays, no float16
        assert z["quaternions_xyzw"].dtype == np.float32


def test_invalid_shapes_raise():
    with pytest.raises(ValueError, match="parents"):
        Motion(("a", "b"), (0, 0), np.zeros((2, 3)), np.zeros((1, 2, 3, 3)), np.zeros((1, 3)), 30.0)
    with pytest.raises(ValueError, match="rotations"):
        Motion(("a",), (-1,), np.zeros((1, 3)), np.zeros((2, 2, 3, 3)), np.zeros((2, 3)), 30.0)


TINY = """HIERARCHY
ROOT A
{
 OFFSET 0 0 0
 CHANNELS 4 Xposition Yposition Zposition Yrotation
 JOINT B
 {
  OFFSET 0 0 1
  CHANNELS 1 Yrotation
  End Site
  {
   OFFSET 0 0 1
  }
 }
}
MOTION
Frames: 5
Frame Time: 0.0083333333
0 0 0 0 0
1 0 0 10 0
2 0 0 20 0
3 0 0 30 0
4 0 0 40 0
"""


def test_load_motion_parses_once_then_hits_cache(tmp_path, monkeypatch):
    p = tmp_path / "clip.bvh"
    p.write_text(TINY)
    cache = tmp_path / "cache"
    first = load_motion(p, cache_dir=cache, fps=60, scale=1.0)
    assert first.num_frames == 3 and len(list(cache.glob("*.npz"))) == 1

    def boom(*a, **k):
        raise AssertionError("text parsed again despite the cache")

    monkeypatch.setattr(bvh_module, "read_bvh", boom)
    again = load_motion(p, cache_dir=cache, fps=60, scale=1.0)
    np.testing.assert_allclose(again.rotations, first.rotations, atol=1e-6)
    np.testing.assert_allclose(again.global_positions(), first.global_positions(), atol=1e-6)
    # Another fps is another key -> parse again (here: the monkeypatched reader).
    with pytest.raises(AssertionError, match="parsed again"):
        load_motion(p, cache_dir=cache, fps=30, scale=1.0)
    monkeypatch.undo()
    # Editing the file changes its sha256 -> a new entry.
    p.write_text(TINY.replace("4 0 0 40 0", "4 0 0 41 0"))
    load_motion(p, cache_dir=cache, fps=60, scale=1.0)
    assert len(list(cache.glob("*.npz"))) == 2


def test_cache_round_trip_equals_parsed(tmp_path):
    p = tmp_path / "clip.bvh"
    p.write_text(TINY)
    parsed = read_bvh(p, scale=1.0)
    cached = load_motion(p, cache_dir=tmp_path / "c", fps=None, drop_tpose=False, scale=1.0)
    cached = load_motion(p, cache_dir=tmp_path / "c", fps=None, drop_tpose=False, scale=1.0)
    np.testing.assert_allclose(cached.rotations, parsed.rotations, atol=1e-6)
    np.testing.assert_array_equal(cached.root_positions, parsed.root_positions)
    assert cached.joint_names == parsed.joint_names and cached.fps == pytest.approx(parsed.fps)


def test_skeleton_resolver_lists_choices():
    assert "cmu_mb2_31joint" in known_skeleton_names()
    with pytest.raises(ValueError, match="known skeletons: cmu_mb2_31joint"):
        resolve_skeleton(["a", "b"])


def test_import_is_light():
    import subprocess
    import sys
    code = ("import sys, pose2mesh.data; "
            "bad = [m for m in ('anny', 'smplx', 'warp') if m in sys.modules]; "
            "assert not bad, bad; print(sorted(pose2mesh.data.__all__))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    names = eval(out.strip())  # the printed list
    for name in ("Motion", "read_bvh", "read_asf", "read_amc", "load_motion", "BVHError", "SyntheticBatches",
                 "make_test_set", "PosePrior", "CameraSampler", "Keypoints2D", "read_amass", "Retargeter"):
        assert name in names


def test_resample_with_a_rounded_frame_time_is_pinned():
    """CMU's rounded 'Frame Time: .0083333' drops the last frame of some clips, documented and kept:
    the shipped pose prior and the evaluation test sets rebuild exactly only with this rule."""
    assert spinning(T=275, fps=120.0).resample(60.0).num_frames == 138  # exact rate: the last frame is kept
    assert spinning(T=275, fps=1.0 / 0.0083333).resample(60.0).num_frames == 137  # 08_10.bvh.gz


def test_resample_adds_no_frame_past_the_clip_end():
    assert spinning(T=276, fps=120.0).resample(60.0).num_frames == 138  # 137.5 new frames long
    assert spinning(T=4001, fps=119.0).resample(30.0).num_frames == 1009  # end at 1008.40 new frames


def test_skeleton_resolver_says_when_names_match_but_the_height_does_not():
    from pose2mesh.data.motion import _DAZ_JOINTS
    parents = [-1] + [0] * (len(_DAZ_JOINTS) - 1)
    offsets = np.zeros((len(_DAZ_JOINTS), 3))
    offsets[1, 1] = 170_000.0  # a Daz rest pose in units of 1e-5 m: 1700 m or 2.2e5 m tall
    with pytest.raises(ValueError) as e:
        resolve_skeleton(_DAZ_JOINTS, parents, offsets)
    msg = str(e.value)
    assert msg.startswith("the joint names match cmu_daz_43joint, cmu_daz_43joint_scaled, but the rest height is "
                          "implausible (1.7e+03 m as cmu_daz_43joint, 2.18e+05 m as cmu_daz_43joint_scaled; "
                          "expected 0.5-2.5 m)")
    assert "read_bvh(..., scale=...)" in msg
    offsets[1, 1] = 170.0  # 1.7 m in centimetres
    assert resolve_skeleton(_DAZ_JOINTS, parents, offsets).name == "cmu_daz_43joint"


@pytest.mark.parametrize("scale", [0, -1.0, float("nan"), True, "0.01"])
def test_load_motion_rejects_a_bad_scale(tmp_path, scale):
    p = tmp_path / "clip.bvh"
    p.write_text(TINY)
    with pytest.raises(ValueError, match="scale .* must be a finite number > 0"):
        load_motion(p, cache_dir=tmp_path / "cache", scale=scale)
    assert not (tmp_path / "cache").exists()
