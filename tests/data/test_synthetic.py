"""Synthetic batches, the pose prior and make_test_set (pose2mesh.data)."""
from pathlib import Path

import numpy as np
import pytest
import roma
import torch

from pose2mesh.body import load_body
from pose2mesh.data import PosePrior, SyntheticBatches, SyntheticConfig, make_test_set
from pose2mesh.data.camera import project_points
from pose2mesh.data.motion import CMU_UNIT_M
from pose2mesh.data.poses import flip_permutation, remove_heading
from pose2mesh.data.retarget import JOINT_MAPS
from pose2mesh.joints import get_layout

MOCAP = Path(__file__).resolve().parents[2].parent / "shared" / "mocap"


@pytest.fixture(scope="module")
def body():
    return load_body("default")


@pytest.fixture(scope="module")
def prior():
    return PosePrior.load()


def test_prior_shapes_and_rig(body, prior):
    assert prior.joint_names == body.joint_names
    assert len(prior) > 1000 and prior.pose.shape[1:] == (30, 3, 3)
    assert "06" not in prior.meta["subjects"]  # the validation subject is left out
    pose, orient = prior.sample(32, torch.Generator().manual_seed(0))
    assert pose.shape == (32, 30, 3, 3) and orient.shape == (32, 3, 3)
    eye = torch.eye(3).expand(32, 3, 3)
    assert torch.allclose(orient @ orient.transpose(1, 2), eye, atol=1e-4)


def test_prior_headings_removed_and_resampled(prior):
    stored = prior.global_orient[:, :, 2]  # forward axes lie in the YZ plane (no heading)
    assert stored[:, 0].abs().max() < 1e-2
    _, orient = prior.sample(4096, torch.Generator().manual_seed(1), mirror=0.0)
    heading = torch.atan2(orient[:, 0, 2], orient[:, 2, 2])
    assert heading.std() > 1.5  # roughly uniform over (-pi, pi]


def test_mirror_is_an_involution_and_mirrors_the_body(body, prior):
    perm = flip_permutation(body.joint_names)
    assert [perm[p] for p in perm] == list(range(len(perm)))
    assert body.joint_names[perm[body.joint_names.index("LeftArm")]] == "RightArm"
    assert body.joint_names[perm[body.joint_names.index("LThumb")]] == "RThumb"
    pose, orient = prior.pose[:8], prior.global_orient[:8]
    flip = torch.ones(8, dtype=torch.bool)
    mp, mo = prior._mirror_where(flip, pose, orient)
    back_p, back_o = prior._mirror_where(flip, mp, mo)
    assert torch.allclose(back_p, pose, atol=1e-6) and torch.allclose(back_o, orient, atol=1e-6)
    joints = body(pose=pose, global_orient=orient, skin=False).joints
    mirrored = body(pose=mp, global_orient=mo, skin=False).joints
    reflected = joints[:, perm] * torch.tensor([-1.0, 1.0, 1.0])
    assert (mirrored - reflected).norm(dim=-1).max() < 0.01  # the rig is symmetric to ~mm


def test_remove_heading_keeps_tilt():
    tilt = roma.rotvec_to_rotmat(torch.tensor([0.4, 0.0, 0.0]))
    yaw = roma.rotvec_to_rotmat(torch.tensor([0.0, 1.2, 0.0]))
    assert torch.allclose(remove_heading(yaw @ tilt), tilt, atol=1e-6)


def test_batch_contents_and_geometry(body):
    ds = SyntheticBatches(body, config=SyntheticConfig(batch_size=64, layout="openpose25"))
    b = ds.batch(0)
    n, j, s, v = 64, 25, len(get_layout("superset").names), body.num_vertices
    shapes = {"keypoints": (n, j, 3), "keypoints_clean": (n, j, 3), "superset": (n, s, 2), "presence": (n, s),
              "joints3d": (n, j, 3), "superset3d": (n, s, 3), "vertices": (n, v, 3), "K": (n, 3, 3)}
    for key, shape in shapes.items():
        assert b[key].shape == shape, key
    assert all(torch.isfinite(b[k]).all() for k in ("keypoints", "superset", "vertices", "joints3d"))
    # 3D is in camera coordinates: the body is in front of the camera.
    assert (b["vertices"][..., 2] > 0).float().mean() > 0.99
    # re-projecting the 3D keypoints gives the clean 2D keypoints (within 1e-3 px)
    visible = b["keypoints_clean"][..., 2] > 0
    assert visible.float().mean() > 0.8
    err = (project_points(b["joints3d"], b["K"]) - b["keypoints_clean"][..., :2])[visible]
    assert err.abs().max() < 1e-3
    # the regressed keypoints are the body's layout regressor applied to the camera-frame mesh
    regressed = torch.einsum("jv,bvc->bjc", body.keypoint_regressor("openpose25"), b["vertices"])
    assert torch.allclose(regressed, b["joints3d"], atol=1e-4)
    # absent input keypoints have confidence 0, and the superset presence follows them
    assert ((b["keypoints"][..., 2] >= 0) & (b["keypoints"][..., 2] <= 1)).all()
    assert b["presence"].max() <= 1 and (b["presence"] == 0).any()


