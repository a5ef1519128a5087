"""Place a root-relative 3D pose in front of a pinhole camera so that it reprojects onto 2D keypoints.

Conventions
-----------
* Camera: OpenCV -- x right, y down, z forward, metres.  A camera-frame point
  ``X`` projects to pixels ``u ~ K X`` with
  ``K = [[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` (pixels).
* Pixels: OpenCV -- ``u`` right, ``v`` down, pixel ``(0, 0)`` is the *centre*
  of the top-left pixel, so an image of size ``(W, H)`` covers
  ``[-0.5, W - 0.5] x [-0.5, H - 0.5]`` and its centre is ``((W-1)/2, (H-1)/2)``.
* Points: ROOT-RELATIVE keypoints ``P`` (metres, camera axes, as the networks
  output them); the placed points are ``P + t`` with the translation ``t``
  solved here (``t`` is where the root lands in the camera frame).

The solver (:func:`solve_translation`)
--------------------------------------
1. *Linear least squares.*  With normalised image coordinates
   ``(x, y, 1) ~ K^-1 (u, v, 1)``, the projection equations
   ``x = (X + tx) / (Z + tz)``, ``y = (Y + ty) / (Z + tz)`` are linear in ``t``
   once multiplied out: ``tx - x tz = x Z - X`` and ``ty - y tz = y Z - Y``.
   Each present keypoint contributes these two rows with its weight; the 3x3
   normal equations are solved in float64.  This minimises an *algebraic*
   error (the image error scaled by depth), which is exact for noiseless
   input and a good start otherwise.
2. *Fallback.*  When that solution is not usable (singular system or a
   present keypoint at depth ``<= min_depth``, which happens with two
   nearly, but not exactly, coincident keypoints), a weak-perspective estimate is used instead:
   depth from the ratio of the 3D and 2D spreads of the keypoints, ``x`` and
   ``y`` from their centroids.
3. *Refinement.*  ``refine_steps`` Levenberg-Marquardt (damped Gauss-Newton)
   steps on the true weighted reprojection error in pixels,
   ``sum_i w_i ||proj(K (P_i + t)) - uv_i||^2``; a step is kept only if it
   lowers that error, keeps every present keypoint in front of the camera
   and keeps the mean depth within a factor 2 of the starting one (with
   inconsistent input the pixel error may keep falling all the way to
   infinite depth; the refinement is meant to polish, not to run away).

At least two present keypoints are needed (one gives two equations for three
unknowns); fewer raise a ``ValueError`` naming the samples, and so do present
keypoints that all coincide in the image (checked first, for every sample:
whether the solver notices the singular system depends on rounding) or, when
the fallback is needed, in 3D.

Default intrinsics (:func:`default_intrinsics`): square pixels, principal point
at the image centre and, without a focal length, a field of view of
:data:`DEFAULT_FOV_DEG` degrees across the LONGER image side,
``f = 0.5 * max(W, H) / tan(DEFAULT_FOV_DEG / 2)`` (``~0.87 max(W, H)``: a
typical phone or webcam lens).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DEFAULT_FOV_DEG",
    "default_focal_length",
    "default_intrinsics",
    "project_points",
    "solve_translation",
    "reprojection_error",
]

#: Field of view (degrees) across the longer image side assumed when neither a
#: focal length nor ``K`` is given.
DEFAULT_FOV_DEG = 60.0


def _image_size(image_size: Sequence[float]) -> tuple[float, float]:
    """Validate ``(W, H)``: two finite positive numbers."""
    try:
        w, h = (float(s) for s in np.asarray(image_size, dtype=np.float64).reshape(-1))
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (width, height) in pixels, got {image_size!r}") from None
    if not (math.isfinite(w) and math.isfinite(h)) or w <= 0 or h <= 0:
        raise ValueError(f"image_size must be finite and positive (width, height) in pixels, got {image_size!r}")
    return w, h


def default_focal_length(image_size: Sequence[float], fov_deg: float = DEFAULT_FOV_DEG) -> float:
    """Focal length (pixels) giving a field of view of ``fov_deg`` across the longer image side.

    Args:
        image_size: ``(W, H)`` in pixels.
        fov_deg: field of view across ``max(W, H)``, degrees, in ``(0, 180)``.

    Returns:
        ``0.5 * max(W, H) / tan(fov_deg / 2)`` in pixels.
    """
    w, h = _image_size(image_size)
    if not 0.0 < fov_deg < 180.0:
        raise ValueError(f"fov_deg must be in (0, 180) degrees, got {fov_deg}")
    return 0.5 * max(w, h) / math.tan(math.radians(fov_deg) / 2.0)


def default_intrinsics(image_size: Sequence[float], focal_length: float | None = None) -> np.ndarray:
    """Pinhole intrinsics with square pixels and the principal point at the image centre.

    Args:
        image_size: ``(W, H)`` in pixels.
        focal_length: ``f = fx = fy`` in pixels, or ``None`` for
            :func:`default_focal_length` (:data:`DEFAULT_FOV_DEG` across the longer side).

    Returns:
        ``K (3, 3)`` float64 numpy array, principal point ``((W-1)/2, (H-1)/2)``.

    Raises:
        ValueError: non-finite / non-positive image size or focal length.
    """
    w, h = _image_size(image_size)
    if focal_length is None:
        f = default_focal_length((w, h))
    else:
        f = float(focal_length)
        if not math.isfinite(f) or f <= 0:
            raise ValueError(f"focal_length must be a finite positive number of pixels, got {focal_length!r}")
    return np.array([[f, 0.0, 0.5 * (w - 1)], [0.0, f, 0.5 * (h - 1)], [0.0, 0.0, 1.0]])


def project_points(points: Tensor, K: Tensor) -> Tensor:
    """Pinhole projection of camera-frame points to pixels.

    Args:
        points: ``(..., J, 3)`` camera coordinates (OpenCV), metres.
        K: ``(..., 3, 3)`` or ``(3, 3)`` intrinsics, pixels (broadcast over ``...``).

    Returns:
        ``(..., J, 2)`` pixels; points at ``z <= 0`` give non-physical values
        (``z = 0`` gives inf / NaN).
    """
    proj = torch.einsum("...ij,...nj->...ni", K.to(points.dtype), points)
    return proj[..., :2] / proj[..., 2:3]


def _check(points3d: Tensor, keypoints2d: Tensor, weights: Tensor | None, K: Tensor) -> tuple[Tensor, ...]:
    """Validate shapes, broadcast ``K`` and turn non-finite inputs into zero weights (float64)."""
    if points3d.ndim < 2 or points3d.shape[-1] != 3:
        raise ValueError(f"points3d must have shape (..., J, 3), got {tuple(points3d.shape)}")
    if tuple(keypoints2d.shape) != tuple(points3d.shape[:-1]) + (2,):
        raise ValueError(
            f"keypoints2d must have shape {tuple(points3d.shape[:-1]) + (2,)} to match points3d "
            f"{tuple(points3d.shape)}, got {tuple(keypoints2d.shape)}"
        )
    batch = points3d.shape[:-2]
    if weights is None:
        weights = torch.ones(points3d.shape[:-1], dtype=torch.float64, device=points3d.device)
    elif tuple(weights.shape) != tuple(points3d.shape[:-1]):
        raise ValueError(f"weights must have shape {tuple(points3d.shape[:-1])}, got {tuple(weights.shape)}")
    if K.shape[-2:] != (3, 3):
        raise ValueError(f"K must have shape (3, 3) or (..., 3, 3), got {tuple(K.shape)}")
    # everything on points3d's device
    K = torch.broadcast_to(K.to(dtype=torch.float64, device=points3d.device), batch + (3, 3))
    p = points3d.to(torch.float64)
    uv = keypoints2d.to(dtype=torch.float64, device=points3d.device)
    w = weights.to(dtype=torch.float64, device=points3d.device)
    finite = torch.isfinite(p).all(-1) & torch.isfinite(uv).all(-1) & torch.isfinite(w)
    if (w < 0).any():
        raise ValueError("weights must be >= 0 (0 = absent keypoint)")
    w = torch.where(finite, w, torch.zeros_like(w))
    zero = torch.zeros((), dtype=torch.float64, device=p.device)
    p = torch.where(finite[..., None], p, zero)
    uv = torch.where(finite[..., None], uv, zero)
    return p, uv, w, K


def _normalised(uv: Tensor, K: Tensor) -> Tensor:
    """``(B, J, 2)`` pixels -> normalised image coordinates ``K^-1 (u, v, 1)`` (first two).

    ``K (B, 3, 3)`` with last row ``[0, 0, 1]``: the 2x2 block is inverted in
    closed form (a batched ``linalg.solve`` costs more than the rest at batch 1).
    """
    a, b, c, d = K[:, 0, 0, None], K[:, 0, 1, None], K[:, 1, 0, None], K[:, 1, 1, None]
    du, dv = uv[..., 0] - K[:, 0, 2, None], uv[..., 1] - K[:, 1, 2, None]
    det = a * d - b * c
    return torch.stack([(d * du - b * dv) / det, (a * dv - c * du) / det], -1)


def _residuals(p: Tensor, t: Tensor, uv: Tensor, w: Tensor, K: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Placed points ``q = p + t``, pixel residuals ``proj(K q) - uv`` and the
    per-sample cost ``sum_i w_i ||residual_i||^2`` (pixels squared)."""
    q = p + t[..., None, :]
    r = project_points(q, K) - uv
    return q, r, (w * (r * r).sum(-1)).sum(-1)


