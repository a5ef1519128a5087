"""Standard 3D pose and mesh metrics as pure torch functions.

Units: every input point is in **metres**; every reported error is in
**millimetres** (the unit of the Human3.6M / 3DPW literature).  The functions
only change units in their last step, so the metre inputs are never rescaled.

Shapes: any leading batch shape is accepted, ``(..., N, 3)`` for points and
``(..., N)`` for masks; an error comes back with the leading shape ``(...)``.
There is no Python loop over the batch.

Masks: ``mask (..., N)`` (bool, or float where ``> 0`` means "include") marks
the points with ground truth.  Excluded points are replaced by zeros *before*
any arithmetic (``torch.where``, not a multiplication), so they do not change
the result even when they hold NaN or inf, and they get zero gradient.  A
sample with no included point has no error to report: its value is NaN, which
:func:`summarize` skips.

Procrustes alignment (:func:`umeyama`) follows Umeyama 1991, "Least-squares
estimation of transformation parameters between two point patterns" (IEEE
TPAMI 13(4)), eqs. 38-42, including the two parts that the official Pose2Mesh
and I2L-MeshNet evaluation code got wrong for a while: the reflection fix
(``D = diag(1, 1, sign(det U det V))``) and the scale inside the translation
(``t = mu_dst - s R mu_src``).
"""
from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Union

import torch

from pose2mesh.joints.layouts import LAYOUTS

__all__ = [
    "M_TO_MM",
    "KEYPOINT_PARTS",
    "mpjpe",
    "umeyama",
    "pa_mpjpe",
    "mpvpe",
    "pa_mpvpe",
    "normal_error",
    "per_part_errors",
    "summarize",
]

M_TO_MM = 1000.0
"""Millimetres per metre: inputs are metres, reported errors millimetres."""

RootIndex = Union[int, Sequence[int], None]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _check_points(pred: torch.Tensor, gt: torch.Tensor, what: str = "points") -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"{what}: prediction shape {tuple(pred.shape)} != ground truth shape {tuple(gt.shape)}")
    if pred.ndim < 2:
        raise ValueError(f"{what}: expected shape (..., N, D), got {tuple(pred.shape)}")


def _include(mask: torch.Tensor | None, points: torch.Tensor) -> torch.Tensor:
    """Boolean include mask broadcast to ``points.shape[:-1]``, i.e. ``(..., N)``."""
    if mask is None:
        return torch.ones(points.shape[:-1], dtype=torch.bool, device=points.device)
    mask = torch.as_tensor(mask, device=points.device)
    include = mask if mask.dtype == torch.bool else mask > 0
    try:
        return include.expand(points.shape[:-1])
    except RuntimeError:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the points' shape "
            f"{tuple(points.shape[:-1])} (expected (..., N))"
        ) from None


def _masked_mean(values: torch.Tensor, include: torch.Tensor) -> torch.Tensor:
    """Mean of ``values (..., N)`` over the included points, NaN where there is none.

    The division uses a count clamped to 1 and the NaN is put in by a
    ``where`` afterwards, so samples with no included point get zero gradient
    instead of the NaN of 0/0.
    """
    values = torch.where(include, values, torch.zeros((), dtype=values.dtype, device=values.device))
    count = include.sum(-1)
    mean = values.sum(-1) / count.clamp_min(1).to(values.dtype)
    return torch.where(count > 0, mean, torch.full((), float("nan"), dtype=values.dtype, device=values.device))


def _root_point(points: torch.Tensor, root: RootIndex) -> torch.Tensor:
    """The root point ``(..., 1, D)``: one index, or the mean of several (e.g. both hips)."""
    try:
        index = [operator.index(root)]  # an int, a numpy integer or a 0-d integer tensor
    except TypeError:
        index = list(root)
    if not index:
        raise ValueError("root: expected an index or a non-empty list of indices")
    return points[..., index, :].mean(dim=-2, keepdim=True)


