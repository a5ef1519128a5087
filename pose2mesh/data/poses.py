"""Pose sources for synthetic data: a shipped pose prior, motion folders, augmentation.

Conventions: poses are for the open body's ``cmu_mb`` rig
(:mod:`pose2mesh.body.base`): ``pose (N, J-1, 3, 3)`` local rotations in
world-aligned rest axes, ``global_orient (N, 3, 3)``; body frame metres, Y up,
X to the body's left, Z forward.

The built-in prior (``graphs/pose_prior.npz``) needs no motion files: it is a
bank of poses retargeted from the shared CMU training subjects (the validation
subject excluded), with the heading (rotation about Y) removed from the root
and stored as float16 axis-angle vectors (~1e-3 rad precision).  Sampling draws
bank entries and augments them (random heading, left/right mirroring, per-limb
mixing between two poses, small rotation noise), so training and tests work
with no data at all.  Rebuild it with ``pose2mesh build-pose-prior --motion DIR``.
"""
from __future__ import annotations

import json
import logging
import operator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import roma
import torch
from torch import Tensor

from pose2mesh._assets import asset_path, load_npz, save_npz

logger = logging.getLogger(__name__)

PRIOR_FILE = "pose_prior.npz"

#: CMU subjects held out from the prior and from training, for validation
#: (subject 06: basketball dribbling, 15 files, 13,569 frames at 120 fps).
VALIDATION_SUBJECTS = ("06",)

#: Limb groups for per-limb mixing: joints whose local rotations move together.
LIMB_GROUPS = {
    "left_arm": ("LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "LThumb", "LeftFingerBase", "LeftHandFinger1"),
    "right_arm": ("RightShoulder", "RightArm", "RightForeArm", "RightHand", "RThumb", "RightFingerBase",
                  "RightHandFinger1"),
    "left_leg": ("LHipJoint", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase"),
    "right_leg": ("RHipJoint", "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase"),
    "spine_head": ("LowerBack", "Spine", "Spine1", "Neck", "Neck1", "Head"),
}

_MIRROR_X = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))


def flip_permutation(joint_names) -> list[int]:
    """Index permutation swapping left and right joints of a rig (``Left*``/``Right*``, ``L*``/``R*``)."""
    index = {n: i for i, n in enumerate(joint_names)}
    perm = []
    for name in joint_names:
        if name.startswith("Left"):
            twin = "Right" + name[4:]
        elif name.startswith("Right"):
            twin = "Left" + name[5:]
        elif len(name) > 1 and name[0] in "LR" and name[1].isupper():
            twin = ("R" if name[0] == "L" else "L") + name[1:]
        else:
            twin = name
        perm.append(index.get(twin, index[name]))
    return perm


def remove_heading(global_orient: Tensor) -> Tensor:
    """Remove the rotation about the vertical (Y) axis: ``(..., 3, 3) -> (..., 3, 3)``.

    The body's forward axis (+Z) is rotated back into the YZ plane, keeping tilt and roll.
    """
    forward = global_orient[..., :, 2]
    heading = torch.atan2(forward[..., 0], forward[..., 2])
    undo = roma.rotvec_to_rotmat(torch.stack([torch.zeros_like(heading), -heading, torch.zeros_like(heading)], -1))
    return undo @ global_orient


