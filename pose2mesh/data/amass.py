"""AMASS motions (SMPL-H fits of motion capture) as pose2mesh body motions.

For users who have AMASS (https://amass.is.tue.mpg.de) and the SMPL-H model;
neither is shipped with pose2mesh.  Only the SMPL+H ``.npz`` release is read
(``poses`` 156 wide); SMPL-X fits (165 wide) are rejected with a clear error.

File contents (one ``.npz`` per sequence; arrays read with ``allow_pickle=False``):

* ``poses (T, 156)``: axis-angle in radians, SMPL-H joint order: root (3), 21
  body joints (63), left hand (45), right hand (45); hands in smplx's finger
  order (index, middle, pinky, ring, thumb; 3 joints each), relative to the
  *flat* hand (AMASS's body model adds no hand mean, as ``SMPLBody``'s
  ``flat_hand_mean=True``).
* ``betas (B,)``: shape coefficients (16 in AMASS; a body uses its first
  ``num_betas``, missing trailing ones are zero).
* ``trans (T, 3)``: metres, added after the root rotation (smplx's ``transl``).
* ``mocap_framerate`` (``mocap_frame_rate`` is accepted too): frames per second.
* ``gender``: ``'male'``, ``'female'`` or ``'neutral'`` (str or bytes).
  Other keys (``dmpls``, ...) are ignored.

Frames.  AMASS is **Z up**; pose2mesh bodies are **Y up** (:mod:`pose2mesh.body.base`).
:func:`AmassMotion.to_body_motion` changes frame with :data:`AMASS_TO_YUP`
``R_c``, a -90 deg rotation about X (``+Z_amass -> +Y``, ``+Y_amass -> -Z``,
X kept).  The per-joint ``pose`` is unchanged (it is relative to the parent
in the body's own rest axes); only the root changes.  smplx rotates the body
about its rest root joint ``j0`` (the pelvis, which depends on ``betas``)::

    v = R_g (v_rest - j0) + j0 + t                       (AMASS frame)
    R_c v = R_c R_g (v_rest - j0) + j0 + t'              with t' = R_c (j0 + t) - j0

so ``global_orient' = R_c R_g`` and ``transl' = R_c (j0 + t) - j0``, with
``j0`` the rest pelvis of *the body and betas used to pose it*; posing with
other betas shifts the result by ``(R_c - I) (j0' - j0)`` (a few mm).

Importing this module pulls in torch and roma (imported here for the
axis-angle <-> quaternion / matrix conversions), not smplx.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import roma
import torch
from torch import Tensor

from pose2mesh.data.motion import resample_weights, slerp
from pose2mesh.data.retarget import BodyMotion

if TYPE_CHECKING:
    from pose2mesh.body.smpl import SMPLBody

__all__ = ["AmassMotion", "AmassBodyMotion", "read_amass", "load_amass", "AMASS_TO_YUP", "AMASS_URL"]

logger = logging.getLogger(__name__)

AMASS_URL = "https://amass.is.tue.mpg.de"

#: Rotation from AMASS's Z-up frame to the library's Y-up frame: -90 deg about X
#: (column vectors, ``x_yup = AMASS_TO_YUP @ x_amass``): +Z -> +Y, +Y -> -Z, X kept.
AMASS_TO_YUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

NUM_JOINTS = 52  # SMPL-H: root + 21 body + 2 * 15 hand joints
NUM_BODY_JOINTS = 21
NUM_HAND_JOINTS = 15
_GENDERS = ("neutral", "male", "female")
_FPS_KEYS = ("mocap_framerate", "mocap_frame_rate")


@dataclass
class AmassMotion:
    """One AMASS sequence, as stored (AMASS's Z-up frame, axis-angle).

    Attributes:
        poses: ``(T, 52, 3)`` float64 axis-angle (radians) of the SMPL-H joints:
            ``[:, 0]`` root, ``[:, 1:22]`` body, ``[:, 22:37]`` left hand,
            ``[:, 37:52]`` right hand.
        betas: ``(B,)`` float64 shape coefficients.
        trans: ``(T, 3)`` float64 root translation in metres (Z up).
        fps: frames per second.
        gender: ``'neutral'``, ``'male'`` or ``'female'``.
        source: the file it was read from.
    """

    poses: np.ndarray
    betas: np.ndarray
    trans: np.ndarray
    fps: float
    gender: str = "neutral"
    source: str = ""

    def __len__(self) -> int:
        return int(self.poses.shape[0])

    @property
    def num_frames(self) -> int:
        """Number of frames ``T``."""
        return len(self)

    def resample(self, fps: float) -> AmassMotion:
        """Resample to ``fps``: slerp for every rotation (:func:`pose2mesh.data.motion.slerp`), linear for ``trans``.

        New frame ``k`` is at time ``k / fps``; frames run while the time stays
        within the clip ``[0, (T - 1) / self.fps]`` (as :meth:`pose2mesh.data.Motion.resample`),
        so the first frame is kept, and the last one whenever the duration is a
        multiple of ``1 / fps`` (60 -> 30 fps: frames ``0, 2, 4, ...``).
        Interpolation follows the shortest arc between neighbouring frames.
        """
        fps = float(fps)
        if not (np.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be positive and finite, got {fps}")
        T = len(self)
        if fps == self.fps or T == 1:
            return dataclasses.replace(self, fps=fps)
        i0, w = resample_weights(T, self.fps, fps)
        q = roma.rotvec_to_unitquat(torch.as_tensor(self.poses, dtype=torch.float64)).numpy()  # xyzw
        q = slerp(q[i0], q[i0 + 1], np.broadcast_to(w[:, None], q[i0].shape[:2]))
        poses = roma.unitquat_to_rotvec(torch.from_numpy(q))
        trans = (1.0 - w)[:, None] * self.trans[i0] + w[:, None] * self.trans[i0 + 1]
        return dataclasses.replace(self, poses=poses.numpy(), trans=trans, fps=fps)

    def to_body_motion(self, body: SMPLBody, y_up: bool = True) -> AmassBodyMotion:
        """Express the motion in ``body``'s pose parameters (see the module docstring).

        Args:
            body: an :class:`~pose2mesh.body.smpl.SMPLBody` (``smplh``: the model
                AMASS was fitted with; ``smplx`` shares the 21 body joints and the
                hands; ``smpl``: its two hand joints get the identity).  Its gender
                should be the motion's (a mismatch is logged as a warning).
            y_up: convert to the library's Y-up frame (default); ``False`` keeps
                AMASS's Z-up frame (then ``global_orient`` and ``transl`` are the
                file's).

        Returns:
            :class:`AmassBodyMotion` in ``body``'s dtype and device: ``pose (T, N, 3, 3)``
            (N = ``body.num_pose_joints``), ``global_orient (T, 3, 3)``,
            ``transl (T, 3)`` for ``betas (1, body.num_betas)`` (the file's first
            ``num_betas``, zero-padded), and hand poses ``(T, 15, 3, 3)`` (``None``
            for SMPL).  ``body(**motion.body_inputs())`` poses the body.

        Raises:
            ValueError: for a body that is not SMPL / SMPL-H / SMPL-X.
        """
        model_type = getattr(body, "model_type", None)
        if model_type not in ("smpl", "smplh", "smplx"):
            raise ValueError(
                f"AMASS motions drive SMPL-family bodies (SMPLBody with model_type smplh, smplx or smpl), "
                f"got {body!r}; retarget skeletal motion with pose2mesh.data.retarget instead"
            )
        if getattr(body, "gender", self.gender) != self.gender:
            logger.warning(
                "AMASS motion '%s' was fitted with the %s model; posing a %s body changes its shape",
                self.source, self.gender, body.gender,
            )
        ref = body.regressor_superset
        dtype, device = ref.dtype, ref.device
        T = len(self)
        rotmats = roma.rotvec_to_rotmat(torch.as_tensor(self.poses, dtype=torch.float64))  # (T, 52, 3, 3)

        num_betas = int(body.num_betas)
        betas = torch.zeros(1, num_betas, dtype=torch.float64)
        used = min(num_betas, self.betas.shape[0])
        betas[0, :used] = torch.as_tensor(self.betas[:used], dtype=torch.float64)
        betas = betas.to(dtype=dtype, device=device)

        root = rotmats[:, 0]
        transl = torch.as_tensor(self.trans, dtype=torch.float64)
        if y_up:
            change = torch.as_tensor(AMASS_TO_YUP, dtype=torch.float64)
            with torch.no_grad():  # rest pelvis of this body and shape
                j0 = body(betas=betas).rest_joints[0, 0].to(device="cpu", dtype=torch.float64)
            root = change @ root
            transl = (j0 + transl) @ change.T - j0

        pose = rotmats[:, 1 : 1 + NUM_BODY_JOINTS]
        extra = int(body.num_pose_joints) - NUM_BODY_JOINTS  # SMPL: its 2 hand joints
        if extra > 0:
            pose = torch.cat([pose, torch.eye(3, dtype=torch.float64).expand(T, extra, 3, 3)], 1)
        hands = model_type in ("smplh", "smplx")
        left = rotmats[:, 22 : 22 + NUM_HAND_JOINTS] if hands else None
        right = rotmats[:, 22 + NUM_HAND_JOINTS :] if hands else None

        def cast(x: Tensor | None) -> Tensor | None:
            return None if x is None else x.to(dtype=dtype, device=device).contiguous()

        return AmassBodyMotion(
            pose=cast(pose),
            global_orient=cast(root),
            transl=cast(transl),
            fps=self.fps,
            source=self.source,
            betas=betas,
            left_hand_pose=cast(left),
            right_hand_pose=cast(right),
            gender=self.gender,
        )


@dataclass
class AmassBodyMotion(BodyMotion):
    """A :class:`~pose2mesh.data.retarget.BodyMotion` with the shape and hands of an AMASS fit.

    Attributes (besides ``pose``, ``global_orient``, ``transl``, ``fps``, ``source``):
        betas: ``(1, S)`` shape coefficients the ``transl`` was computed for.
        left_hand_pose / right_hand_pose: ``(T, 15, 3, 3)`` finger rotations
            (smplx order, relative to the flat hand), ``None`` for SMPL bodies.
        gender: gender of the fitted model.
    """

    betas: Tensor | None = None
    left_hand_pose: Tensor | None = None
    right_hand_pose: Tensor | None = None
    gender: str = "neutral"

    def body_inputs(self) -> dict[str, Tensor]:
        """Keyword arguments of the body's ``forward`` for every frame (batch ``T``)."""
        out = {"pose": self.pose, "betas": self.betas, "global_orient": self.global_orient, "transl": self.transl}
        if self.left_hand_pose is not None:
            out["left_hand_pose"] = self.left_hand_pose
        if self.right_hand_pose is not None:
            out["right_hand_pose"] = self.right_hand_pose
        return out


def _array(data: np.lib.npyio.NpzFile, path: Path, key: str) -> np.ndarray:
    """``data[key]`` or a ValueError naming the file and the key."""
    if key not in data.files:
        hint = ""
        if key == "poses" and "betas" in data.files and "trans" not in data.files:
            hint = " (this looks like a subject's shape.npz, not a motion sequence)"
        raise ValueError(
            f"AMASS file '{path}' has no '{key}' array{hint}; keys: {', '.join(sorted(data.files)) or 'none'}"
        )
    try:
        return data[key]
    except ValueError as err:  # an object array (pickle), refused by allow_pickle=False
        raise ValueError(f"AMASS file '{path}': cannot read '{key}' without unpickling ({err})") from err
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as err:  # bad CRC, truncated member
        raise ValueError(f"AMASS file '{path}': cannot read '{key}', the archive is corrupt ({err})") from err


def _numeric(value: np.ndarray, path: Path, key: str, shape: str) -> np.ndarray:
    """``value`` as finite float64, or a ValueError naming the file and the key."""
    if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
        raise ValueError(f"AMASS file '{path}': '{key}' must be a numeric {shape} array, got dtype {value.dtype}")
    value = value.astype(np.float64)
    bad = ~np.isfinite(value)
    if bad.any():
        raise ValueError(
            f"AMASS file '{path}': '{key}' has {int(bad.sum())} non-finite value(s) (NaN or inf)"
        )
    return value


def read_amass(path: str | os.PathLike) -> AmassMotion:
    """Read an AMASS SMPL+H sequence ``.npz`` (see the module docstring for its keys).

    Args:
        path: the ``.npz`` file of one sequence.

    Returns:
        :class:`AmassMotion` in AMASS's own frame (Z up), float64.

    Raises:
        FileNotFoundError: when ``path`` does not exist (says where to get AMASS).
        ValueError: naming the file and the key, for a file that is not an
            ``.npz`` archive, a corrupt archive member, a missing key, a wrong shape or dtype, non-finite
            values, a non-positive frame rate or an unknown gender.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"AMASS file not found: '{path}'. AMASS is not shipped with pose2mesh: download the "
            f"SMPL+H sequences from {AMASS_URL} and pass the path of one of their .npz files."
        )
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"cannot read AMASS file '{path}': not an .npz archive ({err})") from err
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"cannot read AMASS file '{path}': a single .npy array, not an .npz archive")
    with data:
        poses = _array(data, path, "poses")
        if poses.ndim != 2 or poses.shape[1] != 3 * NUM_JOINTS or poses.shape[0] < 1:
            hint = " (an SMPL-X fit? only the SMPL+H release is supported)" if poses.shape[-1:] == (165,) else ""
            raise ValueError(
                f"AMASS file '{path}': 'poses' must have shape (T, {3 * NUM_JOINTS}) (SMPL-H axis-angle: "
                f"root 3 + body 21*3 + hands 2*15*3), got {poses.shape}{hint}"
            )
        poses = _numeric(poses, path, "poses", "(T, 156)")

        trans = _array(data, path, "trans")
        if trans.shape != (poses.shape[0], 3):
            raise ValueError(
                f"AMASS file '{path}': 'trans' must have shape (T, 3) = ({poses.shape[0]}, 3) "
                f"like 'poses', got {trans.shape}"
            )
        trans = _numeric(trans, path, "trans", "(T, 3)")

        betas = _array(data, path, "betas")
        if betas.ndim == 2 and betas.shape[0] == 1:
            betas = betas[0]
        if betas.ndim != 1 or betas.shape[0] < 1:
            raise ValueError(f"AMASS file '{path}': 'betas' must have shape (B,), got {betas.shape}")
        betas = _numeric(betas, path, "betas", "(B,)")

        fps_key = next((k for k in _FPS_KEYS if k in data.files), _FPS_KEYS[0])
        fps = _array(data, path, fps_key)
        if fps.size != 1:
            raise ValueError(f"AMASS file '{path}': '{fps_key}' must be a scalar, got shape {fps.shape}")
        fps = float(_numeric(fps.reshape(()), path, fps_key, "scalar"))
        if not fps > 0:
            raise ValueError(f"AMASS file '{path}': '{fps_key}' must be positive, got {fps}")

        gender = _array(data, path, "gender")
        if gender.size != 1 or gender.dtype.kind not in "SU":
            raise ValueError(f"AMASS file '{path}': 'gender' must be a string, got {gender.dtype} {gender.shape}")
        gender = gender.reshape(()).item()
        gender = (gender.decode("utf-8", "replace") if isinstance(gender, bytes) else str(gender)).strip().lower()
        if gender not in _GENDERS:
            raise ValueError(f"AMASS file '{path}': unknown 'gender' '{gender}'; choose one of: {', '.join(_GENDERS)}")

    return AmassMotion(
        poses=poses.reshape(-1, NUM_JOINTS, 3),
        betas=betas,
        trans=trans,
        fps=fps,
        gender=gender,
        source=str(path),
    )


def load_amass(
    path: str | os.PathLike, body: SMPLBody, fps: float | None = 30, y_up: bool = True
) -> AmassBodyMotion:
    """Read an AMASS sequence, resample it to ``fps`` and express it for ``body``.

    ``read_amass(path).resample(fps).to_body_motion(body, y_up)``; ``fps=None``
    keeps the file's frame rate.  See :meth:`AmassMotion.to_body_motion`.
    """
    motion = read_amass(path)
    if fps is not None:
        motion = motion.resample(fps)
    return motion.to_body_motion(body, y_up=y_up)