def _point_errors_mm(pred: torch.Tensor, gt: torch.Tensor, include: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance over included points, metres in, millimetres out, ``(...)``."""
    zero = torch.zeros((), dtype=pred.dtype, device=pred.device)
    # Clean excluded points first: a NaN placeholder in the ground truth must
    # not reach the norm (its gradient would be NaN even if masked later).
    diff = torch.where(include[..., None], pred - gt, zero)
    # vector_norm's backward is defined as 0 at a zero vector (no NaN for a
    # perfect prediction).
    dist = torch.linalg.vector_norm(diff, dim=-1)
    return _masked_mean(dist, include) * M_TO_MM


# ---------------------------------------------------------------------------
# MPJPE
# ---------------------------------------------------------------------------
def mpjpe(
    pred: torch.Tensor,
    gt: torch.Tensor,
    mask: torch.Tensor | None = None,
    root: RootIndex = None,
) -> torch.Tensor:
    """Mean per-joint position error (MPJPE), in **millimetres**.

    ``mean_j || pred_j - gt_j ||_2`` over the included joints, inputs in metres.

    Args:
        pred: predicted joints ``(..., N, 3)``, metres.
        gt: ground-truth joints ``(..., N, 3)``, metres.
        mask: ``(..., N)`` bool (or float, ``> 0`` = include) of joints with
            ground truth; ``None`` includes all.  Excluded joints do not affect
            the result, even if they hold NaN.
        root: root-relative MPJPE: the joint at this index (or the mean of the
            joints at these indices, e.g. both hips) is subtracted from
            ``pred`` and from ``gt`` separately before comparing.  The root is
            taken from the given points regardless of ``mask`` (it must be
            valid in both).  ``None`` compares the points as given.

    Returns:
        ``(...)`` error in millimetres; NaN for a sample with no included joint.
    """
    _check_points(pred, gt, "mpjpe")
    include = _include(mask, pred)
    if root is not None:
        pred = pred - _root_point(pred, root)
        gt = gt - _root_point(gt, root)
    return _point_errors_mm(pred, gt, include)


# ---------------------------------------------------------------------------
# Procrustes (Umeyama)
# ---------------------------------------------------------------------------
def umeyama(
    src: torch.Tensor,
    dst: torch.Tensor,
    mask: torch.Tensor | None = None,
    scale: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Similarity transform minimising ``sum_i || s R src_i + t - dst_i ||^2`` (Umeyama 1991).

    With ``mu`` the means over the included points, ``Sigma = 1/n sum (dst_i -
    mu_dst)(src_i - mu_src)^T = U S V^T`` and ``var_src = 1/n sum ||src_i -
    mu_src||^2``:

    * ``R = U D V^T`` with ``D = diag(1, 1, sign(det U det V))``: a proper
      rotation, ``det R = +1``, never a reflection (eq. 39-40);
    * ``s = trace(S D) / var_src`` (eq. 42), or 1 when ``scale=False``;
    * ``t = mu_dst - s R mu_src`` (eq. 41), the scale *inside* the translation.

    Degenerate inputs: where fewer than 3 points are included, or the included
    ``src`` points all coincide (``var_src <= 100 eps^2 mean ||src_i||^2``,
    ``eps`` the dtype's machine epsilon: rounding's spread), the rotation is not determined; the result
    is then the identity rotation, unit scale and the translation of the means
    ``t = mu_dst - mu_src`` (zero when no point is included).  These samples
    are finite in value and gradient.  (Coincident ``dst`` points are not
    degenerate: the minimiser is then ``s = 0``.)

    Args:
        src: source points ``(..., N, 3)``, metres (float32 or float64).
        dst: destination points ``(..., N, 3)``, metres, same dtype.
        mask: ``(..., N)`` bool (or float, ``> 0`` = include) of points to use.
        scale: estimate the scale; ``False`` fixes ``s = 1`` (rigid fit).

    Returns:
        ``R (..., 3, 3)``, ``s (...)`` (unitless), ``t (..., 3)`` (metres), such
        that ``s * src @ R.mT + t[..., None, :]`` is aligned to ``dst``.
    """
    _check_points(src, dst, "umeyama")
    if src.dtype != dst.dtype:
        raise ValueError(f"umeyama: src dtype {src.dtype} != dst dtype {dst.dtype}")
    dim = src.shape[-1]
    dtype, device = src.dtype, src.device
    include = _include(mask, src)
    zero = torch.zeros((), dtype=dtype, device=device)
    src = torch.where(include[..., None], src, zero)
    dst = torch.where(include[..., None], dst, zero)
    w = include.to(dtype)                                   # (..., N)
    count = w.sum(-1)                                       # (...)
    n = count.clamp_min(1)[..., None]                        # (..., 1), avoids 0/0

    mu_src = src.sum(-2) / n                                # (..., 3)
    mu_dst = dst.sum(-2) / n
    # Excluded points are zero and must stay zero after centring.
    src_c = (src - mu_src[..., None, :]) * w[..., None]
    dst_c = (dst - mu_dst[..., None, :]) * w[..., None]
    cov = dst_c.mT @ src_c / n[..., None]                    # (..., 3, 3), Sigma
    var_src = src_c.square().sum((-2, -1)) / n[..., 0]      # (...)

    # Relative threshold: rounding in the mean leaves a spread of ~eps * |x|
    # around identical points, i.e. a variance of ~eps^2 * |x|^2, below this
    # bound; a real point set (even 1 cm wide at 100 m in float32) is far above it.
    mean_sq = src.square().sum((-2, -1)) / n[..., 0]
    eps = torch.finfo(dtype).eps
    degenerate = (count < 3) | (var_src <= 100 * eps**2 * mean_sq + torch.finfo(dtype).tiny)

    # Double-where: the SVD of a degenerate (e.g. zero) covariance has repeated
    # singular values, whose backward divides by zero; a zero upstream gradient
    # from a later `where` would still give 0 * inf = NaN.  So degenerate
    # samples get a harmless well-conditioned matrix (distinct singular values)
    # here, and their result is replaced below.
    safe = torch.diag(torch.arange(dim, 0, -1, dtype=dtype, device=device))
    cov_svd = torch.where(degenerate[..., None, None], safe, cov)
    U, S, Vh = torch.linalg.svd(cov_svd)
    # Reflection fix: det(U) det(V) is +-1; flip the last axis when it is -1
    # (the singular direction with the smallest singular value).
    sign = torch.sign(torch.linalg.det(U) * torch.linalg.det(Vh))
    d = torch.ones(S.shape, dtype=dtype, device=device)
    d = torch.cat([d[..., :-1], sign[..., None]], dim=-1)       # diag of D, (..., 3)
    R = (U * d[..., None, :]) @ Vh                               # U D V^T

    eye = torch.eye(dim, dtype=dtype, device=device).expand(R.shape)
    R = torch.where(degenerate[..., None, None], eye, R)
    one = torch.ones((), dtype=dtype, device=device)
    if scale:
        safe_var = torch.where(degenerate, one, var_src)
        s = (S * d).sum(-1) / safe_var                           # trace(S D) / var_src
        s = torch.where(degenerate, one, s)
    else:
        s = torch.ones(var_src.shape, dtype=dtype, device=device)
    t = mu_dst - s[..., None] * (R @ mu_src[..., None])[..., 0]
    return R, s, t


def _apply_similarity(points: torch.Tensor, R: torch.Tensor, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``s R x + t`` for every point ``x`` of ``points (..., N, 3)``."""
    return s[..., None, None] * (points @ R.mT) + t[..., None, :]


def pa_mpjpe(
    pred: torch.Tensor,
    gt: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Procrustes-aligned MPJPE (PA-MPJPE, "reconstruction error"), in **millimetres**.

    ``pred`` is aligned to ``gt`` by the similarity transform of
    :func:`umeyama` (rotation, scale, translation; fitted on the included
    joints only), then :func:`mpjpe` is taken.  The alignment minimises the
    *squared* error, so the root-mean-square error after alignment never
    exceeds the one before; for the mean error (this metric) PA-MPJPE <=
    MPJPE holds in practice but is not a theorem for contrived inputs.

    Args:
        pred: predicted joints ``(..., N, 3)``, metres.
        gt: ground-truth joints ``(..., N, 3)``, metres.
        mask: ``(..., N)`` bool (or float, ``> 0`` = include) of joints with
            ground truth; ``None`` includes all.

    Returns:
        ``(...)`` error in millimetres; NaN for a sample with no included joint.
    """
    _check_points(pred, gt, "pa_mpjpe")
    dtype = torch.promote_types(pred.dtype, gt.dtype)  # as mpjpe
    pred, gt = pred.to(dtype), gt.to(dtype)
    R, s, t = umeyama(pred, gt, mask=mask, scale=True)
    include = _include(mask, pred)
    # Clean excluded points before transforming them (NaN * 0 is NaN).
    zero = torch.zeros((), dtype=pred.dtype, device=pred.device)
    pred = torch.where(include[..., None], pred, zero)
    return mpjpe(_apply_similarity(pred, R, s, t), gt, mask=include)


# ---------------------------------------------------------------------------
# Vertices
# ---------------------------------------------------------------------------
def mpvpe(
    pred_vertices: torch.Tensor,
    gt_vertices: torch.Tensor,
    root_pred: torch.Tensor | None = None,
    root_gt: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean per-vertex position error (MPVPE, a.k.a. PVE / V2V), in **millimetres**.

    Args:
        pred_vertices: predicted mesh vertices ``(..., V, 3)``, metres.
        gt_vertices: ground-truth vertices ``(..., V, 3)``, metres, same topology.
        root_pred: optional point ``(..., 3)`` (metres, e.g. the predicted
            pelvis) subtracted from every predicted vertex first.
        root_gt: optional point ``(..., 3)`` (metres, e.g. the ground-truth
            pelvis) subtracted from every ground-truth vertex first.

    Returns:
        ``(...)`` error in millimetres.
    """
    _check_points(pred_vertices, gt_vertices, "mpvpe")
    for name, root in (("root_pred", root_pred), ("root_gt", root_gt)):
        if root is not None and root.shape != pred_vertices.shape[:-2] + (3,):
            raise ValueError(f"mpvpe: {name} must have shape {tuple(pred_vertices.shape[:-2]) + (3,)} (one point per "
                             f"mesh), got {tuple(root.shape)}")
    if root_pred is not None:
        pred_vertices = pred_vertices - root_pred[..., None, :]
    if root_gt is not None:
        gt_vertices = gt_vertices - root_gt[..., None, :]
    return mpjpe(pred_vertices, gt_vertices)


def normal_error(pred_vertices: torch.Tensor, gt_vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Mean angle between corresponding face normals, in **degrees**.

    ``mean_f angle(n_f(pred), n_f(gt))`` with ``n_f`` the unit normal of
    triangle ``f`` (right-hand rule on its vertex order). It measures the
    surface's orientation: it grows with a rough surface even where the
    vertices are close (MPVPE barely sees noise of a few millimetres), and
    with the pose's error. No alignment is applied (the normals of a
    root-relative mesh do not depend on the root). A degenerate (zero-area)
    face has no normal and counts as 90 degrees.

    Args:
        pred_vertices: ``(..., V, 3)``, metres (any unit: angles are scale-free).
        gt_vertices: ``(..., V, 3)``, same topology.
        faces: ``(F, 3)`` integer vertex indices.

    Returns:
        ``(...)`` mean angle in degrees, in ``[0, 180]``.
    """
    _check_points(pred_vertices, gt_vertices, "normal_error")
    faces = torch.as_tensor(faces, device=pred_vertices.device).long()
    if faces.ndim != 2 or faces.shape[-1] != 3:
        raise ValueError(f"faces must have shape (F, 3), got {tuple(faces.shape)}")

    def normals(v: torch.Tensor) -> torch.Tensor:
        a, b, c = (v[..., faces[:, i], :] for i in range(3))
        return torch.nn.functional.normalize(torch.linalg.cross(b - a, c - a), dim=-1)

    cos = (normals(pred_vertices) * normals(gt_vertices)).sum(-1).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cos)).mean(-1)


def pa_mpvpe(pred_vertices: torch.Tensor, gt_vertices: torch.Tensor) -> torch.Tensor:
    """Procrustes-aligned MPVPE (PA-MPVPE / PA-V2V), in **millimetres**.

    The predicted vertices are aligned to the ground truth by :func:`umeyama`
    (fitted on all vertices), then :func:`mpvpe` is taken.

    Args:
        pred_vertices: predicted vertices ``(..., V, 3)``, metres.
        gt_vertices: ground-truth vertices ``(..., V, 3)``, metres.

    Returns:
        ``(...)`` error in millimetres.
    """
    return pa_mpjpe(pred_vertices, gt_vertices)


# ---------------------------------------------------------------------------
# Per body part
# ---------------------------------------------------------------------------
_PART_NAMES: dict[str, tuple[str, ...]] = {
    # Trunk, head midline, limbs down to wrists and ankles: the joints of the
    # usual 14/17-joint benchmarks (H36M, MPII, SMPL 24 minus hands/feet).
    "body": (
        "pelvis", "spine1", "spine", "spine2", "spine3", "thorax", "neck", "upper_neck",
        "neck_nose", "head", "head_top",
        "left_collar", "right_collar", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    "hands": (
        "left_hand", "right_hand", "left_thumb", "right_thumb",
        "left_index", "right_index", "left_pinky", "right_pinky",
    ),
    "feet": (
        "left_heel", "right_heel", "left_foot", "right_foot",
        "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe",
    ),
    "face": (
        "nose", "left_eye_inner", "right_eye_inner", "left_eye", "right_eye",
        "left_eye_outer", "right_eye_outer", "left_ear", "right_ear",
        "left_mouth_corner", "right_mouth_corner",
    ),
}


def _default_parts() -> dict[str, str]:
    table = {name: part for part, names in _PART_NAMES.items() for name in names}
    superset = LAYOUTS["superset"]
    missing = set(superset.names) - set(table)
    if missing:  # a new superset point must be given a part here
        raise RuntimeError(f"superset keypoints without a body part: {sorted(missing)}")
    # Layout-specific names (OpenPose mid_hip, BlazePose left_foot_index, ...)
    # take the part of the superset point they stand for.
    for layout in LAYOUTS.values():
        for own, canonical in zip(layout.names, layout.canonical):
            table.setdefault(own, table[canonical])
    return table


KEYPOINT_PARTS: dict[str, str] = _default_parts()
"""Default keypoint name -> body part (``body``, ``hands``, ``feet``, ``face``).

Keyed by every superset name (:mod:`pose2mesh.joints`) and every built-in
layout's own keypoint names; wrists and ankles count as ``body``."""


def per_part_errors(
    pred: torch.Tensor,
    gt: torch.Tensor,
    names: Sequence[str],
    parts: Mapping[str, str] | None = None,
    mask: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """MPJPE per body part, in **millimetres**.

    Args:
        pred: predicted keypoints ``(..., N, 3)``, metres.
        gt: ground-truth keypoints ``(..., N, 3)``, metres.
        names: the ``N`` keypoint names, in order (superset or layout names,
            e.g. ``pose2mesh.joints.get_layout("coco").names``).
        parts: keypoint name -> part name; default :data:`KEYPOINT_PARTS`
            (parts ``body``, ``hands``, ``feet``, ``face``).
        mask: ``(..., N)`` bool (or float, ``> 0`` = include) of keypoints with
            ground truth.

    Returns:
        ``{part: (...) MPJPE in mm}`` for the parts that have at least one
        keypoint in ``names``, in the order of first appearance in ``parts``.
        A sample whose keypoints of a part are all masked gets NaN there.

    Raises:
        ValueError: if ``len(names) != N`` or a name has no part in the table.
    """
    _check_points(pred, gt, "per_part_errors")
    names = list(names)
    if len(names) != pred.shape[-2]:
        raise ValueError(f"per_part_errors: {len(names)} names for {pred.shape[-2]} keypoints")
    table = KEYPOINT_PARTS if parts is None else parts
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(
            f"per_part_errors: keypoints {unknown} have no body part; "
            f"known names: {', '.join(sorted(table))}"
        )
    include = _include(mask, pred)
    out: dict[str, torch.Tensor] = {}
    for part in dict.fromkeys(table.values()):
        selected = torch.tensor([table[n] == part for n in names], device=pred.device)
        if selected.any():
            out[part] = mpjpe(pred, gt, mask=include & selected)
    return out


# ---------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------
def summarize(errors: Mapping[str, torch.Tensor | Sequence[torch.Tensor]]) -> dict[str, float]:
    """Mean of each metric over all its samples, as Python floats (units unchanged, mm).

    Args:
        errors: metric name -> per-sample errors, a tensor of any shape or a
            sequence of tensors (e.g. one per batch; flattened and joined).

    Returns:
        ``{name: mean}``; NaN entries (samples with no ground truth) are
        skipped, and a metric with no finite-or-inf sample gives NaN.
    """
    summary: dict[str, float] = {}
    for name, value in errors.items():
        if isinstance(value, torch.Tensor):
            flat = value.detach().reshape(-1)
        else:
            flat = torch.cat([torch.as_tensor(v).detach().reshape(-1) for v in value]) if len(value) else torch.zeros(0)
        flat = flat.to(torch.float64)
        summary[name] = float(flat.nanmean()) if flat.numel() else float("nan")
    return summary