@dataclass
class PosePrior:
    """A bank of body poses with augmentation (see the module docstring).

    Attributes:
        pose: ``(P, J-1, 3, 3)`` local rotations.
        global_orient: ``(P, 3, 3)`` root orientations without heading.
        joint_names: the rig's joint names (root first).
        meta: provenance (source folder, subjects, fps).
    """

    pose: Tensor
    global_orient: Tensor
    joint_names: tuple[str, ...]
    meta: dict

    @classmethod
    def load(cls, path: str | Path | None = None, device: torch.device | str | None = None) -> "PosePrior":
        """Load the shipped prior (or the file at ``path``), content-hash checked."""
        arrays, _ = load_npz(asset_path(PRIOR_FILE) if path is None else path)
        pose = roma.rotvec_to_rotmat(torch.from_numpy(arrays["pose_rotvec"].astype(np.float32)))
        orient = roma.rotvec_to_rotmat(torch.from_numpy(arrays["global_orient_rotvec"].astype(np.float32)))
        names = tuple(str(n) for n in arrays["joint_names"])
        return cls(pose.to(device), orient.to(device), names, json.loads(str(arrays["meta"])))

    def __len__(self) -> int:
        return int(self.pose.shape[0])

    @property
    def device(self) -> torch.device:
        """Where the bank lives (and samples are drawn)."""
        return self.pose.device

    def to(self, device: torch.device | str | None) -> "PosePrior":
        """The bank on ``device``."""
        return PosePrior(self.pose.to(device), self.global_orient.to(device), self.joint_names, self.meta)

    def save(self, path: str | Path) -> str:
        """Write the bank (float16 axis-angle) to ``path``; returns the content hash."""
        return save_npz(path, {
            "pose_rotvec": roma.rotmat_to_rotvec(self.pose.cpu()).numpy().astype(np.float16),
            "global_orient_rotvec": roma.rotmat_to_rotvec(self.global_orient.cpu()).numpy().astype(np.float16),
            "joint_names": np.asarray(self.joint_names),
            "meta": np.array(json.dumps(self.meta, sort_keys=True)),
        })

    def sample(
        self,
        num: int,
        generator: torch.Generator,
        mirror: float = 0.5,
        mix_limbs: float = 0.0,
        noise: float = 0.0,
        heading: bool = True,
    ) -> tuple[Tensor, Tensor]:
        """Draw ``num`` augmented poses on the prior's device.

        Args:
            num: number of poses.
            generator: a ``torch.Generator`` on the prior's device.
            mirror: probability of a left/right mirrored pose.
            mix_limbs: probability, per limb group (:data:`LIMB_GROUPS`), of taking
                that limb from a second random pose.
            noise: std (radians) of axis-angle noise added to every local rotation.
            heading: draw a uniform random heading (rotation about Y).

        Returns:
            ``pose (num, J-1, 3, 3)``, ``global_orient (num, 3, 3)``.
        """
        dev = self.device
        idx = torch.randint(len(self), (num,), generator=generator, device=dev)
        pose, orient = self.pose[idx], self.global_orient[idx]
        if mix_limbs > 0:
            other = torch.randint(len(self), (num,), generator=generator, device=dev)
            for joints in LIMB_GROUPS.values():
                cols = [self.joint_names.index(n) - 1 for n in joints]
                take = torch.rand(num, generator=generator, device=dev) < mix_limbs
                pose[:, cols] = torch.where(take[:, None, None, None], self.pose[other][:, cols], pose[:, cols])
        if noise > 0:
            pose = pose @ roma.rotvec_to_rotmat(torch.randn(*pose.shape[:2], 3, generator=generator, device=dev) * noise)
        if mirror > 0:
            flip = torch.rand(num, generator=generator, device=dev) < mirror
            pose, orient = self._mirror_where(flip, pose, orient)
        if heading:
            yaw = torch.rand(num, generator=generator, device=dev) * (2 * torch.pi)
            rot = roma.rotvec_to_rotmat(torch.stack([torch.zeros_like(yaw), yaw, torch.zeros_like(yaw)], -1))
            orient = rot @ orient
        return pose, orient

    def _mirror_where(self, flip: Tensor, pose: Tensor, orient: Tensor) -> tuple[Tensor, Tensor]:
        """Mirror (x -> -x) the poses where ``flip``: swap left/right joints, conjugate by diag(-1, 1, 1)."""
        m = _MIRROR_X.to(pose)
        perm = flip_permutation(self.joint_names)
        full = torch.cat([orient[:, None], pose], 1)
        mirrored = m @ full[:, perm] @ m
        full = torch.where(flip[:, None, None, None], mirrored, full)
        return full[:, 1:], full[:, 0]


