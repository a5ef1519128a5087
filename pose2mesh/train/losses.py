"""Training losses (Pose2Mesh, Choi et al. 2020), all L1 and in metres.

Inputs are root-relative camera-frame quantities (metres, OpenCV axes); the
faces are the body mesh's triangles ``(F, 3)``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def vertex_loss(pred: Tensor, gt: Tensor) -> Tensor:
    """Mean L1 distance per coordinate of vertices ``(B, V, 3)`` (metres)."""
    return (pred - gt).abs().mean()


def keypoint_loss(pred: Tensor, gt: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean L1 per coordinate of keypoints ``(B, J, 3)``; ``mask (B, J)`` or ``(J,)`` weights points."""
    err = (pred - gt).abs().mean(-1)
    if mask is None:
        return err.mean()
    mask = mask.to(err.dtype).expand_as(err)
    return (err * mask).sum() / mask.sum().clamp(min=1.0)


def _edges(vertices: Tensor, faces: Tensor) -> Tensor:
    """The three edge vectors of every face: ``(B, F, 3, 3)``."""
    v = vertices[:, faces]  # (B, F, 3 corners, 3)
    return torch.stack([v[:, :, 1] - v[:, :, 0], v[:, :, 2] - v[:, :, 1], v[:, :, 0] - v[:, :, 2]], 2)


def normal_loss(pred: Tensor, gt: Tensor, faces: Tensor) -> Tensor:
    """Surface-normal consistency: predicted edges orthogonal to ground-truth face normals.

    ``mean |<e_pred / |e_pred|, n_gt>|`` over faces and their 3 edges (unitless).
    """
    e_pred = F.normalize(_edges(pred, faces), dim=-1, eps=1e-8)
    e_gt = _edges(gt, faces)
    n_gt = F.normalize(torch.linalg.cross(e_gt[:, :, 0], -e_gt[:, :, 2], dim=-1), dim=-1, eps=1e-8)
    return (e_pred * n_gt[:, :, None]).sum(-1).abs().mean()


def edge_loss(pred: Tensor, gt: Tensor, faces: Tensor) -> Tensor:
    """Edge-length consistency ``mean | |e_pred| - |e_gt| |`` (metres)."""
    return (_edges(pred, faces).norm(dim=-1) - _edges(gt, faces).norm(dim=-1)).abs().mean()