def test_deterministic_and_sharded(body):
    cfg = SyntheticConfig(batch_size=16)
    a = SyntheticBatches(body, config=cfg, seed=3).batch(5)
    b = SyntheticBatches(body, config=cfg, seed=3).batch(5)
    assert all(torch.equal(a[k], b[k]) for k in a)
    other_rank = SyntheticBatches(body, config=cfg, seed=3, rank=1, world_size=2).batch(5)
    other_step = SyntheticBatches(body, config=cfg, seed=3).batch(6)
    assert not torch.equal(a["keypoints"], other_rank["keypoints"])
    assert not torch.equal(a["keypoints"], other_step["keypoints"])
    stream = SyntheticBatches(body, config=cfg, seed=3)
    first = next(stream)
    assert torch.equal(first["vertices"], SyntheticBatches(body, config=cfg, seed=3).batch(0)["vertices"])
    with pytest.raises(ValueError, match="rank must be in"):
        SyntheticBatches(body, config=cfg, rank=2, world_size=2)


def test_config_validates():
    with pytest.raises(ValueError, match=r"unknown corruption 'noisy'; choose one of: none, detector, detector\+mask, detector\+mask\+clean, h3wb"):
        SyntheticConfig(corruption="noisy")
    with pytest.raises(ValueError, match="unknown joint layout"):
        SyntheticConfig(layout="cocoo")
    with pytest.raises(ValueError, match="unknown shapes 'kids'; choose one of: adults, mixed, all"):
        SyntheticConfig(shapes="kids")
    with pytest.raises(ValueError, match=r"mix_limbs is a probability in \[0, 1\], got 1.5"):
        SyntheticConfig(mix_limbs=1.5)
    with pytest.raises(ValueError, match="pose_noise must be >= 0"):
        SyntheticConfig(pose_noise=-0.1)


def test_config_rejects_values_that_gave_wrong_batches(body):
    # num_betas=-1 used to select 63 betas ([:, :-1]), 0 crashed in batch(), 2.5 / batch_size=2.5 in torch
    for name, bad in (("num_betas", -1), ("num_betas", 0), ("num_betas", 2.5), ("batch_size", 2.5),
                      ("batch_size", True), ("batch_size", 0)):
        with pytest.raises(ValueError, match=rf"{name} must be a positive integer, got {bad!r}"):
            SyntheticConfig(**{name: bad})
    for bad in (float("inf"), float("nan")):
        with pytest.raises(ValueError, match=rf"pose_noise must be >= 0 and finite \(radians\), got {bad}"):
            SyntheticConfig(pose_noise=bad)
    assert SyntheticConfig(num_betas=np.int64(8), batch_size=np.int64(2)).num_betas == 8
    # the upper bound is the body's: 64 shape coefficients (num_betas=100 used to give 64 silently)
    assert body.shape_table_betas.shape[1] == 64
    with pytest.raises(ValueError, match=r"num_betas must be in \[1, 64\] \(the body's shape coefficients\), got 100"):
        SyntheticBatches(body, config=SyntheticConfig(batch_size=2, num_betas=100))
    assert SyntheticBatches(body, config=SyntheticConfig(batch_size=2, num_betas=64)).batch(0)["betas"].shape == (2, 64)


def test_shape_distributions(body):
    from pose2mesh.data.synthetic import ADULT_HEIGHT_M, shape_rows

    adults, others = shape_rows(body)
    assert len(adults) + len(others) == len(body.shape_table_betas) and 500 < len(adults) < 2000

    def heights(shapes):
        batch = SyntheticBatches(body, config=SyntheticConfig(batch_size=256, shapes=shapes)).batch(0, mesh=False)
        rest, _ = body.shape(batch["betas"])
        return rest[..., 1].amax(1) - rest[..., 1].amin(1)

    adult = heights("adults")  # batches keep 16 of the 64 betas: heights move by millimetres
    assert adult.min() >= ADULT_HEIGHT_M[0] - 0.01 and adult.max() <= ADULT_HEIGHT_M[1] + 0.01
    mixed = heights("mixed")  # 85 % adults: some bodies outside the adult range, most inside
    outside = ((mixed < ADULT_HEIGHT_M[0]) | (mixed > ADULT_HEIGHT_M[1])).float().mean()
    assert 0.02 < outside < 0.3


