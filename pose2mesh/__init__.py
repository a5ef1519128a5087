"""pose2mesh: lift 2D human keypoints from any detector to a 3D pose and body mesh.

>>> from pose2mesh import lift
>>> result = lift(keypoints, layout="coco", image_size=(1920, 1080))  # doctest: +SKIP
>>> result.vertices  # (N, 12272, 3) metres, camera frame (OpenCV: x right, y down, z forward)  # doctest: +SKIP

Public API (:mod:`pose2mesh.api`):

* :func:`lift` -- keypoints (pixels) -> :class:`LiftResult` with the shipped model.
* :class:`Lifter` -- a loaded model (``Lifter.from_pretrained()`` /
  ``Lifter.from_checkpoint(path)``), called like :func:`lift`.
* :class:`LiftResult` -- placed vertices and keypoints, camera, reprojection
  error, ``save(path)``.

Sub-packages, one per idea:

* :mod:`pose2mesh.joints` -- named keypoint layouts, the canonical superset and
  declarative conversion between layouts.
* :mod:`pose2mesh.body` -- body layers (the open default body in pure torch;
  SMPL / SMPL-H / SMPL-X through ``smplx``) with keypoint regressors.
* :mod:`pose2mesh.graph` -- the precomputed mesh pooling hierarchy and the
  Chebyshev graph convolution.
* :mod:`pose2mesh.camera` -- placing a root-relative pose in front of a camera.

Importing this package is light: it imports neither torch (until ``lift`` &
co. are first accessed) nor anny, smplx, warp or the training code; the lift
path needs only torch, numpy, scipy and the shipped files.
"""
from pose2mesh._version import __version__

__all__ = ["__version__", "lift", "Lifter", "LiftResult"]

_API = ("lift", "Lifter", "LiftResult")


def __getattr__(name: str):
    # Loaded on first use so that `import pose2mesh` stays free of torch.
    if name in _API:
        from pose2mesh import api

        return getattr(api, name)
    raise AttributeError(f"module 'pose2mesh' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
