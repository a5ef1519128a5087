"""Synthetic data for training and evaluation.

* Motion capture: strict BVH and ASF/AMC readers, the common :class:`Motion`
  container (metres, +Y up, local rotation matrices) with a parse-once cache,
  and AMASS (SMPL-H fits) through the SMPL body path.
* :class:`Retargeter`: motion onto the open body's ``cmu_mb`` rig.
* :class:`PosePrior`: the shipped pose bank (no files needed) with augmentation.
* :class:`CameraSampler` / :class:`Cameras`: random perspective cameras (OpenCV axes).
* :mod:`pose2mesh.data.corrupt`: seeded, composable 2D corruption models.
* :class:`SyntheticBatches`: the endless, seeded, device-resident batch stream;
  :func:`make_test_set`: a fixed, reproducible test set from real motion files.

Importing this package never imports anny, smplx or warp.
"""
from pose2mesh.data.amass import AmassMotion, load_amass, read_amass
from pose2mesh.data.asf_amc import read_amc, read_asf
from pose2mesh.data.bvh import BVHError, read_bvh
from pose2mesh.data.camera import Cameras, CameraSampler, project_points, truncation_mask
from pose2mesh.data.corrupt import Keypoints2D, clean, detector_like, detector_masked, h3wb_masking
from pose2mesh.data.motion import Motion, find_motion_files, load_motion, subject_of
from pose2mesh.data.poses import PosePrior
from pose2mesh.data.retarget import BodyMotion, Retargeter
from pose2mesh.data.synthetic import SyntheticBatches, SyntheticConfig
from pose2mesh.data.testset import TestSet, make_test_set

__all__ = [
    "Motion", "read_bvh", "read_asf", "read_amc", "load_motion", "BVHError", "find_motion_files", "subject_of",
    "AmassMotion", "read_amass", "load_amass", "Retargeter", "BodyMotion", "PosePrior",
    "Cameras", "CameraSampler", "project_points", "truncation_mask",
    "Keypoints2D", "clean", "detector_like", "detector_masked", "h3wb_masking",
    "SyntheticBatches", "SyntheticConfig", "TestSet", "make_test_set",
]
