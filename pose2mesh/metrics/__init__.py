"""Standard 3D pose and mesh metrics (MPJPE, PA-MPJPE, MPVPE, per-part errors).

Inputs in metres, reported errors in **millimetres**; pure torch functions
accepting any leading batch shape ``(..., N, 3)`` and an optional mask of the
points with ground truth.

>>> import torch
>>> from pose2mesh.metrics import mpjpe, pa_mpjpe
>>> gt = torch.zeros(2, 17, 3)
>>> pred = gt + torch.tensor([1.0, 0.0, 0.0])  # shifted by 1 m
>>> mpjpe(pred, gt)
tensor([1000., 1000.])
"""
from pose2mesh.metrics.pose import (
    KEYPOINT_PARTS,
    M_TO_MM,
    mpjpe,
    mpvpe,
    normal_error,
    pa_mpjpe,
    pa_mpvpe,
    per_part_errors,
    summarize,
    umeyama,
)

__all__ = [
    "M_TO_MM",
    "KEYPOINT_PARTS",
    "mpjpe",
    "umeyama",
    "normal_error",
    "pa_mpjpe",
    "mpvpe",
    "pa_mpvpe",
    "per_part_errors",
    "summarize",
]
