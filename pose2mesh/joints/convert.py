"""Conversion of keypoints between layouts.

A destination keypoint is built from the source layout by these rules, in order:

1. *direct*: the source has a keypoint with the same canonical (superset) name;
2. *derived*: its canonical name is in :data:`~pose2mesh.joints.layouts.DERIVATIONS`
   and every source of the derivation can itself be built (recursively, by
   these same rules); the point is the mean of those sources;
3. otherwise it is *absent*.

The rules are linear, so they are captured exactly by one matrix per pair of
layouts (:func:`conversion_matrix`), which :func:`convert` applies as a masked
matrix product over any leading batch shape.

Absent keypoints are never zero-filled by :func:`convert`: their coordinates are
NaN and their confidence, if there is a confidence column, is 0.  A source
keypoint is absent when any of its coordinates is not finite or (with a
confidence column) its confidence is not > 0; a built keypoint is absent when
any of the source keypoints it depends on is, and its confidence is the minimum
of theirs.
"""
from __future__ import annotations

import functools
from typing import NamedTuple, TypeVar

import numpy as np
import torch

from pose2mesh.joints.layouts import DERIVATIONS, Layout, get_layout

__all__ = ["conversion_matrix", "convert", "to_superset"]

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def _resolve(point: str, source: dict[str, int], visiting: tuple[str, ...] = ()) -> dict[int, float] | None:
    """Averaging weights ``{source index: weight}`` of canonical ``point``, or None if absent."""
    if point in source:
        return {source[point]: 1.0}
    if point not in DERIVATIONS:
        return None
    if point in visiting:  # a programming error in the DERIVATIONS table
        raise RuntimeError(f"cyclic keypoint derivation: {' -> '.join(visiting + (point,))}")
    sources = DERIVATIONS[point].sources
    weights: dict[int, float] = {}
    for name in sources:
        sub = _resolve(name, source, visiting + (point,))
        if sub is None:
            return None
        for j, w in sub.items():
            weights[j] = weights.get(j, 0.0) + w / len(sources)
    return weights


class _Tables(NamedTuple):
    """Read-only conversion tables of one ``src -> dst`` pair."""

    weights: np.ndarray     # (J_dst, J_src) float64: the conversion matrix
    support: np.ndarray     # (J_dst, K) int64: source indices of each row, padded
                            # by repeating the first one; K = largest support >= 1
    derivable: np.ndarray   # (J_dst,) bool: False for rows that cannot be built


@functools.lru_cache(maxsize=None)
def _tables(src: Layout, dst: Layout) -> _Tables:
    """Build (once per pair, then cached) the tables of ``src -> dst``."""
    source = {name: j for j, name in enumerate(src.canonical)}
    weights = np.zeros((dst.num_joints, src.num_joints), dtype=np.float64)
    for i, point in enumerate(dst.canonical):
        for j, w in (_resolve(point, source) or {}).items():
            weights[i, j] = w
    supports = [np.flatnonzero(row) for row in weights]
    k = max([1] + [len(s) for s in supports])
    support = np.zeros((dst.num_joints, k), dtype=np.int64)
    for i, s in enumerate(supports):
        if len(s):
            support[i] = np.concatenate([s, np.full(k - len(s), s[0])])
    tables = _Tables(
        weights=weights,
        support=support,
        derivable=np.array([len(s) > 0 for s in supports], dtype=bool),
    )
    for array in tables:
        array.setflags(write=False)
    return tables


@functools.lru_cache(maxsize=256)
def _device_tables(src: Layout, dst: Layout, device: torch.device, dtype: torch.dtype):
    """``(support, derivable, weights.T)`` of :func:`_tables` as tensors on ``device``, made once:
    a host-to-device copy per call would stall a GPU's queue (read-only: never write to them).
    Made outside inference mode, so that a first call under ``torch.inference_mode`` does not
    leave tables that autograd refuses later."""
    t = _tables(src, dst)
    with torch.inference_mode(False):
        return (torch.tensor(t.support, device=device), torch.tensor(t.derivable, device=device),
                torch.tensor(t.weights.T, dtype=dtype, device=device))


