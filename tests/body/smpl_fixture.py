"""Synthetic SMPL / SMPL-H / SMPL-X model files for tests (no licensed data).

:func:`write_synthetic_smpl` writes a small but *valid* model file in the
format ``smplx`` reads, laid out as ``smplx.create`` expects::

    folder/smpl/SMPL_NEUTRAL.pkl      (pickled dict, like the official file)
    folder/smplh/SMPLH_NEUTRAL.npz    (npz, like the AMASS "extended SMPL+H")
    folder/smplx/SMPLX_NEUTRAL.npz

It is reused by other tests (e.g. the AMASS loader): keep the signature stable.

The body is made of one small sphere-like cluster of vertices around each joint
of a plausible T-pose skeleton in SMPL's frame (metres, **Y up, X towards the
body's left, Z forward** -- the frame of the real SMPL template, whose left hip
joint has x > 0 and whose nose vertex has z > 0).  Every vertex is skinned
one-hot to the joint of its cluster and ``J_regressor`` is the mean of each
cluster, so a joint's rotation moves exactly the clusters of the joint and its
descendants.  The vertex count is the real one (6890 for SMPL / SMPL-H, 10475
for SMPL-X) because ``smplx`` selects extra keypoints with the hard-coded
vertex indices of ``smplx.vertex_ids``; those vertices (nose, eyes, ears, toes,
heels, finger tips) are placed at plausible spots next to their joint.

Blend shapes: ``shapedirs[..., 0]`` scales the body about the origin (+5 % per
unit), the others move each cluster by a small random offset; ``posedirs``
couples each joint's rotation feature to its own cluster only, with small
random coefficients (so they are exercised but never move other clusters).
Everything is deterministic (``numpy.random.default_rng(seed)``).
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import scipy.sparse
from smplx.joint_names import JOINT_NAMES, SMPLH_JOINT_NAMES
from smplx.vertex_ids import vertex_ids as VERTEX_IDS

__all__ = ["write_synthetic_smpl", "SMPL_JOINT_NAMES", "SMPL_PARENTS", "joint_names", "parents"]

#: SMPL's 24 joints (smplx's body joints plus SMPL's two hand joints).
SMPL_JOINT_NAMES: tuple[str, ...] = tuple(JOINT_NAMES[:22]) + ("left_hand", "right_hand")
#: SMPL's kinematic tree (``kintree_table[0]`` of the official files, root = -1).
SMPL_PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

_PREFIX = {"smpl": "SMPL", "smplh": "SMPLH", "smplx": "SMPLX"}
_DEFAULT_EXT = {"smpl": "pkl", "smplh": "npz", "smplx": "npz"}
_NUM_VERTICES = {"smpl": 6890, "smplh": 6890, "smplx": 10475}
_FINGERS = ("index", "middle", "pinky", "ring", "thumb")  # smplx's order of hand joints

# Left-side T-pose joint positions in metres (right side = mirrored x), close to
# the real SMPL neutral template's (pelvis ~0.23 m below the origin).
_BODY_JOINTS = {
    "pelvis": (0.0, -0.23, 0.02),
    "left_hip": (0.06, -0.32, 0.02),
    "spine1": (0.0, -0.12, -0.01),
    "left_knee": (0.10, -0.70, 0.01),
    "spine2": (0.0, 0.02, 0.00),
    "left_ankle": (0.09, -1.10, -0.03),
    "spine3": (0.0, 0.08, 0.02),
    "left_foot": (0.12, -1.16, 0.09),
    "neck": (0.0, 0.29, -0.01),
    "left_collar": (0.08, 0.20, 0.0),
    "head": (0.0, 0.38, 0.04),
    "left_shoulder": (0.19, 0.23, -0.01),
    "left_elbow": (0.45, 0.21, -0.03),
    "left_wrist": (0.71, 0.22, -0.02),
    "left_hand": (0.79, 0.21, -0.02),
    "jaw": (0.0, 0.36, 0.06),
    "left_eye_smplhf": (0.03, 0.43, 0.10),
}
# Finger base offset from the wrist (x along the arm, z forward); thumb points forward-out.
_FINGER_BASE = {"index": (0.09, 0.03), "middle": (0.09, 0.01), "ring": (0.085, -0.01), "pinky": (0.08, -0.03),
                "thumb": (0.03, 0.04)}
_PHALANX = 0.03  # metres between finger joints (and from the last joint to the tip)

# Single-vertex keypoints of smplx.vertex_ids: (owner joint, offset from it) on the left side.
_FACE_FEET = {
    "nose": ("head", (0.0, 0.02, 0.10)),
    "leye": ("head", (0.03, 0.05, 0.08)),
    "lear": ("head", (0.07, 0.03, 0.0)),
    "LBigToe": ("left_foot", (0.02, -0.03, 0.08)),
    "LSmallToe": ("left_foot", (0.06, -0.03, 0.06)),
    "LHeel": ("left_ankle", (0.0, -0.07, -0.05)),
}


def joint_names(model_type: str) -> tuple[str, ...]:
    """Joint names of the skeleton written for ``model_type`` (as smplx orders them)."""
    if model_type == "smpl":
        return SMPL_JOINT_NAMES
    if model_type == "smplh":
        return tuple(SMPLH_JOINT_NAMES[:52])
    if model_type == "smplx":
        return tuple(JOINT_NAMES[:55])
    raise ValueError(f"unknown model_type {model_type!r}; choose one of: smpl, smplh, smplx")


def parents(model_type: str) -> tuple[int, ...]:
    """Kinematic tree (parent index per joint, root = -1) written for ``model_type``."""
    names = joint_names(model_type)
    if model_type == "smpl":
        return SMPL_PARENTS
    index = {n: i for i, n in enumerate(names)}
    out = list(SMPL_PARENTS[:22])
    for name in names[22:]:
        side = "left" if name.startswith("left") else "right"
        if name in ("jaw", "left_eye_smplhf", "right_eye_smplhf"):
            out.append(index["head"])
        elif name.endswith("1"):
            out.append(index[f"{side}_wrist"])
        else:  # finger joint 2 or 3: parent is the previous phalanx
            out.append(index[name[:-1] + str(int(name[-1]) - 1)])
    return tuple(out)


def _mirror(name: str) -> str:
    return name.replace("left", "right") if name.startswith("left") else name


def _joint_positions(model_type: str) -> np.ndarray:
    """``(J, 3)`` T-pose joint positions in metres."""
    table = dict(_BODY_JOINTS)
    wrist = np.array(_BODY_JOINTS["left_wrist"])
    for finger, (dx, dz) in _FINGER_BASE.items():
        for k in (1, 2, 3):
            table[f"left_{finger}{k}"] = tuple(wrist + (dx + (k - 1) * _PHALANX, 0.0, dz))
    for name, pos in list(table.items()):
        if name.startswith("left"):
            table[_mirror(name)] = (-pos[0], pos[1], pos[2])
    return np.array([table[n] for n in joint_names(model_type)], dtype=np.float64)


def _keypoint_vertices(model_type: str, joints: np.ndarray) -> dict[int, tuple[int, np.ndarray]]:
    """``{vertex index: (owner joint, position)}`` for the vertices of ``smplx.vertex_ids``."""
    names = joint_names(model_type)
    index = {n: i for i, n in enumerate(names)}
    table = VERTEX_IDS["smplx" if model_type == "smplx" else "smplh"]
    out = {}
    for side, short, big in (("left", "l", "L"), ("right", "r", "R")):
        sign = 1.0 if side == "left" else -1.0
        for key, (owner, offset) in _FACE_FEET.items():
            if key in ("nose",) and side == "right":
                continue
            vid_key = key.replace("l", short, 1) if key[0] == "l" else key.replace("L", big, 1)
            owner = owner.replace("left", side)
            pos = joints[index[owner]] + np.array(offset) * (sign, 1.0, 1.0)
            out[table[vid_key]] = (index[owner], pos)
        wrist = np.array(_BODY_JOINTS["left_wrist"])
        for finger, (dx, dz) in _FINGER_BASE.items():
            tip = wrist + (dx + 3 * _PHALANX, -0.005, dz)
            owner = f"{side}_{finger}3" if model_type != "smpl" else f"{side}_hand"
            out[table[short + finger]] = (index[owner], tip * (sign, 1.0, 1.0))
    return out


def _cluster(n: int, center: np.ndarray, radius: float, rng: np.random.Generator, turn: int):
    """``n`` points on a spiral over a sphere around ``center`` and the strip of triangles joining them."""
    k = np.arange(n)
    z = -1.0 + 2.0 * (k + 0.5) / n
    ring = np.sqrt(np.clip(1.0 - z**2, 0.0, None))
    angle = 2.0 * np.pi * k / turn
    unit = np.stack([ring * np.cos(angle), z, ring * np.sin(angle)], 1)
    points = center + radius * (unit + 0.05 * rng.standard_normal((n, 3)))
    a = np.arange(max(n - turn - 1, 0))
    faces = np.concatenate([np.stack([a, a + 1, a + turn], 1), np.stack([a + 1, a + turn + 1, a + turn], 1)])
    return points, faces


def write_synthetic_smpl(
    folder: str | Path,
    model_type: str = "smpl",
    gender: str = "neutral",
    num_betas: int = 10,
    *,
    ext: str | None = None,
    seed: int = 0,
) -> Path:
    """Write a synthetic ``model_type`` model file under ``folder`` and return its path.

    Args:
        folder: root folder; the file goes to ``folder/<model_type>/<PREFIX>_<GENDER>.<ext>``
            (e.g. ``folder/smpl/SMPL_NEUTRAL.pkl``), the layout of ``smplx.create``.
        model_type: ``"smpl"`` (24 joints), ``"smplh"`` (52) or ``"smplx"`` (55).
        gender: ``"neutral"``, ``"male"`` or ``"female"`` (only the file name changes).
        num_betas: shape components written.  As with the real files, smplx uses
            at most 10 of them unless there are 300.  For SMPL-X, 10 expression
            components are appended after the (zero-padded) first 10 betas.
        ext: ``"pkl"`` or ``"npz"``; default: ``pkl`` for SMPL (smplx reads SMPL
            from pickles only), ``npz`` otherwise.
        seed: seed of the deterministic random parts (jitter, blend shapes).

    Returns:
        Path of the written file.
    """
    names = joint_names(model_type)
    ext = ext or _DEFAULT_EXT[model_type]
    if ext not in ("pkl", "npz") or (model_type == "smpl" and ext != "pkl"):
        raise ValueError(f"ext {ext!r} is not readable by smplx for {model_type}")
    rng = np.random.default_rng(seed)
    num_joints = len(names)
    num_vertices = _NUM_VERTICES[model_type]
    joints = _joint_positions(model_type)
    is_finger = np.array([any(f in n for f in _FINGERS) for n in names])
    radius = np.where(is_finger, 0.008, 0.03)
    radius[[i for i, n in enumerate(names) if "eye" in n or n == "jaw"]] = 0.01
    radius[names.index("head")] = 0.06

    # Contiguous blocks of vertices, one cluster per joint.
    blocks = np.array_split(np.arange(num_vertices), num_joints)
    vertices = np.zeros((num_vertices, 3))
    owner = np.zeros(num_vertices, dtype=np.int64)
    faces = []
    for j, block in enumerate(blocks):
        points, tri = _cluster(len(block), joints[j], radius[j], rng, turn=8)
        vertices[block] = points
        owner[block] = j
        faces.append(tri + block[0])
    faces = np.concatenate(faces)

    # Keypoint vertices: move them next to their joint; keep them out of the
    # regressor and of the faces (their cluster neighbours are elsewhere).
    special = _keypoint_vertices(model_type, joints)
    for vid, (j, pos) in special.items():
        vertices[vid] = pos
        owner[vid] = j
    is_special = np.zeros(num_vertices, dtype=bool)
    is_special[list(special)] = True
    faces = faces[~is_special[faces].any(1)]

    weights = np.zeros((num_vertices, num_joints))
    weights[np.arange(num_vertices), owner] = 1.0
    regular = ~is_special
    j_regressor = np.zeros((num_joints, num_vertices))
    for j in range(num_joints):
        members = np.flatnonzero((owner == j) & regular)
        j_regressor[j, members] = 1.0 / len(members)

    shapedirs = np.zeros((num_vertices, 3, num_betas))
    if num_betas:
        shapedirs[..., 0] = 0.05 * vertices
        shapedirs[..., 1:] = 0.01 * rng.standard_normal((num_joints, 3, num_betas - 1))[owner]
        shapedirs[..., 1:] += 0.001 * rng.standard_normal((num_vertices, 3, num_betas - 1))
    if model_type == "smplx":  # smplx reads expressions from components 10:20 of < 400-component files
        padded = np.zeros((num_vertices, 3, 20))
        padded[..., : min(num_betas, 10)] = shapedirs[..., :10]
        on_head = (owner == names.index("head"))[:, None, None]
        padded[..., 10:] = 0.002 * rng.standard_normal((num_vertices, 3, 10)) * on_head
        shapedirs = padded

    # Pose blend shapes (V, 3, 9 * (J - 1)): joint j's feature moves only its own cluster.
    posedirs = np.zeros((num_vertices, 3, 9 * (num_joints - 1)), dtype=np.float32)
    for j in range(1, num_joints):
        members = owner == j
        posedirs[members, :, 9 * (j - 1): 9 * j] = 1e-3 * rng.standard_normal((members.sum(), 3, 9))

    kintree = np.array([parents(model_type), np.arange(num_joints)], dtype=np.int64)
    kintree[0, 0] = 4294967295  # as in the official files (uint32 -1); smplx resets it to -1

    data = {
        "v_template": vertices,
        "f": faces.astype(np.uint32),
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": j_regressor,
        "weights": weights,
        "kintree_table": kintree,
    }
    if model_type in ("smplh", "smplx"):
        for side in "lr":  # PCA hand basis (unused: SMPLBody uses full hand poses and a flat mean)
            data[f"hands_components{side}"] = np.eye(45)
            data[f"hands_mean{side}"] = np.zeros(45)
    if model_type == "smplx":  # static face landmarks: barycentres of faces of the head cluster
        head_faces = np.flatnonzero(owner[faces[:, 0]] == names.index("head"))[:51]
        data["lmk_faces_idx"] = head_faces.astype(np.int64)
        data["lmk_bary_coords"] = np.full((len(head_faces), 3), 1.0 / 3.0)

    path = Path(folder) / model_type / f"{_PREFIX[model_type]}_{gender.upper()}.{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if ext == "pkl":
        if model_type == "smpl":  # the official SMPL file stores J_regressor as a scipy sparse matrix
            data["J_regressor"] = scipy.sparse.csc_matrix(j_regressor)
        with open(path, "wb") as handle:
            pickle.dump(data, handle, protocol=4)
    else:
        np.savez_compressed(path, **data)
    return path