def build_pose_prior(motion_dir: str | Path, body, fps: float = 30.0, max_poses: int = 16384, seed: int = 0,
                     exclude_subjects=VALIDATION_SUBJECTS, cache_dir: str | Path | None = None,
                     balance: str = "frames") -> PosePrior:
    """Build a :class:`PosePrior` from every motion file below ``motion_dir``.

    Args:
        motion_dir: folder of BVH / ASF+AMC files (searched recursively).
        body: the body whose rig the poses are retargeted to (an ``OpenBody``).
        fps: resampling rate before drawing frames.
        max_poses: bank size: a seeded subset of all frames (all of them when
            there are fewer).
        seed: seed of the subset.
        exclude_subjects: CMU subjects left out (validation), a sequence of
            subject strings or one subject (``"06"``): files named like CMU's
            ``SUBJECT_TRIAL.*`` of these subjects; files named otherwise are
            always used.
        cache_dir: motion parse cache.
        balance: ``"frames"``: every frame equally likely to be kept (a subject
            with long recordings fills more of the bank); ``"subjects"``: an
            equal share of the bank per subject (a subject with fewer frames
            than its share is kept whole and the others share the rest; a
            seeded subset of each subject's frames). Files not named like CMU's
            count as a subject each (by their path below ``motion_dir``).

    Raises:
        ValueError: if no motion file or frame is left to use, on an unknown
            ``balance``, or ``max_poses < 1``.
    """
    if balance not in ("frames", "subjects"):
        raise ValueError(f"unknown balance {balance!r}; choose one of: frames, subjects")
    try:
        ok = not isinstance(max_poses, bool) and operator.index(max_poses) >= 1
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"max_poses must be an integer >= 1, got {max_poses!r}")
    if isinstance(exclude_subjects, str):  # one subject, not its characters
        exclude_subjects = (exclude_subjects,)
    exclude_subjects = tuple(exclude_subjects)
    from tqdm import tqdm

    from pose2mesh.data.motion import find_motion_files, load_motion, subject_of
    from pose2mesh.data.retarget import Retargeter

    def subject(path: Path) -> str | None:
        try:
            return subject_of(path)
        except ValueError:  # not a CMU name: the user's own motion
            return None

    retarget = Retargeter.for_body(body)
    files = [f for f in find_motion_files(motion_dir) if subject(f) not in set(exclude_subjects)]
    if not files:
        left_out = f" outside the left-out subjects {', '.join(exclude_subjects)}" if exclude_subjects else ""
        raise ValueError(f"no motion files (.bvh, .amc, optionally .gz){left_out} below '{motion_dir}'")
    poses, orients = [], []
    for path in tqdm(files, desc="pose prior", disable=None):
        out = retarget(load_motion(path, cache_dir=cache_dir, fps=fps))
        poses.append(out.pose)
        orients.append(remove_heading(out.global_orient))
    pose, orient = torch.cat(poses), torch.cat(orients)
    if not len(pose):
        raise ValueError(f"the motion files below '{motion_dir}' hold no frames")
    # the user's own files: a subject each
    groups = [subject(f) or f.relative_to(motion_dir).as_posix() for f in files]
    names = sorted(set(groups))
    group = torch.cat([torch.full((len(p),), names.index(g)) for g, p in zip(groups, poses)])
    gen = torch.Generator().manual_seed(seed)
    if balance == "frames":
        keep = torch.randperm(len(pose), generator=gen)[:max_poses]
    else:  # smallest subject first: each takes its share of what is left, or all of its frames
        sizes = torch.bincount(group, minlength=len(names))
        left, keep = min(max_poses, len(pose)), []
        for i, g in enumerate(sizes.argsort(stable=True).tolist()):
            frames = torch.nonzero(group == g).flatten()
            take = min(int(sizes[g]), left // (len(names) - i))
            keep.append(frames[torch.randperm(len(frames), generator=gen)[:take]])
            left -= take
        keep = torch.cat(keep)
    keep = keep.sort().values
    kept = torch.bincount(group[keep], minlength=len(names)).tolist()
    meta = {"source": str(Path(motion_dir).name), "files": len(files), "frames": len(pose), "fps": fps,
            "excluded_subjects": list(exclude_subjects), "subjects": sorted({subject(f) for f in files} - {None}),
            "balance": balance, "poses_per_subject": dict(zip(names, kept))}
    logger.info("pose prior: %d of %d frames from %d files", len(keep), len(pose), len(files))
    return PosePrior(pose[keep], orient[keep], tuple(body.joint_names), meta)
