"""MeshNet: 2D + lifted 3D keypoints -> root-relative mesh vertices, coarse to fine.

Conventions
-----------
* Input per keypoint (canonical superset, ``S = 52``): normalised 2D ``(2)``
  (masked: exactly 0 where absent), the PoseNet's root-relative 3D ``(3)`` and
  presence ``(1)``.
* Output: ``(B, V_0, 3)`` vertices of the FULL mesh (level 0 of the
  hierarchy, 12,272 for the default body) in METRES, OpenCV camera axes (x
  right, y down, z forward), meant to be root-relative: the composing
  :class:`~pose2mesh.models.lifter.Pose2MeshNet` subtracts the mesh's own
  regressed pelvis (superset index 0).
* Hierarchy levels are numbered as in :class:`pose2mesh.graph.MeshHierarchy`:
  level 0 = the mesh, higher = coarser. The network starts at level
  ``coarsest``, runs Chebyshev graph convolutions at each level down to
  ``output_level`` and unpools between levels with the hierarchy's unpooling
  matrices (every fine node takes a copy of its cluster's features). Below
  ``output_level`` the features are unpooled (fixed, no convolution) to the
  full mesh, where a cheap per-vertex linear refinement (a learned
  ``(F, 3)`` matrix per vertex) adds detail inside each cluster.

The unpooling matrix ``U_l`` (``(V_l, V_{l+1})``, one 1 per row) is applied
as ``x[:, cluster_l]`` (a gather with the column index of each row's 1),
which is the same product as ``U_l @ x`` but several times faster on the
CPU; the index is taken from :meth:`MeshHierarchy.unpool_matrix` and kept as a
buffer, as are all Laplacians (non-persistent: they are a function of the
hierarchy, whose content hash the model records in ``hierarchy_hash``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from pose2mesh.graph import ChebConv, MeshHierarchy
from pose2mesh.joints import get_layout
from pose2mesh.models.layers import GraphConvBlock, GraphResBlock, check_input, keypoint_laplacian, masked_coordinates

__all__ = ["MeshNetConfig", "MeshNet", "LIFTS"]

#: Valid ``lift`` modes of :class:`MeshNetConfig`.
LIFTS = ("factored", "dense")


@dataclass
class MeshNetConfig:
    """Configuration of :class:`MeshNet`.

    Attributes:
        coarsest: hierarchy level the mesh part starts at (7 = 143 nodes on the
            default hierarchy).
        output_level: finest level with graph convolutions (0 = the mesh);
            below it features are unpooled to the mesh and refined per vertex.
        channels: feature width at each level, from ``coarsest`` down to
            ``output_level`` (``coarsest - output_level + 1`` entries).
        blocks: residual blocks at each level (same length as ``channels``).
        joint_channels: widths of the graph convolutions on the keypoint graph
            (the input has 6 channels).
        K: Chebyshev order of every graph convolution.
        lift: ``"factored"``: coarse node ``v`` = ``sum_s A[v, s] h_s W + E_v``
            (learned ``(V_c, S)`` mixing, channel matrix and node embedding;
            few parameters) or ``"dense"``: one ``Linear(S * F, V_c * F_c)``
            as in the paper.
        lift_channels: width of the lifted coarse features (``None``: ``channels[0]``).
        refine_channels: width of the features unpooled to the full mesh for
            the per-vertex refinement (only when ``output_level > 0``).
        norm: ``"layer"``, ``"batch"`` or ``"none"``.
        detach_posenet: stop the MeshNet's gradient into the PoseNet's 3D.
    """

    coarsest: int = 7
    output_level: int = 2
    channels: tuple[int, ...] = (128, 96, 64, 32, 32, 16)
    blocks: tuple[int, ...] = (1, 1, 0, 0, 0, 0)
    joint_channels: tuple[int, ...] = (32, 64, 64)
    K: int = 3
    lift: str = "factored"
    lift_channels: Optional[int] = None
    refine_channels: int = 16
    norm: str = "layer"
    detach_posenet: bool = False

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        self.blocks = tuple(int(b) for b in self.blocks)
        self.joint_channels = tuple(int(c) for c in self.joint_channels)
        if self.lift not in LIFTS:
            raise ValueError(f"unknown lift {self.lift!r}; choose one of: {', '.join(LIFTS)}")
        if not 0 <= self.output_level <= self.coarsest:
            raise ValueError(f"need 0 <= output_level <= coarsest, got {self.output_level}, {self.coarsest}")
        n = self.coarsest - self.output_level + 1
        if len(self.channels) != n or len(self.blocks) != n:
            raise ValueError(
                f"channels and blocks need coarsest - output_level + 1 = {n} entries, "
                f"got {len(self.channels)} and {len(self.blocks)}"
            )
        if not self.joint_channels:
            raise ValueError("joint_channels needs at least one width")


class MeshNet(nn.Module):
    """Chebyshev GCN from keypoints to mesh vertices over a mesh hierarchy.

    Args:
        config: :class:`MeshNetConfig`.
        hierarchy: the mesh pooling hierarchy (:func:`pose2mesh.graph.load_hierarchy`).
        layout: keypoint layout of the input (the canonical ``"superset"``).

    Shape:
        - norm_xy: :math:`(B, S, 2)`, joints3d :math:`(B, S, 3)`, presence :math:`(B, S)`
        - output: :math:`(B, V_0, 3)` metres, OpenCV axes
    """

    def __init__(self, config: MeshNetConfig, hierarchy: MeshHierarchy, layout: str = "superset") -> None:
        super().__init__()
        cfg = config
        if cfg.coarsest > hierarchy.num_levels:
            raise ValueError(f"coarsest = {cfg.coarsest} but the hierarchy has levels 0..{hierarchy.num_levels}")
        self.config = cfg
        self.hierarchy_hash = hierarchy.content_hash()
        self.num_vertices = hierarchy.num_nodes[0]
        s = get_layout(layout).num_joints
        self.num_keypoints = s
        self.levels = tuple(range(cfg.coarsest, cfg.output_level - 1, -1))  # coarse -> fine
        self.register_buffer("keypoint_laplacian", keypoint_laplacian(layout), persistent=False)
        for l in self.levels:
            self.register_buffer(f"laplacian_{l}", hierarchy.laplacian_tensor(l), persistent=False)
        for l in range(cfg.coarsest):
            index = hierarchy.unpool_matrix(l).coalesce().indices()
            # one entry per fine row, sorted by row: column = the row's cluster
            self.register_buffer(f"unpool_index_{l}", index[1].clone(), persistent=False)

        k = cfg.K
        widths = (6,) + cfg.joint_channels
        self.joint_convs = nn.ModuleList(
            GraphConvBlock(a, b, k, cfg.norm) for a, b in zip(widths[:-1], widths[1:])
        )
        f_j, v_c = widths[-1], hierarchy.num_nodes[cfg.coarsest]
        f_c = cfg.lift_channels if cfg.lift_channels is not None else cfg.channels[0]
        self.num_coarse = v_c
        if cfg.lift == "dense":
            self.lift_dense = nn.Linear(s * f_j, v_c * f_c)
        else:
            self.lift_mix = nn.Parameter(torch.empty(v_c, s))
            self.lift_channels = nn.Linear(f_j, f_c, bias=False)
            self.lift_embedding = nn.Parameter(torch.zeros(v_c, f_c))
        self.stages = nn.ModuleList()
        prev = f_c
        for i, l in enumerate(self.levels):
            stage = nn.ModuleList()
            stage.append(GraphConvBlock(prev, cfg.channels[i], k, cfg.norm))
            stage.extend(GraphResBlock(cfg.channels[i], k, cfg.norm) for _ in range(cfg.blocks[i]))
            self.stages.append(stage)
            prev = cfg.channels[i]
        self.head = ChebConv(prev, 3, k)
        if cfg.output_level > 0:
            self.to_refine = nn.Linear(prev, cfg.refine_channels)
            self.refine_weight = nn.Parameter(torch.zeros(self.num_vertices, cfg.refine_channels, 3))
            self.refine_bias = nn.Parameter(torch.zeros(self.num_vertices, 3))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Mixing rows start near uniform averages over keypoints; the per-vertex refinement
        starts near zero (not exactly: its inputs would get no gradient at the first step)."""
        with torch.no_grad():
            if self.config.lift == "factored":
                self.lift_mix.normal_(1.0 / self.num_keypoints, 0.1 / self.num_keypoints)
                self.lift_embedding.normal_(0.0, 0.02)
            if self.config.output_level > 0:
                self.refine_weight.normal_(0.0, 1e-3)
                self.refine_bias.zero_()

    def _unpool(self, x: Tensor, level: int) -> Tensor:
        """Level ``level + 1`` -> ``level`` (``U_level @ x`` as a gather)."""
        return x.index_select(1, getattr(self, f"unpool_index_{level}"))

    def forward(self, norm_xy: Tensor, joints3d: Tensor, presence: Tensor) -> Tensor:
        check_input(norm_xy, presence, self.num_keypoints)
        if joints3d.shape != norm_xy.shape[:2] + (3,):
            raise ValueError(f"joints3d must have shape {tuple(norm_xy.shape[:2]) + (3,)}, got {tuple(joints3d.shape)}")
        cfg = self.config
        if cfg.detach_posenet:
            joints3d = joints3d.detach()
        xy, p = masked_coordinates(norm_xy, presence)
        h = torch.cat([xy, joints3d.to(xy.dtype), p.unsqueeze(-1)], dim=-1)
        for conv in self.joint_convs:
            h = conv(h, self.keypoint_laplacian)
        b = h.shape[0]
        if cfg.lift == "dense":
            x = self.lift_dense(h.reshape(b, -1)).view(b, self.num_coarse, -1)
        else:
            x = self.lift_channels(torch.matmul(self.lift_mix, h)) + self.lift_embedding
        x = torch.relu(x)
        for i, (l, stage) in enumerate(zip(self.levels, self.stages)):
            if i > 0:
                x = self._unpool(x, l)
            lap = getattr(self, f"laplacian_{l}")
            for block in stage:
                x = block(x, lap)
        verts = self.head(x, getattr(self, f"laplacian_{cfg.output_level}"))
        if cfg.output_level == 0:
            return verts
        feats = self.to_refine(x)
        for l in range(cfg.output_level - 1, -1, -1):
            verts = self._unpool(verts, l)
            feats = self._unpool(feats, l)
        # per-vertex (F, 3) matrix: detail inside each cluster of the output level
        # (elementwise product + sum: an einsum here becomes a bmm of V tiny
        # matrices, measured 3x slower at batch 1)
        detail = (feats.unsqueeze(-1) * self.refine_weight).sum(dim=-2)
        return verts + detail + self.refine_bias

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"levels={self.levels[0]}->{self.levels[-1]} (V={self.num_coarse}->{self.num_vertices}), "
            f"channels={c.channels}, blocks={c.blocks}, K={c.K}, lift={c.lift!r}"
        )
