"""Snap a lifted mesh onto exact 2D keypoints: keep each keypoint's depth, take its image position from the input.

A network's keypoints reproject onto its 2D input only approximately (the
shipped model: ~7 px mean on exact keypoints of the held-out test set).  When
the 2D keypoints are exact -- synthetic projections, projected motion-capture
markers, careful manual annotation -- the input knows the image position of
each keypoint better than the network does, and the network knows only its
depth.  :func:`snap_to_keypoints` combines the two: every keypoint of the
placed mesh keeps its depth and moves along its image plane onto the ray
through its 2D keypoint; the vertices follow their nearby keypoints.  On the
shipped model's ground-truth-2D test set (``docs/eval/default.md``) this lowers
MPJPE by ~3 mm and PA-MPJPE by ~4 mm, and the keypoints reproject to within
0.01 px (COCO-17; where a layout has closely spaced keypoints, such as
BlazePose's eye corners, the ridge-regularised solve leaves up to ~2 px).  With detector keypoints it makes every error much WORSE (the mesh
follows the detector's noise, which the network had smoothed away): it is for
exact input only, and off by default everywhere.

Conventions
-----------
* Vertices and keypoints: ROOT-RELATIVE metres in OpenCV camera axes (x right,
  y down, z forward), as :class:`pose2mesh.models.Pose2MeshNet` outputs them;
  the result is re-rooted at its own regressed pelvis (superset index 0).
* 2D keypoints: superset pixels ``(B, S, 2)`` (OpenCV image axes) with a weight
  ``(B, S)`` that is ``> 0`` only where the pixel position IS that superset
  keypoint's projection.  Superset keypoints that :func:`pose2mesh.joints.to_superset`
  derives from the layout's keypoints (COCO's pelvis, the mean of the hips; the
  neck, taken from the thorax) are only approximations of them:
  :func:`copied_keypoints` tells which the layout has itself, and only those
  should be snapped.
* The method: the mesh is placed in the camera with
  :func:`pose2mesh.camera.solve_translation` on the snapped keypoints; each
  keypoint's target is its 2D keypoint back-projected to the keypoint's placed
  depth. Every vertex moves by the weighted mean of offsets ``o_s`` of the
  snapped keypoints, with the keypoint-anchoring weights ``W (V, S)``
  (:func:`pose2mesh.models.lifter.anchor_weights`) renormalised over the
  snapped keypoints (a vertex whose weights on them sum to less than ``1e-3``,
  nothing snapped near it, keeps its place, up to the final re-rooting); the
  regressed keypoints then move linearly in the offsets, and the offsets that
  put every snapped keypoint on its target are solved for (ridge-damped least
  squares, one small ``(S, S)`` system per sample, in float64).
"""
from __future__ import annotations

import torch
from torch import Tensor

from pose2mesh import joints as _joints
from pose2mesh.camera.placement import solve_translation
from pose2mesh.models.posenet import ROOT_INDEX

__all__ = ["SNAP_SIGMA", "copied_keypoints", "snap_to_keypoints"]

#: width (metres, on the template) of the anchoring weights the library snaps with
#: (``anchor_weights(body.v_template, regressor, SNAP_SIGMA)``). Measured on the shipped model's
#: ground-truth-2D test (docs/models.md): 3, 5 and 8 cm give the same MPJPE to 0.1 mm, but the narrower
#: the weights the more the surface bends around each keypoint (normal error 33.4, 32.9 and 32.5 deg;
#: 32.6 unsnapped) and the larger the MPVPE (72.0, 71.7 and 71.6 mm).
SNAP_SIGMA = 0.08

#: a vertex moves only if its anchoring weights on the snapped keypoints sum to more than this
_MIN_WEIGHT = 1e-3


def copied_keypoints(layout: str) -> Tensor:
    """Which superset keypoints ``layout`` has itself (:attr:`pose2mesh.joints.Layout.canonical`).

    The others are absent from it or derived by :func:`pose2mesh.joints.to_superset`
    (:data:`pose2mesh.joints.DERIVATIONS`), as the mean of other keypoints
    (COCO's pelvis) or as a nearby one (``neck`` from ``thorax``, ``neck_nose``
    from ``nose``): approximations that must not be snapped.

    Args:
        layout: a layout name (:func:`pose2mesh.joints.list_layouts`).

    Returns:
        ``(S,)`` bool over the superset keypoints.
    """
    own = set(_joints.get_layout(layout).canonical)
    return torch.tensor([name in own for name in _joints.get_layout("superset").names])


