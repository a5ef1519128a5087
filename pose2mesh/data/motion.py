"""The common :class:`Motion` container, the known-skeleton table and the parse cache.

Coordinate conventions (every :class:`Motion` obeys them, whatever file it came from):

* Units: **metres** (offsets and root positions). Readers convert on load: CMU
  length units (inches / 0.45, BVH "Motionbuilder" / "3dsMax" releases and
  ASF/AMC) x ``0.0254 / 0.45`` (~0.056444, CMU FAQ); Daz-friendly BVH
  (centimetres) x 0.01; the third-party ``*_scaled`` Daz files x 1.28.
* Axes: kept as in the file, **+Y up**. The CMU BVH releases face +Z in frame 0;
  we do not re-orient (the body layers of this library are also Y-up), so no
  axis swap happens anywhere in :mod:`pose2mesh.data`.
* Rotations: ``rotations[t, j]`` is the **local** 3x3 rotation matrix of joint
  ``j`` relative to its parent (column-vector convention, ``x_parent = R @
  x_child``), float32. Forward kinematics::

      G[root] = R[root];              p[root] = root_positions
      G[j]    = G[parent] @ R[j];     p[j]    = p[parent] + G[parent] @ offsets[j]

  ``offsets[0]`` (the root's rest OFFSET) is kept for reference but FK takes
  the root from ``root_positions``.
* Cache files store rotations as float32 unit quaternions, scalar-last
  ``(x, y, z, w)`` (scipy / roma convention); never float16, never pickle.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import numbers
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

logger = logging.getLogger(__name__)

#: Bumped whenever a reader or the cache layout changes: old cache entries are then ignored.
READER_VERSION = "2"

#: Metres per CMU length unit (ASF ``length 0.45``: one unit = 1/0.45 inch).
CMU_UNIT_M = 0.0254 / 0.45

_MB2_JOINTS = (
    "Hips", "LHipJoint", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "RHipJoint",
    "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase", "LowerBack", "Spine", "Spine1",
    "Neck", "Neck1", "Head", "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand",
    "LeftFingerBase", "LeftHandIndex1", "LThumb", "RightShoulder", "RightArm", "RightForeArm",
    "RightHand", "RightFingerBase", "RightHandIndex1", "RThumb",
)
_MAX_JOINTS = (
    "Hips", "LHipJoint", "LeftHip", "LeftKnee", "LeftAnkle", "LeftToe", "RHipJoint", "RightHip",
    "RightKnee", "RightAnkle", "RightToe", "lowerback", "Chest", "Chest2", "lowerneck", "Neck",
    "Head", "LeftCollar", "LeftShoulder", "LeftElbow", "LeftWrist", "lhand", "LFingers", "LThumb",
    "RightCollar", "RightShoulder", "RightElbow", "RightWrist", "rhand", "RFingers", "RThumb",
)
_DAZ_JOINTS = (
    "hip", "abdomen", "chest", "neck", "head", "leftEye", "rightEye", "rCollar", "rShldr",
    "rForeArm", "rHand", "rThumb1", "rThumb2", "rIndex1", "rIndex2", "rMid1", "rMid2", "rRing1",
    "rRing2", "rPinky1", "rPinky2", "lCollar", "lShldr", "lForeArm", "lHand", "lThumb1",
    "lThumb2", "lIndex1", "lIndex2", "lMid1", "lMid2", "lRing1", "lRing2", "lPinky1", "lPinky2",
    "rButtock", "rThigh", "rShin", "rFoot", "lButtock", "lThigh", "lShin", "lFoot",
)


@dataclass(frozen=True)
class SkeletonSpec:
    """One known skeleton: its joint-name set, metres per file unit, and whether
    frame 0 is a converter T-pose / reference pose that should be dropped."""

    name: str
    joints: frozenset
    metres_per_unit: float
    tpose_frame0: bool
    description: str


#: Known BVH skeletons, matched by their joint-name *set* (order-free). Two
#: entries may share a set (Daz vs. its 1/128-scaled copy): the one giving a
#: human-sized rest pose (0.5 m - 2.5 m tall) wins. Add a row to support a new skeleton.
KNOWN_SKELETONS: tuple[SkeletonSpec, ...] = (
    SkeletonSpec("cmu_mb2_31joint", frozenset(_MB2_JOINTS), CMU_UNIT_M, True,
                 "cgspeed Motionbuilder-friendly CMU BVH, CMU units"),
    SkeletonSpec("cmu_3dsmax", frozenset(_MAX_JOINTS), CMU_UNIT_M, False,
                 "cgspeed 3dsMax-friendly CMU BVH, CMU units"),
    SkeletonSpec("cmu_daz_43joint", frozenset(_DAZ_JOINTS), 0.01, True,
                 "cgspeed Daz-friendly CMU BVH, centimetres"),
    SkeletonSpec("cmu_daz_43joint_scaled", frozenset(_DAZ_JOINTS), 1.28, True,
                 "Daz-friendly BVH rescaled by 1/128 by a third party"),
)
#: ASF/AMC motions get this skeleton id (units come from the ASF ``:units`` section).
ASF_SKELETON = "cmu_asf"


def known_skeleton_names() -> list[str]:
    """Ids of every skeleton in :data:`KNOWN_SKELETONS` plus ``'cmu_asf'``."""
    return [s.name for s in KNOWN_SKELETONS] + [ASF_SKELETON]


def _rest_height(parents, offsets: np.ndarray) -> float:
    """Vertical (Y) extent of the rest pose, in the offsets' units."""
    pos = np.zeros((len(parents), 3))
    for j, p in enumerate(parents):
        if p >= 0:
            pos[j] = pos[p] + offsets[j]
    return float(np.ptp(pos[:, 1]))