def conversion_matrix(src: str | Layout, dst: str | Layout) -> np.ndarray:
    """Linear map from ``src`` keypoints to ``dst`` keypoints.

    Row ``i`` holds the averaging weights of destination keypoint ``i`` over
    the source keypoints: a single 1 for a direct match, ``1/n`` for the means
    of derived points (compounded through nested derivations, e.g. COCO ->
    H36M spine = 0.25 x each hip and shoulder), summing to 1; the row is all
    zeros when the keypoint cannot be built from ``src``.

    Because the rules are linear this is exact: ``W @ X`` equals
    :func:`convert` on fully present data, and e.g. a body's regressor for any
    layout is ``conversion_matrix("superset", layout) @ regressor_superset``.

    Args:
        src: source layout (name or :class:`Layout`).
        dst: destination layout (name or :class:`Layout`).

    Returns:
        ``(J_dst, J_src)`` float64 numpy array (a fresh, writable copy).

    Raises:
        ValueError: for an unknown layout name.
    """
    return _tables(get_layout(src), get_layout(dst)).weights.copy()


def _has_confidence(shape: tuple[int, ...], layout: Layout, confidence: bool | None) -> bool:
    """Validate ``(..., J, D)`` and say whether the last channel is a confidence."""
    j = layout.num_joints
    if len(shape) < 2 or shape[-2] != j or shape[-1] not in (2, 3):
        raise ValueError(
            f"expected keypoints of shape (..., {j}, 2) or (..., {j}, 3) for layout "
            f"'{layout.name}', got {tuple(shape)}"
        )
    if confidence is None:
        return shape[-1] == 3
    if confidence and shape[-1] != 3:
        raise ValueError(
            f"confidence=True expects keypoints of shape (..., {j}, 3) (x, y, confidence) "
            f"for layout '{layout.name}', got {tuple(shape)}"
        )
    return bool(confidence)


def _convert(keypoints, src: Layout, dst: Layout, has_conf: bool, fill: float):
    """Shared body of :func:`convert` and :func:`to_superset`.

    Returns ``(planes, confidence, present, batch)``: ``planes`` a list of C
    coordinate planes ``(M, J_dst)`` with absent points set to ``fill``,
    ``confidence`` ``(M, J_dst)`` or None, ``present`` ``(M, J_dst)`` bool, and
    the leading ``batch`` shape that flattens to M; numpy or torch like
    ``keypoints``.

    Vectorised over the whole batch: the only Python loops run over the
    C <= 3 coordinate channels and the K <= 4 sources of a derived point.
    Working on one channel plane ``(M, J)`` at a time keeps every operation a
    plain 2D one (a GEMM ``(M, J_src) @ W.T`` per channel), which is much
    faster than broadcasting over the short trailing axis of ``(M, J, C)``.
    A destination point is present iff all the sources in its row of the
    conversion matrix are (gathered through ``support``).
    """
    t = _tables(src, dst)
    if isinstance(keypoints, torch.Tensor):
        x = keypoints if keypoints.is_floating_point() else keypoints.to(torch.get_default_dtype())
        batch, c = tuple(x.shape[:-2]), x.shape[-1] - has_conf
        x = x.reshape(-1, src.num_joints, x.shape[-1])
        present = torch.isfinite(x[..., :c]).all(dim=-1)
        if has_conf:
            present = present & (x[..., c] > 0)  # a NaN confidence compares False: absent
        opts = dict(dtype=x.dtype, device=x.device)
        zero, fill = torch.zeros((), **opts), torch.full((), fill, **opts)
        support, derivable, weights_t = _device_tables(src, dst, x.device, x.dtype)
        out_present = present[:, support].all(dim=-1) & derivable
        # Zero absent sources *before* the product so that NaN reaches neither
        # the output nor the gradient (torch.where passes no gradient to the
        # unselected branch).
        planes = [
            torch.where(out_present, torch.where(present, x[..., d], zero) @ weights_t, fill)
            for d in range(c)
        ]
        conf = None
        if has_conf:
            conf0 = torch.where(present, x[..., c], zero)
            conf = conf0[:, support[:, 0]]
            for k in range(1, support.shape[1]):
                conf = torch.minimum(conf, conf0[:, support[:, k]])
            conf = torch.where(out_present, conf, zero)
        return planes, conf, out_present, batch

    x = np.asarray(keypoints)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    batch, c = x.shape[:-2], x.shape[-1] - has_conf
    x = x.reshape(-1, src.num_joints, x.shape[-1])
    present = np.isfinite(x[..., 0])
    for d in range(1, c):
        present &= np.isfinite(x[..., d])
    if has_conf:
        with np.errstate(invalid="ignore"):
            present &= x[..., c] > 0  # a NaN confidence compares False: absent
    out_present = present[:, t.support].all(axis=-1) & t.derivable
    zero, fill = x.dtype.type(0), x.dtype.type(fill)
    weights_t = t.weights.T.astype(x.dtype)
    planes = [np.where(out_present, np.where(present, x[..., d], zero) @ weights_t, fill) for d in range(c)]
    conf = None
    if has_conf:
        conf0 = np.where(present, x[..., c], zero)
        conf = conf0[:, t.support[:, 0]]
        for k in range(1, t.support.shape[1]):
            np.minimum(conf, conf0[:, t.support[:, k]], out=conf)
        conf = np.where(out_present, conf, zero)
    return planes, conf, out_present, batch


