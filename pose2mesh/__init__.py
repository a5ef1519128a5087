"""pose2mesh: lift 2D human keypoints from any detector to a 3D pose and body mesh.

Sub-packages, one per idea:

* :mod:`pose2mesh.joints` -- named keypoint layouts, the canonical superset and
  declarative conversion between layouts.
* :mod:`pose2mesh.body` -- body layers (the open default body in pure torch;
  SMPL / SMPL-H / SMPL-X through ``smplx``) with keypoint regressors.
* :mod:`pose2mesh.graph` -- the precomputed mesh pooling hierarchy and the
  Chebyshev graph convolution.

Importing this package is light: it never imports anny, smplx or warp.
"""
from pose2mesh._version import __version__

__all__ = ["__version__"]