def resolve_skeleton(joint_names, parents=None, offsets=None) -> SkeletonSpec:
    """The :class:`SkeletonSpec` whose joint-name set equals ``joint_names``.

    ``parents``/``offsets`` (file units) break ties between specs with the same
    names by picking the one whose rest pose is 0.5-2.5 m tall.

    Raises:
        ValueError: no known skeleton matches (or the names match but no unit gives
            a 0.5-2.5 m rest pose); the message lists the known ones.
    """
    names = frozenset(joint_names)
    by_name = [s for s in KNOWN_SKELETONS if s.joints == names]
    cands = by_name
    if len(cands) > 1 and offsets is not None:
        h = _rest_height(parents, np.asarray(offsets, dtype=np.float64))
        cands = [s for s in cands if 0.5 <= h * s.metres_per_unit <= 2.5]
    if len(cands) != 1:
        known = ", ".join(f"{s.name} ({len(s.joints)} joints)" for s in KNOWN_SKELETONS)
        if by_name and not cands:
            heights = ", ".join(f"{h * s.metres_per_unit:.3g} m as {s.name}" for s in by_name)
            what = (f"the joint names match {', '.join(s.name for s in by_name)}, but the rest "
                    f"height is implausible ({heights}; expected 0.5-2.5 m)")
        else:
            what = (f"{'no' if not cands else 'an ambiguous'} known skeleton for the {len(names)} "
                    f"joints {sorted(names)[:6]}...")
        raise ValueError(
            f"{what}; known skeletons: {known}. To read it anyway, give the unit from Python: "
            "read_bvh(..., scale=...) or load_motion(..., scale=...) (metres per file unit); "
            "or add a row to pose2mesh.data.motion.KNOWN_SKELETONS.")
    return cands[0]


def check_scale(scale: float | None) -> float | None:
    """``scale`` (metres per file unit) as a float, or ``None``.

    Raises:
        ValueError: unless ``None`` or a finite number > 0.
    """
    if scale is None:
        return None
    real = isinstance(scale, numbers.Real) and not isinstance(scale, bool)
    value = float(scale) if real else float("nan")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"scale (metres per file unit) must be a finite number > 0, got {scale!r}")
    return value