def _min_depth(p: Tensor, t: Tensor, w: Tensor) -> Tensor:
    """Smallest depth ``z`` of the present (``w > 0``) placed points per sample (inf if none)."""
    z = p[..., 2] + t[..., None, 2]
    return torch.where(w > 0, z, torch.full_like(z, math.inf)).amin(-1)


def solve_translation(
    points3d: Tensor,
    keypoints2d: Tensor,
    K: Tensor,
    weights: Tensor | None = None,
    refine_steps: int = 5,
    min_depth: float = 0.05,
) -> Tensor:
    """Translation that makes root-relative 3D keypoints reproject onto 2D keypoints.

    See the module docstring for the method (weighted linear least squares,
    weak-perspective fallback, Levenberg-Marquardt refinement in pixels).

    Args:
        points3d: ``(..., J, 3)`` root-relative keypoints, metres, camera axes (OpenCV).
        keypoints2d: ``(..., J, 2)`` the observed keypoints, pixels.
        K: ``(3, 3)`` or ``(..., 3, 3)`` intrinsics, pixels.
        weights: ``(..., J)`` non-negative weights (e.g. detector confidences);
            ``0`` marks an absent keypoint.  ``None``: all ones.  Keypoints
            with a non-finite 2D or 3D coordinate count as absent.
        refine_steps: Levenberg-Marquardt steps on the pixel reprojection
            error after the linear solution (``0``: linear solution only).
        min_depth: every present keypoint must end up at ``z > min_depth``
            metres in front of the camera.

    Returns:
        ``t (..., 3)`` metres, camera frame, dtype of ``points3d``: the placed
        keypoints are ``points3d + t[..., None, :]``.

    Raises:
        ValueError: bad shapes, negative weights, a sample with fewer than two
            present keypoints, or one whose keypoints all coincide in the image.
    """
    p, uv, w, K = _check(points3d, keypoints2d, weights, K)
    batch = p.shape[:-2]
    p, uv, w, K = p.reshape(-1, *p.shape[-2:]), uv.reshape(-1, *uv.shape[-2:]), w.reshape(-1, w.shape[-1]), K.reshape(-1, 3, 3)
    count = (w > 0).sum(-1)
    few = torch.nonzero(count < 2).flatten().tolist()
    if few:
        raise ValueError(
            f"camera placement needs at least 2 present keypoints per sample; sample(s) {few[:10]}"
            f"{' ...' if len(few) > 10 else ''} have {sorted(set(count[few].tolist()))}"
        )
    n = _normalised(uv, K)  # (B, J, 2)
    x, y = n[..., 0], n[..., 1]
    X, Y, Z = p.unbind(-1)
    # weighted centroids and RMS spreads (image: normalised coordinates; 3D: x, y in metres)
    sw = w.sum(-1)
    wn = w / sw[:, None]
    c3 = (wn[..., None] * p).sum(-2)  # (B, 3)
    c2 = (wn[..., None] * n).sum(-2)  # (B, 2)
    s3 = (wn * ((p[..., :2] - c3[:, None, :2]) ** 2).sum(-1)).sum(-1).sqrt()
    s2 = (wn * ((n - c2[:, None]) ** 2).sum(-1)).sum(-1).sqrt()
    # Coinciding image points leave the depth free: the normal equations below are then singular,
    # and whether the solver notices depends on rounding, so it is checked here, for every sample.
    same = torch.nonzero(s2 <= 1e-12).flatten().tolist()
    if same:
        raise ValueError(
            f"camera placement is undetermined for sample(s) {same[:10]}{' ...' if len(same) > 10 else ''}: "
            "their present keypoints coincide in the image"
        )

    # 1. weighted normal equations of  tx - x tz = x Z - X,  ty - y tz = y Z - Y
    bx, by = x * Z - X, y * Z - Y
    M = torch.zeros(p.shape[0], 3, 3, dtype=p.dtype, device=p.device)
    M[:, 0, 0] = sw
    M[:, 1, 1] = sw
    M[:, 0, 2] = M[:, 2, 0] = -(w * x).sum(-1)
    M[:, 1, 2] = M[:, 2, 1] = -(w * y).sum(-1)
    M[:, 2, 2] = (w * (x * x + y * y)).sum(-1)
    rhs = torch.stack([(w * bx).sum(-1), (w * by).sum(-1), -(w * (x * bx + y * by)).sum(-1)], -1)
    t, info = torch.linalg.solve_ex(M, rhs)
    ok = (info == 0) & torch.isfinite(t).all(-1)
    t = torch.where(ok[:, None], t, torch.zeros_like(t))
    ok &= _min_depth(p, t, w) > min_depth

    # 2. weak-perspective fallback: every point at the depth d of the weighted centroid
    if not bool(ok.all()):
        bad = torch.nonzero(~ok & (s3 <= 1e-12)).flatten().tolist()
        if bad:
            raise ValueError(
                f"camera placement is undetermined for sample(s) {bad[:10]}: their present keypoints "
                "coincide in 3D"
            )
        d = s3 / s2
        weak = torch.stack([d * c2[:, 0] - c3[:, 0], d * c2[:, 1] - c3[:, 1], d - c3[:, 2]], -1)
        # keep every present point in front of the camera
        weak[:, 2] = torch.maximum(weak[:, 2], 2 * min_depth - _min_depth(p, torch.zeros_like(weak), w))
        t = torch.where(ok[:, None], t, weak)

    # 3. Levenberg-Marquardt on the weighted pixel error
    q, r, cost = _residuals(p, t, uv, w, K)
    # Trust region on the depth: with inconsistent input (e.g. two keypoints
    # whose 2D order contradicts the 3D pose) the pixel error can decrease all
    # the way to infinite depth; the refinement only polishes the start.
    z_mean = (w * p[..., 2]).sum(-1) / sw
    depth0 = t[:, 2] + z_mean
    lam = torch.full_like(cost, 1e-3)
    k00, k01, k10, k11 = (K[:, i, j, None] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
    w2 = torch.cat([w, w], -1)  # weights of the u rows, then the v rows
    converged = torch.zeros_like(cost, dtype=torch.bool)
    for _ in range(int(refine_steps)):
        z = q[..., 2].clamp_min(min_depth)
        # d(pixels)/dt of u = (k00 x + k01 y) / z + k02 and v = (k10 x + k11 y) / z + k12, stacked (B, 2J, 3)
        x, y = q[..., 0], q[..., 1]
        ju = torch.stack([k00 / z, k01 / z, -(k00 * x + k01 * y) / z**2], -1)
        jv = torch.stack([k10 / z, k11 / z, -(k10 * x + k11 * y) / z**2], -1)
        jac = torch.cat([ju, jv], 1)
        wj = (w2[..., None] * jac).transpose(1, 2)  # (B, 3, 2J)
        H = wj @ jac
        g = (wj @ torch.cat([r[..., 0], r[..., 1]], -1)[..., None])[..., 0]
        diag = torch.diagonal(H, dim1=-2, dim2=-1)
        step, info = torch.linalg.solve_ex(H + torch.diag_embed(lam[:, None] * diag + 1e-12), -g)
        step = torch.where((info == 0)[:, None] & torch.isfinite(step), step, torch.zeros_like(step))
        trial = t + step
        new_q, new_r, new_cost = _residuals(p, trial, uv, w, K)
        depth = trial[:, 2] + z_mean
        accept = (new_cost < cost) & (_min_depth(p, trial, w) > min_depth) & (depth < 2 * depth0) & (depth > 0.5 * depth0)
        # a sample has converged once a step taken with light damping moved it by < 1 micrometre
        # (later steps of a converged sample are rejected: they cannot lower the cost)
        converged |= accept & (step.abs().amax(-1) < 1e-6) & (lam <= 1e-2)
        t = torch.where(accept[:, None], trial, t)
        q = torch.where(accept[:, None, None], new_q, q)
        r = torch.where(accept[:, None, None], new_r, r)
        cost = torch.where(accept, new_cost, cost)
        lam = torch.where(accept, lam * 0.1, lam * 10.0).clamp(1e-9, 1e9)
        if bool(converged.all()):
            break
    return t.reshape(batch + (3,)).to(points3d.dtype)


def reprojection_error(points3d: Tensor, keypoints2d: Tensor, K: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean Euclidean distance (pixels) between projected points and 2D keypoints.

    Args:
        points3d: ``(..., J, 3)`` PLACED points, camera frame (OpenCV), metres.
        keypoints2d: ``(..., J, 2)`` pixels.
        K: ``(3, 3)`` or ``(..., 3, 3)`` intrinsics.
        mask: ``(..., J)`` bool, the keypoints to average over (default: all).

    Returns:
        ``(...)`` mean error in pixels over the masked keypoints (NaN where none).
    """
    err = (project_points(points3d, K) - keypoints2d.to(points3d.dtype)).norm(dim=-1)
    if mask is None:
        return err.mean(-1)
    m = mask.to(torch.bool)
    total = torch.where(m, err, torch.zeros_like(err)).sum(-1)
    return total / m.sum(-1).to(err.dtype)