def _write_mb2_bvh(path: Path, body, frames: int = 12, seed: int = 0) -> None:
    """A small BVH on CMU's 31-joint mb2 skeleton (CMU units), random small rotations."""
    names = [JOINT_MAPS["cmu_mb2_31joint"][n] for n in body.joint_names]
    rest = body().rest_joints[0].double().numpy()
    offsets = (rest - rest[[max(p, 0) for p in body.parents]]) / CMU_UNIT_M
    offsets[0] = 0.0
    children = {j: [c for c, p in enumerate(body.parents) if p == j] for j in range(len(names))}
    lines = ["HIERARCHY"]

    def emit(j, depth):
        pad = "  " * depth
        kind = "ROOT" if j == 0 else "JOINT"
        lines.append(f"{pad}{kind} {names[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {offsets[j, 0]:.6f} {offsets[j, 1]:.6f} {offsets[j, 2]:.6f}")
        chans = "6 Xposition Yposition Zposition Zrotation Yrotation Xrotation" if j == 0 else "3 Zrotation Yrotation Xrotation"
        lines.append(f"{pad}  CHANNELS {chans}")
        if children[j]:
            for c in children[j]:
                emit(c, depth + 1)
        else:
            lines.append(f"{pad}  End Site")
            lines.append(f"{pad}  {{")
            lines.append(f"{pad}    OFFSET 0.0 1.0 0.0")
            lines.append(f"{pad}  }}")
        lines.append(f"{pad}}}")

    emit(0, 0)
    rng = np.random.default_rng(seed)
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.0083333"]
    for t in range(frames):
        row = [0.0, 16.0, 0.1 * t, 0.0, 0.0, 0.0] + list(rng.normal(0, 15, 3 * (len(names) - 1)))
        if t == 0:  # the converter's T-pose frame
            row = [0.0, 16.0, 0.0] + [0.0] * (3 * len(names))
        lines.append(" ".join(f"{x:.4f}" for x in row))
    path.write_text("\n".join(lines) + "\n")


def test_pose_prior_from_a_motion_folder(body, tmp_path):
    from pose2mesh.data.poses import PosePrior, build_pose_prior

    folder = tmp_path / "motion"
    folder.mkdir()
    _write_mb2_bvh(folder / "91_01.bvh", body)
    _write_mb2_bvh(folder / "06_01.bvh", body, seed=1)  # the validation subject: left out
    _write_mb2_bvh(folder / "walk.bvh", body, seed=2)  # not CMU names: kept, a subject each
    (folder / "bob").mkdir()
    _write_mb2_bvh(folder / "bob" / "walk.bvh", body, seed=3)
    prior = build_pose_prior(folder, body, fps=120, cache_dir=tmp_path / "cache")
    assert len(prior) == prior.meta["frames"] and 30 <= len(prior) <= 33  # 3 files x ~11 frames (T-pose dropped)
    assert prior.meta["files"] == 3 and prior.meta["subjects"] == ["91"] and prior.meta["excluded_subjects"] == ["06"]
    n = len(prior) // 3  # files of one length
    assert prior.meta["poses_per_subject"] == {"91": n, "bob/walk.bvh": n, "walk.bvh": n}
    # the default keeps a seeded uniform subset of the frames, in order
    five = build_pose_prior(folder, body, fps=120, max_poses=5, seed=3, cache_dir=tmp_path / "cache")
    keep = torch.randperm(len(prior), generator=torch.Generator().manual_seed(3))[:5].sort().values
    assert torch.equal(five.pose, prior.pose[keep]) and torch.equal(five.global_orient, prior.global_orient[keep])
    with pytest.raises(ValueError, match="unknown balance 'files'"):
        build_pose_prior(folder, body, balance="files")
    prior.save(tmp_path / "prior.npz")
    again = PosePrior.load(tmp_path / "prior.npz")
    assert again.joint_names == prior.joint_names and torch.allclose(again.pose, prior.pose, atol=2e-3)
    (tmp_path / "validation").mkdir()
    (folder / "06_01.bvh").rename(tmp_path / "validation" / "06_01.bvh")
    with pytest.raises(ValueError, match="no motion files"):
        build_pose_prior(tmp_path / "validation", body, fps=120, cache_dir=tmp_path / "cache")