def resample_weights(num_frames: int, src_fps: float, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Source frame pairs and weights of a resampling from ``src_fps`` to ``fps``.

    New frame ``k`` is at time ``k / fps``; frames run while the time stays within
    the clip ``[0, (T - 1) / src_fps]``.  Returns ``(i0 (n,), w (n,))``: new frame
    ``k`` interpolates source frames ``i0[k]`` and ``i0[k] + 1`` with weight ``w[k]``
    on the second.  Needs ``num_frames >= 2``.

    Frame times in files are rounded (CMU's ``.0083333`` is 120.0005 fps): then
    a clip whose duration is a whole number of new frames can end a hair short
    of its last one, which is dropped. Kept as it is so that the shipped pose
    prior and the evaluation test sets rebuild exactly (a relative tolerance
    would add a frame to 30 of the 163 training clips at 30 fps).
    """
    duration = (num_frames - 1) / src_fps
    n = int(np.floor(duration * fps + 1e-6)) + 1
    src = np.arange(n) * (src_fps / fps)  # fractional source frame index
    i0 = np.minimum(np.floor(src + 1e-6).astype(np.int64), num_frames - 2)
    return i0, np.clip(src - i0, 0.0, 1.0)


def slerp(q0: np.ndarray, q1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Shortest-arc slerp of unit quaternions ``(..., 4)`` with weights ``w`` broadcastable to ``(...,)``."""
    dot = np.sum(q0 * q1, axis=-1)
    q1 = np.where(dot[..., None] < 0, -q1, q1)
    dot = np.abs(dot).clip(max=1.0)
    theta = np.arccos(dot)
    sin = np.sin(theta)
    # Near-identical quaternions: sin(theta) -> 0, fall back to lerp (then renormalise).
    small = sin < 1e-6
    safe = np.where(small, 1.0, sin)
    a = np.where(small, 1.0 - w, np.sin((1.0 - w) * theta) / safe)
    b = np.where(small, w, np.sin(w * theta) / safe)
    q = a[..., None] * q0 + b[..., None] * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


@dataclass
class Motion:
    """A skeletal motion clip in the library frame (metres, +Y up).

    Attributes:
        joint_names: ``J`` names, root first.
        parents: ``J`` parent indices, ``parents[0] == -1`` and ``parents[j] < j``.
        offsets: ``(J, 3)`` float32 rest offsets from the parent joint, metres,
            in the parent's frame.
        rotations: ``(T, J, 3, 3)`` float32 local rotation matrices.
        root_positions: ``(T, 3)`` float32 root translation, metres.
        fps: frames per second.
        source: where it came from (usually the file path).
        skeleton: skeleton id, e.g. ``'cmu_mb2_31joint'`` (see :func:`known_skeleton_names`).
    """

    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    rotations: np.ndarray
    root_positions: np.ndarray
    fps: float
    source: str = ""
    skeleton: str = "unknown"

    def __post_init__(self) -> None:
        self.joint_names = tuple(str(n) for n in self.joint_names)
        self.parents = tuple(int(p) for p in self.parents)
        self.offsets = np.asarray(self.offsets, dtype=np.float32)
        self.rotations = np.asarray(self.rotations, dtype=np.float32)
        self.root_positions = np.asarray(self.root_positions, dtype=np.float32)
        self.fps = float(self.fps)
        J = len(self.joint_names)
        if len(self.parents) != J or not J or self.parents[0] != -1:
            raise ValueError(f"parents must have {J} entries with parents[0] == -1, got {self.parents}")
        if any(not 0 <= p < j for j, p in enumerate(self.parents) if j):
            raise ValueError(f"parents must satisfy 0 <= parents[j] < j for j > 0, got {self.parents}")
        T = self.rotations.shape[0] if self.rotations.ndim == 4 else -1
        if self.offsets.shape != (J, 3) or self.rotations.shape != (T, J, 3, 3) \
                or self.root_positions.shape != (T, 3):
            raise ValueError(
                f"expected offsets (J, 3), rotations (T, J, 3, 3), root_positions (T, 3) with J={J}; "
                f"got {self.offsets.shape}, {self.rotations.shape}, {self.root_positions.shape}")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    @property
    def num_frames(self) -> int:
        """``T``."""
        return self.rotations.shape[0]

    @property
    def num_joints(self) -> int:
        """``J``."""
        return len(self.joint_names)

    def __repr__(self) -> str:
        return (f"Motion(skeleton={self.skeleton!r}, joints={self.num_joints}, "
                f"frames={self.num_frames}, fps={self.fps:g}, source={self.source!r})")

    def global_positions(self) -> np.ndarray:
        """Forward kinematics: joint positions ``(T, J, 3)`` float32, metres, library frame."""
        R = self.rotations.astype(np.float64)
        T, J = R.shape[:2]
        G = np.empty_like(R)
        pos = np.empty((T, J, 3))
        G[:, 0] = R[:, 0]
        pos[:, 0] = self.root_positions
        off = self.offsets.astype(np.float64)
        for j in range(1, J):
            p = self.parents[j]
            G[:, j] = G[:, p] @ R[:, j]
            pos[:, j] = pos[:, p] + G[:, p] @ off[j]
        return pos.astype(np.float32)

    def replace(self, **changes) -> "Motion":
        """A copy with some fields replaced (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def drop_first_frame(self) -> "Motion":
        """Drop frame 0 (the T-pose the cgspeed BVH converter prepends)."""
        if self.num_frames < 2:
            raise ValueError(f"{self}: cannot drop the only frame")
        return self.replace(rotations=self.rotations[1:], root_positions=self.root_positions[1:])

    def resample(self, fps: float) -> "Motion":
        """Resample to ``fps``: slerp for rotations, linear for root positions.

        New frame ``k`` is at time ``k / fps``; frames run while the time stays
        within the clip, ``[0, (T - 1) / self.fps]``, so the first frame is kept
        and the last one is kept whenever the duration is a multiple of
        ``1 / fps`` (e.g. 120 -> 60 fps with an odd ``T`` gives ``(T + 1) / 2`` frames)
        and ``self.fps`` is exact; with a rounded frame time such as CMU's
        ``Frame Time: .0083333`` (120.0005 fps) it may be dropped
        (:func:`resample_weights`).
        """
        fps = float(fps)
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        T = self.num_frames
        if fps == self.fps or T == 1:
            return self.replace(fps=fps)
        i0, w = resample_weights(T, self.fps, fps)
        n, J = len(i0), self.num_joints
        q = Rotation.from_matrix(self.rotations.reshape(-1, 3, 3).astype(np.float64)).as_quat()
        q = q.reshape(T, J, 4)
        qn = slerp(q[i0], q[i0 + 1], np.broadcast_to(w[:, None], (n, J)))
        rot = Rotation.from_quat(qn.reshape(-1, 4)).as_matrix().reshape(n, J, 3, 3)
        rp = self.root_positions.astype(np.float64)
        root = (1 - w)[:, None] * rp[i0] + w[:, None] * rp[i0 + 1]
        return self.replace(rotations=rot, root_positions=root, fps=fps)

    # ---- cache -----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write a compressed ``.npz`` (float32 quaternions ``(x, y, z, w)``; no pickle)."""
        T, J = self.rotations.shape[:2]
        q = Rotation.from_matrix(self.rotations.reshape(-1, 3, 3).astype(np.float64)).as_quat()
        np.savez_compressed(
            path,
            format_version=np.array(READER_VERSION),
            joint_names=np.array(self.joint_names, dtype=str),
            parents=np.array(self.parents, dtype=np.int32),
            offsets=self.offsets,
            quaternions_xyzw=q.reshape(T, J, 4).astype(np.float32),
            root_positions=self.root_positions,
            fps=np.array(self.fps),
            source=np.array(self.source),
            skeleton=np.array(self.skeleton),
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Motion":
        """Read a file written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            q = z["quaternions_xyzw"].astype(np.float64)
            T, J = q.shape[:2]
            rot = Rotation.from_quat(q.reshape(-1, 4)).as_matrix().reshape(T, J, 3, 3)
            return cls(tuple(z["joint_names"].tolist()), tuple(z["parents"].tolist()), z["offsets"],
                       rot, z["root_positions"], float(z["fps"]), str(z["source"]), str(z["skeleton"]))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _strip_suffixes(path: Path) -> tuple[str, str]:
    """``('01_01', '.bvh')`` for ``01_01.bvh.gz``."""
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    stem, _, ext = name.rpartition(".")
    return stem, "." + ext.lower()


def find_asf_for_amc(amc_path: str | os.PathLike) -> Path:
    """The subject's skeleton next to an AMC file: ``NN_MM.amc[.gz]`` -> ``NN.asf[.gz]``."""
    amc_path = Path(amc_path)
    subject = _strip_suffixes(amc_path)[0].split("_")[0]
    for name in (f"{subject}.asf", f"{subject}.asf.gz", f"{subject}.ASF"):
        if (amc_path.parent / name).exists():
            return amc_path.parent / name
    raise FileNotFoundError(
        f"no ASF skeleton for '{amc_path}': expected '{subject}.asf' or '{subject}.asf.gz' "
        f"in '{amc_path.parent}' (CMU ships one NN.asf per subject); pass asf_path=")


def _read_any(path: Path, asf_path: Path | None, scale: float | None) -> Motion:
    from pose2mesh.data.asf_amc import read_amc, read_asf
    from pose2mesh.data.bvh import read_bvh
    ext = _strip_suffixes(path)[1]
    if ext == ".bvh":
        return read_bvh(path, scale=scale)
    if ext == ".amc":
        return read_amc(path, read_asf(asf_path or find_asf_for_amc(path)))
    raise ValueError(f"unsupported motion file '{path}': choose one of .bvh, .bvh.gz, .amc, .amc.gz")


def load_motion(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None,
                fps: float | None = 30.0, *, drop_tpose: bool | None = None,
                asf_path: str | os.PathLike | None = None, scale: float | None = None) -> Motion:
    """Parse a BVH or AMC file once, convert it to metres, resample and cache it.

    Args:
        path: ``.bvh``, ``.bvh.gz``, ``.amc`` or ``.amc.gz``. For AMC the skeleton is
            ``asf_path`` or the subject's ``NN.asf[.gz]`` in the same folder.
        cache_dir: folder for ``.npz`` cache entries (created if missing); ``None``
            disables caching. The key is sha256(file bytes) + sha256(ASF) +
            :data:`READER_VERSION` + ``fps`` + ``drop_tpose`` + ``scale``, so an edited file or a
            new reader is re-parsed, and a hit never reads the text.
        fps: target frame rate (slerp / linear resampling); ``None`` keeps the file's.
        drop_tpose: drop frame 0; ``None`` = as the skeleton table says (True for
            the cgspeed MB2/Daz releases whose frame 0 is a T/reference pose).
        asf_path: the ASF of an AMC file, when not next to it as ``NN.asf[.gz]``.
        scale: BVH only: metres per file unit (a finite number > 0) for a skeleton
            not in the table (see :func:`~pose2mesh.data.bvh.read_bvh`).

    Returns:
        :class:`Motion` in metres, +Y up.
    """
    scale = check_scale(scale)  # also the cache key's
    path = Path(path)
    asf = Path(asf_path) if asf_path is not None else None
    if _strip_suffixes(path)[1] == ".amc" and asf is None:
        asf = find_asf_for_amc(path)
    cache_file = None
    if cache_dir is not None:
        key = "|".join([_sha256(path), _sha256(asf) if asf else "", READER_VERSION,
                        repr(None if fps is None else float(fps)), repr(drop_tpose), repr(scale)])
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        cache_file = Path(cache_dir) / f"{_strip_suffixes(path)[0]}-{digest}.npz"
        if cache_file.exists():
            logger.debug("cache hit %s -> %s", path, cache_file)
            return Motion.load(cache_file)
    motion = _read_any(path, asf, scale)
    if drop_tpose is None:
        drop_tpose = any(s.name == motion.skeleton and s.tpose_frame0 for s in KNOWN_SKELETONS)
    if drop_tpose:
        motion = motion.drop_first_frame()
    if fps is not None:
        motion = motion.resample(fps)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary name then rename: concurrent loaders never see half a file.
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=cache_file.parent)
        os.close(fd)
        try:
            motion.save(tmp)
            os.replace(tmp, cache_file)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        # Return what the cache holds (rotations through float32 quaternions), so a
        # first load and later cache hits give bit-identical motions.
        return Motion.load(cache_file)
    return motion


#: File endings of motion files :func:`find_motion_files` collects.
MOTION_SUFFIXES = (".bvh", ".bvh.gz", ".amc", ".amc.gz")


def find_motion_files(folder: str | os.PathLike) -> list[Path]:
    """Every motion file (BVH or AMC, optionally gzipped) below ``folder``, sorted by path.

    Raises:
        FileNotFoundError: if ``folder`` does not exist.
        NotADirectoryError: if ``folder`` is a file.
    """
    folder = Path(folder)
    if folder.is_file():
        raise NotADirectoryError(f"motion folder '{folder}' is a file: give the folder that holds the motion files")
    if not folder.is_dir():
        raise FileNotFoundError(f"motion folder '{folder}' not found")
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(MOTION_SUFFIXES))


def subject_of(path: str | os.PathLike) -> str:
    """The CMU subject id of a motion file named ``NN_MM.*`` (e.g. ``'01'`` for ``01_02.bvh.gz``).

    Raises:
        ValueError: if the name does not follow CMU's ``subject_trial`` pattern.
    """
    name = Path(path).name
    subject, sep, _ = name.partition("_")
    if not sep or not subject.isdigit():
        raise ValueError(f"'{name}' is not named like a CMU motion file (SUBJECT_TRIAL.bvh)")
    return subject
