"""Per-sample crop normalisation of 2D keypoints (the networks' input).

Conventions
-----------
* Input: keypoints in the canonical superset (:func:`pose2mesh.joints.to_superset`),
  in **pixels** (x right, y down, OpenCV image axes), with a presence channel
  (``1`` present, ``0`` absent; fractional values count as present when
  ``> 0``).
* Only PRESENT keypoints define the crop: its centre is the centre of their
  axis-aligned bounding box and its scale is half the larger side of that box,
  so every present keypoint lands in ``[-1, 1]`` on the larger axis and the
  aspect ratio is kept (no stretching).
* Absent keypoints are set to exactly ``0`` in the output, whatever their input
  value (NaN and inf included), so their coordinates can never leak into a
  network.
* The normalisation removes image translation and scale: translating or
  scaling all pixels by the same factor gives the same ``norm`` (up to float
  rounding). The networks therefore see only the shape of the 2D pose; metric
  size comes from the learned body proportions.
* Camera features (:func:`camera_features`): what the crop removed, in the
  camera's normalised image coordinates (pixels divided by the focal length):
  the crop centre's direction from the principal point and the crop's size.
  They tell a network how obliquely and how close the person is seen (how
  strong the perspective is), when the intrinsics are known.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["normalize_keypoints", "camera_features", "CAMERA_FEATURES", "DEFAULT_MIN_SCALE"]

#: Smallest crop half-size in pixels (a single present keypoint, or all present
#: keypoints on one pixel, gives a zero-size box).
DEFAULT_MIN_SCALE = 1e-3

#: Number of camera features per sample (:func:`camera_features`).
CAMERA_FEATURES = 4


def normalize_keypoints(
    xy: Tensor, presence: Tensor, min_scale: float = DEFAULT_MIN_SCALE
) -> tuple[Tensor, Tensor, Tensor]:
    """Crop-normalise 2D keypoints per sample, from the present keypoints only.

    ``norm = (xy - center) / scale`` for present keypoints, ``0`` for absent ones.

    Args:
        xy: keypoint pixel coordinates (any finite or non-finite value where
            absent).
        presence: ``> 0`` where a keypoint is present.
        min_scale: lower clamp of ``scale`` in pixels (keeps the division finite).

    Shape:
        - xy: :math:`(..., S, 2)` (any leading batch shape, usually ``(B, S, 2)``)
        - presence: :math:`(..., S)`
        - norm: :math:`(..., S, 2)`
        - center: :math:`(..., 2)` pixels
        - scale: :math:`(...)` pixels

    Returns:
        ``(norm, center, scale)``. A sample with NO present keypoint is not an
        error: it gets ``norm = 0``, ``center = 0`` and ``scale = min_scale``;
        the caller decides what to do with it (check ``(presence > 0).any(-1)``).

    Raises:
        ValueError: on mismatched shapes.
    """
    if xy.dim() < 2 or xy.shape[-1] != 2:
        raise ValueError(f"xy must have shape (..., S, 2), got {tuple(xy.shape)}")
    if presence.shape != xy.shape[:-1]:
        raise ValueError(f"presence must have shape {tuple(xy.shape[:-1])} (xy's without the last axis), got {tuple(presence.shape)}")
    if not xy.dtype.is_floating_point:
        xy = xy.float()
    mask = (presence > 0).unsqueeze(-1)  # (..., S, 1)
    # torch.where (not a product) so that NaN/inf at absent points stay out.
    lo = torch.where(mask, xy, float("inf")).amin(dim=-2)  # (..., 2)
    hi = torch.where(mask, xy, float("-inf")).amax(dim=-2)
    any_present = mask.any(dim=-2)  # (..., 1)
    lo = torch.where(any_present, lo, torch.zeros_like(lo))
    hi = torch.where(any_present, hi, torch.zeros_like(hi))
    center = 0.5 * (lo + hi)
    scale = (0.5 * (hi - lo).amax(dim=-1)).clamp_min(min_scale)
    norm = (xy - center.unsqueeze(-2)) / scale[..., None, None]
    norm = torch.where(mask, norm, torch.zeros_like(norm))
    return norm, center, scale


def camera_features(center: Tensor, scale: Tensor, K: Tensor | None, known: Tensor | None = None) -> Tensor:
    """Per-sample camera features of a crop: ``[(cx - px) / fx, (cy - py) / fy, scale / f, 1]``.

    ``(cx, cy)`` and ``scale`` are the crop centre and half-size of
    :func:`normalize_keypoints` (pixels), ``px, py`` the principal point,
    ``fx, fy`` the focal lengths (pixels) and ``f = sqrt(fx fy)``: the first two
    are the tangents of the angles between the optical axis and the ray through
    the crop centre, the third the crop's angular half-size (large: the person
    is close and seen with strong perspective).  The last feature is 1 when
    the camera is known.  Where it is not (``K`` is None, or ``known`` is False)
    all four are 0: a network trained with some unknown cameras
    (``ModelConfig.camera_dropout``) then lifts as well as it can without them.

    Args:
        center: crop centres, pixels.
        scale: crop half-sizes, pixels.
        K: intrinsics in pixels, one per sample or one for all; None: unknown.
        known: ``True`` where the camera of a sample is known (default: all).

    Shape:
        - center: :math:`(B, 2)`, scale: :math:`(B,)`
        - K: :math:`(B, 3, 3)` or :math:`(3, 3)`; known: :math:`(B,)` bool
        - output: :math:`(B, 4)`, dtype of ``center``

    Raises:
        ValueError: on mismatched shapes.
    """
    if center.dim() != 2 or center.shape[-1] != 2 or scale.shape != center.shape[:1]:
        raise ValueError(f"center must be (B, 2) and scale (B,), got {tuple(center.shape)} and {tuple(scale.shape)}")
    b = center.shape[0]
    if K is None:
        return center.new_zeros(b, CAMERA_FEATURES)
    K = K.to(center)
    if K.shape not in ((3, 3), (b, 3, 3)):
        raise ValueError(f"K must have shape (3, 3) or ({b}, 3, 3), got {tuple(K.shape)}")
    K = K.expand(b, 3, 3)
    fx, fy = K[:, 0, 0], K[:, 1, 1]
    features = torch.stack([(center[:, 0] - K[:, 0, 2]) / fx, (center[:, 1] - K[:, 1, 2]) / fy,
                            scale / (fx * fy).sqrt(), torch.ones_like(fx)], -1)
    if known is not None:
        if known.shape != (b,):
            raise ValueError(f"known must have shape ({b},), got {tuple(known.shape)}")
        features = torch.where(known[:, None], features, torch.zeros_like(features))
    return features
