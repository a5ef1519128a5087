"""Camera placement: put a root-relative 3D pose where it reprojects onto the 2D input.

Conventions: OpenCV camera (x right, y down, z forward), metres; pixels with
the centre of the top-left pixel at ``(0, 0)``; intrinsics ``K`` as a 3x3
matrix.  Without a focal length, :data:`DEFAULT_FOV_DEG` degrees across the
longer image side are assumed (:func:`default_intrinsics`).

* :func:`solve_translation` -- weighted linear least squares + Levenberg-Marquardt
  on the pixel reprojection error; see :mod:`pose2mesh.camera.placement`.
* :func:`default_intrinsics` / :func:`default_focal_length` -- the assumed camera.
* :func:`project_points` / :func:`reprojection_error`.
"""
from pose2mesh.camera.placement import (
    DEFAULT_FOV_DEG,
    default_focal_length,
    default_intrinsics,
    project_points,
    reprojection_error,
    solve_translation,
)

__all__ = [
    "DEFAULT_FOV_DEG",
    "default_focal_length",
    "default_intrinsics",
    "project_points",
    "solve_translation",
    "reprojection_error",
]