def snap_to_keypoints(vertices: Tensor, keypoints: Tensor, weights: Tensor, K: Tensor, regressor: Tensor,
                      anchor_weights: Tensor, ridge: float = 1e-6) -> Tensor:
    """Move root-relative meshes so that their keypoints reproject onto exact 2D keypoints (module docstring).

    Args:
        vertices: root-relative vertices, metres, OpenCV camera axes.
        keypoints: superset 2D keypoints, pixels (any value where ``weights`` is 0).
        weights: ``> 0`` where a keypoint is snapped (present in the input and
            the input layout's own, :func:`copied_keypoints`); the values weight
            the camera placement.
        K: intrinsics, pixels.
        regressor: superset keypoint regressor (keypoints = ``regressor @ vertices``).
        anchor_weights: per-vertex weights over the superset keypoints
            (:func:`pose2mesh.models.lifter.anchor_weights` of the body's template).
        ridge: Tikhonov damping of the offsets' least-squares solve (added to
            the normal equations, whose entries are ~1): it keeps the solve
            defined where two snapped keypoints have the same regressor row
            (the superset's ``nose`` and ``neck_nose``), at a bias of that order.

    Shape:
        - vertices: :math:`(B, V, 3)`; keypoints: :math:`(B, S, 2)`; weights: :math:`(B, S)`
        - K: :math:`(B, 3, 3)` or :math:`(3, 3)`
        - regressor: :math:`(S, V)`; anchor_weights: :math:`(V, S)`
        - output: :math:`(B, V, 3)`, dtype of ``vertices``

    Returns:
        The snapped vertices (a new tensor), re-rooted at their regressed
        pelvis. Samples with fewer than two snapped keypoints (no placement
        possible) are returned unchanged.

    Raises:
        ValueError: mismatched shapes, negative weights or ``ridge < 0``.
    """
    if vertices.ndim != 3 or vertices.shape[-1] != 3:
        raise ValueError(f"vertices must have shape (B, V, 3), got {tuple(vertices.shape)}")
    b, v, _ = vertices.shape
    s = regressor.shape[0]
    if regressor.shape != (s, v) or anchor_weights.shape != (v, s):
        raise ValueError(f"regressor must be (S, V) = (S, {v}) and anchor_weights (V, S), got "
                         f"{tuple(regressor.shape)} and {tuple(anchor_weights.shape)}")
    if keypoints.shape != (b, s, 2) or weights.shape != (b, s):
        raise ValueError(f"keypoints must be ({b}, {s}, 2) and weights ({b}, {s}), got "
                         f"{tuple(keypoints.shape)} and {tuple(weights.shape)}")
    if not ridge >= 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    if (weights < 0).any():
        raise ValueError("weights must be non-negative")
    out = vertices.clone()
    ok = (weights > 0).sum(-1) >= 2
    if not ok.any():
        return out
    dtype = vertices.dtype
    index = regressor.ne(0).any(0).nonzero().flatten()  # the few vertices the regressor reads
    reg, anchor = regressor[:, index].to(vertices), anchor_weights.to(vertices)
    verts, w, uv = vertices[ok], weights[ok].to(dtype), keypoints[ok].to(dtype)
    K = K.to(vertices).expand(b, 3, 3)[ok]
    n = verts.shape[0]
    mask = (w > 0).to(dtype)  # (n, S)
    uv = torch.where(mask[..., None] > 0, uv, torch.zeros_like(uv))  # no NaN from absent keypoints
    joints = reg @ verts[:, index]
    t = solve_translation(joints, uv, K, weights=w)
    # the ray through each 2D keypoint (z = 1), scaled to the keypoint's placed depth, back in root-relative terms
    rays = torch.cat([uv, torch.ones_like(uv[..., :1])], -1) @ torch.linalg.inv(K).transpose(-1, -2)
    target = rays * (joints[..., 2:] + t[:, None, 2:]) - t[:, None]
    # vertex v moves by scale_v * sum_s W_vs o_s for keypoint offsets o (n, S, 3), renormalised over the
    # snapped keypoints; vertices with (almost) nothing snapped near them stay
    total = (anchor @ mask.T).T[..., None]  # (n, V, 1): each vertex's weight on the snapped keypoints
    scale = torch.where(total > _MIN_WEIGHT, 1.0 / total.clamp_min(_MIN_WEIGHT), torch.zeros_like(total))
    response = reg @ (scale[:, index] * anchor[index])  # (n, S, S): regressed keypoints' move per unit offset
    # the offsets that bring every snapped keypoint onto its target (0 on the others): a small linear
    # system per sample, solved in float64 as damped least squares
    A = (response * (mask[:, :, None] * mask[:, None, :])).double()
    eye = torch.eye(s, dtype=torch.float64, device=verts.device)
    A = A + eye * (1 - mask.double())[:, None, :]
    residual = ((target - joints) * mask[..., None]).double()
    At = A.transpose(1, 2)
    offsets = (torch.linalg.solve(At @ A + ridge * eye, At @ residual) * mask[..., None]).to(dtype)
    step = (anchor @ offsets.transpose(0, 1).reshape(s, 3 * n)).reshape(v, n, 3).transpose(0, 1)  # one product
    verts = verts + scale * step
    verts = verts - reg[ROOT_INDEX:ROOT_INDEX + 1] @ verts[:, index]
    out[ok] = verts
    return out
