"""Motion-capture data for synthesising training pairs: strict BVH and ASF/AMC
readers, the common :class:`Motion` container and a parse-once ``.npz`` cache.

Every :class:`Motion` is in metres, +Y up (axes as in the files; no re-orientation),
with local rotation matrices ``(T, J, 3, 3)``; see :mod:`pose2mesh.data.motion`.
Importing this package pulls in numpy and scipy only (no torch, anny or smplx).
"""
from pose2mesh.data.asf_amc import read_amc, read_asf
from pose2mesh.data.bvh import BVHError, read_bvh
from pose2mesh.data.motion import Motion, find_motion_files, load_motion, subject_of

__all__ = ["Motion", "read_bvh", "read_asf", "read_amc", "load_motion", "BVHError", "find_motion_files", "subject_of"]
