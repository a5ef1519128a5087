"""Flip test: lift the keypoints and their mirror image, and average the two results.

A person's mirror image is as plausible a person as the original, so a model
lifts the horizontally mirrored keypoints about as well as the originals, with
errors of its own. Mirroring that second lift back and averaging the two
(test-time augmentation, "flip test" in pose-estimation libraries) cancels part
of both errors. On the shipped model and the held-out test sets of
``docs/eval/default.md`` it lowers MPJPE by 1-2 mm, at the cost of a second
pass through the network (one forward of twice the batch).

Conventions
-----------
* The mirror is about a vertical image line: ``u -> 2 c_x - u`` with ``c_x``
  the principal point when the camera ``K`` is known (the camera itself is then
  unchanged: the mirrored keypoints are exactly what the mirrored person would
  project to), ``u -> -u`` when it is not (the models crop-normalise their
  input, so any vertical line gives the same lift).
* In OpenCV camera axes (x right, y down, z forward) that image mirror is
  ``x -> -x`` of every 3D point, with the left and right keypoints
  (:attr:`pose2mesh.joints.Layout.flip_permutation`) and vertices
  (:func:`mirror_permutation`) swapped.
* Outputs are those of :class:`pose2mesh.models.Pose2MeshNet`: root-relative
  metres; the averaged mesh is re-rooted at its own regressed pelvis and its
  keypoints are regressed from it, as the model's own.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor

from pose2mesh import joints as _joints
from pose2mesh.models.posenet import ROOT_INDEX

__all__ = ["mirror_permutation", "flip_test"]


def mirror_permutation(points: Tensor, tol: float = 0.005) -> Tensor:
    """For each point, the index of the point at its mirror image across the plane ``x = 0``.

    Args:
        points: ``(V, 3)`` e.g. a body's template vertices (``body.v_template``;
            metres, body frame with x across the body).
        tol: largest distance (units of ``points``) between a mirrored point
            and its counterpart.

    Returns:
        ``(V,)`` int64 on ``points``' device: ``points[perm] * [-1, 1, 1]``
        is ``points`` to within ``tol``.

    Raises:
        ValueError: ``points`` is not ``(V, 3)``, or the point set is not
            left/right symmetric about ``x = 0`` within ``tol`` (the message
            gives the worst distance).
    """
    from scipy.spatial import cKDTree  # a k-d tree: O(V log V), where a (V, V) distance matrix takes GBs

    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points must have shape (V, 3), got {tuple(points.shape)}")
    p = points.detach().cpu().double().numpy()
    dist, index = cKDTree(p).query(p * np.array([-1.0, 1.0, 1.0]))
    if not dist.max() <= tol:
        raise ValueError(
            f"the points are not left/right symmetric about x = 0: a mirrored point lies {dist.max():.4g} from "
            f"the nearest point (tolerance {tol:g}); the flip test needs a symmetric mesh"
        )
    return torch.as_tensor(index, dtype=torch.int64, device=points.device)


def _mirror_pixels(xy: Tensor, K: Optional[Tensor]) -> Tensor:
    """``(B, S, 2)`` pixels mirrored about the principal point's column (about ``u = 0`` without ``K``)."""
    out = xy.clone()
    if K is None:
        out[..., 0] = -xy[..., 0]
    else:
        cx = K[..., 0, 2].to(xy.dtype)
        out[..., 0] = 2 * (cx[..., None] if cx.ndim else cx) - xy[..., 0]
    return out


def _unmirror(points: Tensor, perm: Tensor) -> Tensor:
    """Mirror ``(B, N, 3)`` camera-frame points back: relabel left/right with ``perm``, then ``x -> -x``."""
    out = points[:, perm].clone()
    out[..., 0] = -out[..., 0]
    return out


def flip_test(model, xy: Tensor, presence: Tensor, K: Optional[Tensor] = None, mesh: bool = True,
              vertex_mirror: Optional[Tensor] = None) -> dict[str, Tensor]:
    """Lift with a :class:`~pose2mesh.models.Pose2MeshNet` and with its mirror image; average (module docstring).

    Args:
        model: the model (eval mode: its batch is the input and its mirror image stacked).
        xy: ``(B, S, 2)`` superset keypoints, pixels; presence: ``(B, S)``.
        K: ``(B, 3, 3)`` or ``(3, 3)`` intrinsics (pixels), or None (unknown camera).
        mesh: also lift the mesh (False: ``joints_posenet`` alone, as the model).
        vertex_mirror: ``(V,)`` :func:`mirror_permutation` of the body's template;
            required when ``mesh``.

    Returns:
        As ``model(xy, presence, mesh=mesh, K=K)``: ``joints_posenet (B, S, 3)``
        and, with ``mesh``, ``vertices (B, V, 3)`` and ``joints_mesh (B, S, 3)``;
        root-relative metres, OpenCV camera axes.

    Raises:
        ValueError: ``mesh`` without ``vertex_mirror``, or one of the wrong length.
    """
    if mesh and vertex_mirror is None:
        raise ValueError("the flip test of the mesh needs vertex_mirror = mirror_permutation(body.v_template)")
    num_vertices = model.regressor.shape[1]
    if mesh and vertex_mirror.shape != (num_vertices,):
        raise ValueError(f"vertex_mirror must have shape ({num_vertices},), got {tuple(vertex_mirror.shape)}")
    b = xy.shape[0]
    perm = torch.as_tensor(_joints.get_layout("superset").flip_permutation, device=xy.device)
    xy2 = torch.cat([xy, _mirror_pixels(xy, K)[:, perm]])
    presence2 = torch.cat([presence, presence[:, perm]])
    K2 = None if K is None else (torch.cat([K, K]) if K.ndim == 3 else K)
    out = model(xy2, presence2, mesh=mesh, K=K2)
    joints = (out["joints_posenet"][:b] + _unmirror(out["joints_posenet"][b:], perm)) / 2
    if not mesh:
        return {"joints_posenet": joints}
    verts = out["vertices"]
    verts = (verts[:b] + _unmirror(verts[b:], vertex_mirror.to(verts.device))) / 2
    verts = verts - model.regress(verts)[:, ROOT_INDEX:ROOT_INDEX + 1]
    return {"joints_posenet": joints, "vertices": verts, "joints_mesh": model.regress(verts)}
