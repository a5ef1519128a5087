"""Building blocks shared by the PoseNet and MeshNet networks.

Conventions: features are ``(B, V, F)`` (batch, node, channel) as in
:mod:`pose2mesh.graph`, or node-major ``(V, B, F)`` where a block is called
with ``batch_first=False``; every graph of a batch shares one Laplacian.
2D keypoint inputs (``norm_xy``) are the crop-normalised coordinates of
:func:`pose2mesh.models.normalize_keypoints` (unitless, image axes x right,
y down; present keypoints within ``[-1, 1]``), in the superset layout.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from pose2mesh.graph import ChebConv, rescaled_laplacian
from pose2mesh.joints import get_layout

__all__ = [
    "keypoint_laplacian",
    "NodeNorm",
    "GraphConvBlock",
    "GraphResBlock",
    "NORMS",
    "masked_coordinates",
    "check_input",
]

#: Valid ``norm`` names of :class:`NodeNorm`.
NORMS = ("layer", "batch", "none")


def keypoint_laplacian(layout: str = "superset", dtype: torch.dtype = torch.float32) -> Tensor:
    """Dense rescaled Laplacian ``(S, S)`` of a layout's skeleton graph (``layout.edges``).

    Dense because the keypoint graph is tiny (52 nodes): a dense ``(S, S)``
    product is faster than a sparse one there and :func:`pose2mesh.graph.cheb_conv`
    accepts it.
    """
    lay = get_layout(layout)
    edges = torch.tensor(lay.edges, dtype=torch.long).T.contiguous()
    return rescaled_laplacian(edges, lay.num_joints, dtype=dtype).to_dense()


class NodeNorm(nn.Module):
    """Per-channel normalisation of node features ``(B, V, F)`` (or ``(V, B, F)``: only the last axis matters).

    Args:
        kind: ``"layer"`` (LayerNorm over the channels of each node; batch
            independent), ``"batch"`` (BatchNorm over batch and nodes, as the
            official Pose2Mesh) or ``"none"``.
        channels: ``F``.
    """

    def __init__(self, kind: str, channels: int) -> None:
        super().__init__()
        if kind not in NORMS:
            raise ValueError(f"unknown norm {kind!r}; choose one of: {', '.join(NORMS)}")
        self.kind = kind
        if kind == "layer":
            self.norm: nn.Module = nn.LayerNorm(channels)
        elif kind == "batch":
            self.norm = nn.BatchNorm1d(channels)
        else:
            self.norm = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        if self.kind == "batch":
            return self.norm(x.reshape(-1, x.shape[-1])).view_as(x)
        return self.norm(x)


class GraphConvBlock(nn.Module):
    """``ReLU(norm(ChebConv(x)))``: one graph convolution that may change the width.

    Shape:
        - x: :math:`(B, V, F_{in})` (:math:`(V, B, F_{in})` with ``batch_first=False``), laplacian :math:`(V, V)`
        - output: :math:`(B, V, F_{out})` (:math:`(V, B, F_{out})`)
    """

    def __init__(self, in_channels: int, out_channels: int, K: int, norm: str = "layer") -> None:
        super().__init__()
        self.conv = ChebConv(in_channels, out_channels, K)
        self.norm = NodeNorm(norm, out_channels)

    def forward(
        self, x: Tensor, laplacian: Tensor, batch_first: bool = True, node_index: Optional[Tensor] = None
    ) -> Tensor:
        """``node_index``: the block's input is ``x`` gathered at these nodes (an unpooling; see
        :func:`pose2mesh.graph.cheb_conv`, which applies the weights before the gather)."""
        return torch.relu(self.norm(self.conv(x, laplacian, batch_first, node_index)))


class GraphResBlock(nn.Module):
    """Residual block ``ReLU(x + norm(conv(ReLU(norm(conv(x))))))`` at a fixed width.

    Shape:
        - x: :math:`(B, V, F)` (:math:`(V, B, F)` with ``batch_first=False``), laplacian :math:`(V, V)`
        - output: same as ``x``
    """

    def __init__(self, channels: int, K: int, norm: str = "layer") -> None:
        super().__init__()
        self.conv1 = ChebConv(channels, channels, K)
        self.norm1 = NodeNorm(norm, channels)
        self.conv2 = ChebConv(channels, channels, K)
        self.norm2 = NodeNorm(norm, channels)

    def forward(self, x: Tensor, laplacian: Tensor, batch_first: bool = True) -> Tensor:
        h = torch.relu(self.norm1(self.conv1(x, laplacian, batch_first)))
        return torch.relu(x + self.norm2(self.conv2(h, laplacian, batch_first)))


def masked_coordinates(norm_xy: Tensor, presence: Tensor) -> tuple[Tensor, Tensor]:
    """``(coords * presence, presence)`` with absent coordinates forced to exactly 0.

    ``torch.where`` rather than a product alone, so that NaN/inf at absent
    keypoints cannot leak (``0 * nan = nan``).

    Shape:
        - norm_xy: ``(B, S, 2)`` crop-normalised coordinates (unitless, see the
          module docstring)
        - presence: ``(B, S)``, ``> 0`` where present
        - output: ``(B, S, 2)`` masked coordinates and ``(B, S)`` presence in
          ``norm_xy``'s dtype
    """
    p = presence.to(norm_xy.dtype)
    xy = torch.where((p > 0).unsqueeze(-1), norm_xy, torch.zeros_like(norm_xy)) * p.unsqueeze(-1)
    return xy, p


def check_input(norm_xy: Tensor, presence: Tensor, num_keypoints: Optional[int] = None) -> None:
    """Validate ``(B, S, 2)`` / ``(B, S)`` network inputs.

    ``norm_xy`` is ``(B, S, 2)`` crop-normalised coordinates (unitless, see the
    module docstring), ``presence`` is ``(B, S)``; ``S`` must equal
    ``num_keypoints`` when given.  Raises ``ValueError`` otherwise.
    """
    if norm_xy.dim() != 3 or norm_xy.shape[-1] != 2:
        raise ValueError(f"keypoints must have shape (B, S, 2), got {tuple(norm_xy.shape)}")
    if presence.shape != norm_xy.shape[:2]:
        raise ValueError(f"presence must have shape {tuple(norm_xy.shape[:2])}, got {tuple(presence.shape)}")
    if num_keypoints is not None and norm_xy.shape[1] != num_keypoints:
        raise ValueError(f"expected S = {num_keypoints} superset keypoints, got {norm_xy.shape[1]}")
