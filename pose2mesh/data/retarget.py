"""Retarget skeletal motion (BVH, ASF/AMC) onto the open body's ``cmu_mb`` rig.

Conventions: motions (:class:`pose2mesh.data.motion.Motion`) and the body share
the library frame (metres, +Y up; CMU captures face +Z in their rest pose,
as the body does), so no axis change happens here.  Output poses follow
:mod:`pose2mesh.body.base`: local rotation matrices relative to the parent in
world-aligned rest axes, plus ``global_orient`` (about the root joint) and
``transl``.

Method (direction-preserving rest alignment).  Let ``G_s(t)`` be the world
rotation of source joint ``s`` at frame ``t`` (its rotation away from the
source's zero-rotation rest pose).  For each body joint ``c`` mapped to a
source joint ``s(c)``, a constant rotation ``Q_c`` aligns the body's rest bone
directions (towards its mapped descendants) with the source's rest bone
directions (Kabsch on all children, the minimal rotation for one child).  The
body joint's world rotation is then ``W_c(t) = G_s(t) Q_c``, so every body bone
points exactly where the source bone points, with the source's twist.  Body
joints without a source (e.g. Daz skeletons have no ``Spine``) keep their rest
pose relative to their parent; leaves inherit their parent's ``Q``.  The root
trajectory is scaled by the ratio of leg lengths so the feet stay near the
ground for any body shape.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from pose2mesh.data.motion import Motion

def _mirror(table: dict[str, str]) -> dict[str, str]:
    """Add the right-side entries of a left-side name table."""
    out = dict(table)
    for ours, src in table.items():
        if "Left" in ours or re.match(r"^L[A-Z]", ours):
            r_ours = ours.replace("Left", "Right") if "Left" in ours else "R" + ours[1:]
            if src.startswith("Left"):
                r_src = "Right" + src[4:]
            elif src.startswith("L"):
                r_src = "R" + src[1:]
            else:
                r_src = "r" + src[1:]
            out[r_ours] = r_src
    return out


#: body (``cmu_mb`` rig) joint -> source joint, per known skeleton id.
JOINT_MAPS: dict[str, dict[str, str]] = {
    "cmu_mb2_31joint": _mirror({
        "Hips": "Hips", "LowerBack": "LowerBack", "Spine": "Spine", "Spine1": "Spine1", "Neck": "Neck",
        "Neck1": "Neck1", "Head": "Head", "LHipJoint": "LHipJoint", "LeftUpLeg": "LeftUpLeg",
        "LeftLeg": "LeftLeg", "LeftFoot": "LeftFoot", "LeftToeBase": "LeftToeBase",
        "LeftShoulder": "LeftShoulder", "LeftArm": "LeftArm", "LeftForeArm": "LeftForeArm",
        "LeftHand": "LeftHand", "LeftFingerBase": "LeftFingerBase", "LeftHandFinger1": "LeftHandIndex1",
        "LThumb": "LThumb",
    }),
    "cmu_3dsmax": _mirror({
        "Hips": "Hips", "LowerBack": "lowerback", "Spine": "Chest", "Spine1": "Chest2", "Neck": "lowerneck",
        "Neck1": "Neck", "Head": "Head", "LHipJoint": "LHipJoint", "LeftUpLeg": "LeftHip",
        "LeftLeg": "LeftKnee", "LeftFoot": "LeftAnkle", "LeftToeBase": "LeftToe",
        "LeftShoulder": "LeftCollar", "LeftArm": "LeftShoulder", "LeftForeArm": "LeftElbow",
        "LeftHand": "LeftWrist", "LeftFingerBase": "lhand", "LeftHandFinger1": "LFingers", "LThumb": "LThumb",
    }),
    "cmu_asf": _mirror({
        "Hips": "root", "LowerBack": "lowerback", "Spine": "upperback", "Spine1": "thorax", "Neck": "lowerneck",
        "Neck1": "upperneck", "Head": "head", "LHipJoint": "lhipjoint", "LeftUpLeg": "lfemur",
        "LeftLeg": "ltibia", "LeftFoot": "lfoot", "LeftToeBase": "ltoes", "LeftShoulder": "lclavicle",
        "LeftArm": "lhumerus", "LeftForeArm": "lradius", "LeftHand": "lwrist", "LeftFingerBase": "lhand",
        "LeftHandFinger1": "lfingers", "LThumb": "lthumb",
    }),
    "cmu_daz_43joint": _mirror({
        "Hips": "hip", "LowerBack": "abdomen", "Spine1": "chest", "Neck": "neck", "Head": "head",
        "LHipJoint": "lButtock", "LeftUpLeg": "lThigh", "LeftLeg": "lShin", "LeftFoot": "lFoot",
        "LeftShoulder": "lCollar", "LeftArm": "lShldr", "LeftForeArm": "lForeArm", "LeftHand": "lHand",
    }),
}
JOINT_MAPS["cmu_daz_43joint_scaled"] = JOINT_MAPS["cmu_daz_43joint"]

#: Bones (body joint pairs) whose directions the retargeting report compares:
#: upper/lower arms and legs, spine, neck, head, feet.
REPORT_BONES = tuple(
    pair
    for side in ("Left", "Right")
    for pair in ((f"{side}Arm", f"{side}ForeArm"), (f"{side}ForeArm", f"{side}Hand"), (f"{side}UpLeg", f"{side}Leg"),
                 (f"{side}Leg", f"{side}Foot"), (f"{side}Foot", f"{side}ToeBase"))
) + (("LowerBack", "Spine"), ("Spine", "Spine1"), ("LowerBack", "Spine1"), ("Neck", "Neck1"), ("Neck1", "Head"),
     ("Neck", "Head"))


@dataclass
class BodyMotion:
    """A motion expressed in a body's pose parameters (see :mod:`pose2mesh.body.base`).

    Attributes:
        pose: ``(T, J-1, 3, 3)`` float32 local rotations of the non-root joints.
        global_orient: ``(T, 3, 3)`` float32 root rotation (about the root joint).
        transl: ``(T, 3)`` float32 metres, for the body shape it was retargeted to.
        fps: frames per second.
        source: where the motion came from.
    """

    pose: torch.Tensor
    global_orient: torch.Tensor
    transl: torch.Tensor
    fps: float
    source: str = ""

    def __len__(self) -> int:
        return int(self.pose.shape[0])


def _global_rotations(motion: Motion) -> np.ndarray:
    """World rotations ``(T, J, 3, 3)`` of every source joint (float64)."""
    local = motion.rotations.astype(np.float64)
    world = np.empty_like(local)
    world[:, 0] = local[:, 0]
    for j in range(1, motion.num_joints):
        world[:, j] = world[:, motion.parents[j]] @ local[:, j]
    return world


def _rest_positions(parents, offsets: np.ndarray) -> np.ndarray:
    """Joint positions ``(J, 3)`` of a skeleton with zero rotations (root at the origin)."""
    pos = np.zeros((len(parents), 3))
    for j in range(1, len(parents)):
        pos[j] = pos[parents[j]] + offsets[j]
    return pos


def _align(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Rotation ``Q`` with ``Q @ ours_k ~ theirs_k`` (unit directions ``(K, 3)``).

    One direction: the minimal rotation.  Several: Kabsch (weighted by nothing,
    directions normalised), reflection-corrected.
    """
    if len(ours) == 1:
        a, b = ours[0], theirs[0]
        v, c = np.cross(a, b), float(a @ b)
        if c < -1 + 1e-9:  # opposite: rotate by pi about any axis orthogonal to a
            axis = np.cross(a, [1.0, 0, 0] if abs(a[0]) < 0.9 else [0, 1.0, 0])
            axis /= np.linalg.norm(axis)
            return 2 * np.outer(axis, axis) - np.eye(3)
        vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
        return np.eye(3) + vx + vx @ vx / (1 + c)
    u, _, vt = np.linalg.svd(theirs.T @ ours)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


