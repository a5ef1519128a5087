"""Fitting the open body to 3D keypoints by optimisation (the report's "optimisation fitting" baseline).

See :mod:`pose2mesh.fitting.fit` and ``docs/fitting.md``.
"""
from pose2mesh.fitting.fit import CAMERA_FROM_BODY, LOSSES, TORSO, FitResult, FoldedKeypoints, fit_body_to_keypoints

__all__ = ["FitResult", "FoldedKeypoints", "fit_body_to_keypoints", "CAMERA_FROM_BODY", "LOSSES", "TORSO"]