def test_pose_prior_balanced_by_subject(body, tmp_path):
    from pose2mesh.data.poses import build_pose_prior

    folder = tmp_path / "motion"
    folder.mkdir()
    for trial in range(1, 5):  # subject 91: four recordings; subject 92: one
        _write_mb2_bvh(folder / f"91_0{trial}.bvh", body, seed=trial)
    _write_mb2_bvh(folder / "92_01.bvh", body, seed=9)
    kw = dict(fps=120, max_poses=16, cache_dir=tmp_path / "cache")
    by_frames = build_pose_prior(folder, body, **kw).meta["poses_per_subject"]
    by_subject = build_pose_prior(folder, body, balance="subjects", **kw).meta["poses_per_subject"]
    assert sum(by_frames.values()) == sum(by_subject.values()) == 16
    assert by_frames["92"] <= 5 and by_subject == {"91": 8, "92": 8}  # a fifth of the frames; half of the subjects
    small = build_pose_prior(folder, body, balance="subjects", fps=120, max_poses=30, cache_dir=tmp_path / "cache")
    frames_92 = build_pose_prior(folder, body, fps=120, cache_dir=tmp_path / "cache").meta["poses_per_subject"]["92"]
    assert small.meta["poses_per_subject"] == {"91": 30 - frames_92, "92": frames_92}  # 92 kept whole, 91 takes the rest
    everything = build_pose_prior(folder, body, balance="subjects", fps=120, cache_dir=tmp_path / "cache")
    assert len(everything) == everything.meta["frames"]  # fewer frames than max_poses: all of them


def test_make_test_set_from_a_motion_folder(body, tmp_path):
    folder = tmp_path / "motion"
    folder.mkdir()
    _write_mb2_bvh(folder / "91_01.bvh", body)
    _write_mb2_bvh(folder / "92_01.bvh", body, seed=1)
    kwargs = dict(layout="h36m", n=40, seed=0, noise="detector", missing=0.3, fps=120, cache_dir=tmp_path / "cache")
    ts = make_test_set(folder, **kwargs)
    assert len(ts) == 40 and ts.layout == "h36m"
    assert ts.keypoints.shape == (40, 17, 3) and ts.joints3d.shape == (40, 17, 3)
    assert ts.vertices.shape == (40, body.num_vertices, 3)
    assert ts.K.shape == (40, 3, 3) and ts.image_size.shape == (40, 2) and ts.extrinsics.shape == (40, 3, 4)
    assert ts.meta["files"] == 2 and 20 <= ts.meta["frames"] <= 22  # frame 0 (T-pose) dropped; 120.001 -> 120 fps
    visible = ts.keypoints_clean[..., 2] > 0
    err = (project_points(ts.joints3d, ts.K) - ts.keypoints_clean[..., :2])[visible]
    assert err.abs().max() < 1e-3
    absent = (ts.keypoints[..., 2] == 0).float().mean()
    assert 0.3 < absent < 0.6  # 30 % dropped on top of detector misses and truncation
    again = make_test_set(folder, **kwargs)
    assert torch.equal(again.keypoints, ts.keypoints) and torch.equal(again.vertices, ts.vertices)
    other = make_test_set(folder, **{**kwargs, "seed": 1})
    assert not torch.equal(other.keypoints, ts.keypoints)
    # generated on the CPU whatever the device: the same samples on a GPU
    device = "cuda" if torch.cuda.is_available() else "cpu"
    moved = make_test_set(folder, **kwargs, device=device)
    assert moved.keypoints.device.type == device and torch.equal(moved.keypoints.cpu(), ts.keypoints)
    with pytest.raises(ValueError, match="unknown noise 'gaussian'; choose one of: none, detector"):
        make_test_set(folder, noise="gaussian")
    with pytest.raises(FileNotFoundError):
        make_test_set(tmp_path / "nowhere")


@pytest.mark.skipif(not MOCAP.is_dir(), reason="../shared/mocap is absent")
def test_make_test_set_on_shared_validation_subject(tmp_path):
    ts = make_test_set(MOCAP, n=8, seed=0, cache_dir=tmp_path)
    assert len(ts) == 8 and ts.meta["files"] == 178