class Retargeter:
    """Map motions of a known source skeleton onto a body's rig.

    Args:
        joint_names / parents: the body rig (``body.joint_names``, ``body.parents``).
        rest_joints: ``(J, 3)`` the body's rest joints (metres) used for the alignment.
    """

    def __init__(self, joint_names, parents, rest_joints) -> None:
        self.joint_names = tuple(joint_names)
        self.parents = tuple(parents)
        self.rest = np.asarray(rest_joints, dtype=np.float64)
        self.children = [[c for c, p in enumerate(self.parents) if p == j] for j in range(len(self.parents))]

    @classmethod
    def for_body(cls, body, betas: torch.Tensor | None = None) -> "Retargeter":
        """A retargeter for ``body`` (a :class:`pose2mesh.body.OpenBody`) at shape ``betas`` (default: mean)."""
        if betas is None:
            betas = torch.zeros(1, body.num_betas, dtype=body.v_template.dtype, device=body.v_template.device)
        with torch.no_grad():
            rest = body(betas=betas).rest_joints[0].double().cpu().numpy()
        return cls(body.joint_names, body.parents, rest)

    def _mapped_descendants(self, j: int, mapping: dict[str, str]) -> list[int]:
        """For each child subtree of ``j``, its first mapped joints (breadth first)."""
        found, todo = [], list(self.children[j])
        while todo:
            c = todo.pop(0)
            if self.joint_names[c] in mapping:
                found.append(c)
            else:
                todo.extend(self.children[c])
        return found

    def __call__(self, motion: Motion) -> BodyMotion:
        """Retarget ``motion`` (library frame) to the body rig; see the module docstring."""
        if motion.skeleton not in JOINT_MAPS:
            raise ValueError(
                f"no joint map for skeleton '{motion.skeleton}' ({motion.source}); known: {', '.join(sorted(JOINT_MAPS))}"
            )
        mapping = {k: v for k, v in JOINT_MAPS[motion.skeleton].items() if k in self.joint_names}
        src_index = {n: i for i, n in enumerate(motion.joint_names)}
        missing = sorted(v for v in mapping.values() if v not in src_index)
        if missing:
            raise ValueError(f"{motion.source}: skeleton '{motion.skeleton}' lacks joints {missing}")
        src_rest = _rest_positions(motion.parents, motion.offsets.astype(np.float64))
        world_src = _global_rotations(motion)
        num_frames, num_joints = motion.num_frames, len(self.joint_names)

        world = np.empty((num_frames, num_joints, 3, 3))
        q_of: dict[int, np.ndarray] = {}
        for j in range(num_joints):  # parents precede children
            name = self.joint_names[j]
            if name not in mapping:
                world[:, j] = world[:, self.parents[j]] if j else np.eye(3)
                continue
            s = src_index[mapping[name]]
            desc = self._mapped_descendants(j, mapping)
            ours = np.array([self.rest[d] - self.rest[j] for d in desc]).reshape(-1, 3)
            theirs = np.array([src_rest[src_index[mapping[self.joint_names[d]]]] - src_rest[s] for d in desc]).reshape(-1, 3)
            keep = (np.linalg.norm(ours, axis=1) > 1e-6) & (np.linalg.norm(theirs, axis=1) > 1e-6)
            if keep.any():
                ours, theirs = ours[keep], theirs[keep]
                q_of[j] = _align(ours / np.linalg.norm(ours, axis=1, keepdims=True),
                                 theirs / np.linalg.norm(theirs, axis=1, keepdims=True))
            else:  # a leaf (or zero-length bones only): keep the parent's alignment
                p = self.parents[j]
                while p > 0 and p not in q_of:
                    p = self.parents[p]
                q_of[j] = q_of.get(p, np.eye(3))
            world[:, j] = world_src[:, s] @ q_of[j]

        parent_world = world[:, [max(p, 0) for p in self.parents[1:]]]
        local = np.swapaxes(parent_world, -1, -2) @ world[:, 1:]

        # Root: place our root joint on the source root, scaled by leg length.
        root_name = mapping.get(self.joint_names[0])
        src_root = motion.root_positions.astype(np.float64)
        if root_name is not None and src_index[root_name] != 0:
            src_root = motion.global_positions()[:, src_index[root_name]].astype(np.float64)
        scale = self._leg_length(self.rest, self.joint_names, self.joint_names) / self._leg_length(
            src_rest, motion.joint_names, [mapping.get(n, "") for n in self.joint_names]
        )
        transl = scale * src_root - self.rest[0]
        as_t = lambda x: torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))  # noqa: E731
        return BodyMotion(as_t(local), as_t(world[:, 0]), as_t(transl), motion.fps, motion.source)

    def _leg_length(self, rest: np.ndarray, names, mapped) -> float:
        """Hip-to-ankle length of the left leg (thigh + shin) in ``rest``."""
        index = {n: i for i, n in enumerate(names)}
        ours = dict(zip(self.joint_names, mapped))
        chain = [index[ours[n]] for n in ("LeftUpLeg", "LeftLeg", "LeftFoot")]
        return float(np.linalg.norm(rest[chain[1]] - rest[chain[0]]) + np.linalg.norm(rest[chain[2]] - rest[chain[1]]))