def convert(keypoints: Array, src: str | Layout, dst: str | Layout, confidence: bool | None = None) -> Array:
    """Convert keypoints from layout ``src`` to layout ``dst``.

    Destination keypoints are built by direct match or derivation (see the
    module docstring and ``docs/joints.md``); those that cannot be built, or
    that depend on an absent source keypoint, come out absent: NaN
    coordinates and confidence 0.  They are never zero-filled.

    Args:
        keypoints: ``(..., J_src, D)`` numpy array (or array-like) or torch
            tensor, any leading batch shape, D = 2 or 3.  Units are whatever
            the input uses (pixels, metres); they are averaged, never rescaled.
        src: source layout (name or :class:`~pose2mesh.joints.Layout`).
        dst: destination layout (name or :class:`~pose2mesh.joints.Layout`).
        confidence: whether the last channel is a detector confidence.
            ``None`` (default): yes when D == 3 (``(x, y, confidence)``, the
            output of a 2D detector), no when D == 2.  ``False``: D == 3 are
            3D points ``(x, y, z)``.  ``True``: D must be 3.

    Returns:
        ``(..., J_dst, D)`` of the same type (numpy / torch), dtype and device
        (integer input is promoted to float64 / torch's default dtype, since
        absent points are NaN).  With a confidence column, a built keypoint's
        confidence is the minimum of its sources' confidences.  The torch path
        is differentiable w.r.t. the coordinates and confidences.

    Raises:
        ValueError: for an unknown layout, or a shape other than
            ``(..., J_src, 2)`` / ``(..., J_src, 3)``.
    """
    src, dst = get_layout(src), get_layout(dst)
    has_conf = _has_confidence(np.shape(keypoints), src, confidence)
    planes, conf, _, batch = _convert(keypoints, src, dst, has_conf, fill=float("nan"))
    if conf is not None:
        planes.append(conf)
    shape = batch + (dst.num_joints, len(planes))
    if isinstance(planes[0], torch.Tensor):
        return torch.stack(planes, dim=-1).reshape(shape)
    return np.stack(planes, axis=-1).reshape(shape)


def to_superset(keypoints: Array, src: str | Layout, confidence: bool | None = None) -> tuple[Array, Array]:
    """Convert keypoints to the canonical superset, as the networks consume them.

    Unlike :func:`convert`, absent keypoints get coordinates 0.0 (not NaN):
    the ``presence`` returned next to them is 0, so the networks mask them, and
    zeros keep NaN out of their arithmetic and gradients.

    Args:
        keypoints: ``(..., J_src, D)`` numpy array or torch tensor, D = 2 or 3.
        src: source layout (name or :class:`~pose2mesh.joints.Layout`).
        confidence: as in :func:`convert`.

    Returns:
        points: ``(..., S, D')`` with S = ``get_layout("superset").num_joints``
            and D' = D without the confidence column (2 for detector output,
            3 for 3D points); absent points are 0.
        presence: ``(..., S)`` in [0, 1]: the (minimum source) confidence,
            clipped to at most 1, or 1.0 / 0.0 without a confidence column;
            0 exactly for absent points.
        Both of the input's type, dtype and device.

    Raises:
        ValueError: as :func:`convert`.
    """
    src, dst = get_layout(src), get_layout("superset")
    has_conf = _has_confidence(np.shape(keypoints), src, confidence)
    planes, conf, present, batch = _convert(keypoints, src, dst, has_conf, fill=0.0)
    shape = batch + (dst.num_joints,)
    if isinstance(planes[0], torch.Tensor):
        points = torch.stack(planes, dim=-1).reshape(shape + (len(planes),))
        # Detector scores are meant to lie in [0, 1]; some (OpenPose heatmap
        # peaks) overshoot slightly: clip so that presence is a proper weight.
        presence = conf.clamp(max=1.0) if conf is not None else present.to(points.dtype)
        return points, presence.reshape(shape)
    points = np.stack(planes, axis=-1).reshape(shape + (len(planes),))
    presence = np.minimum(conf, 1.0) if conf is not None else present.astype(points.dtype)
    return points, presence.reshape(shape)