def bone_direction_errors(motion: Motion, body_joints: np.ndarray, joint_names, bones=REPORT_BONES) -> np.ndarray:
    """Angles (degrees) between corresponding bone directions of a source motion and a posed body.

    Args:
        motion: the source motion (``T`` frames).
        body_joints: ``(T, J, 3)`` posed body joints (e.g. ``body(...).joints``), metres.
        joint_names: the body's joint names.
        bones: body joint pairs to compare; pairs whose ends are not both mapped are skipped.

    Returns:
        ``(T, B)`` angles in degrees for the ``B`` comparable bones.
    """
    mapping = JOINT_MAPS[motion.skeleton]
    src_pos = motion.global_positions().astype(np.float64)
    src_index = {n: i for i, n in enumerate(motion.joint_names)}
    ours = {n: i for i, n in enumerate(joint_names)}
    angles = []
    for a, b in bones:
        if a not in mapping or b not in mapping:
            continue
        d_src = src_pos[:, src_index[mapping[b]]] - src_pos[:, src_index[mapping[a]]]
        d_body = body_joints[:, ours[b]] - body_joints[:, ours[a]]
        cos = np.sum(d_src * d_body, -1) / (np.linalg.norm(d_src, axis=-1) * np.linalg.norm(d_body, axis=-1) + 1e-12)
        angles.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    return np.stack(angles, axis=1)
