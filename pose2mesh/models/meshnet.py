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
as a gather of rows with the column index of each row's 1 (``unpool_index_l``),
which is the same product as ``U_l @ x`` but several times faster on the
CPU; the index is taken from :meth:`MeshHierarchy.unpool_matrix` and kept as a
buffer, as are all Laplacians (non-persistent: they are a function of the
hierarchy, whose content hash the model records in ``hierarchy_hash``).

Speed (docs/benchmarks.md): inside the network the features are node-major
``(V, B, F)``, the layout of the Chebyshev products; each unpooling is fused
into the next convolution, which applies its weights at the coarse level
before the gather (``cheb_conv(..., node_index=...)``); the unpoolings below
the output level are one composed gather (``vertex_to_output``); eval-mode
passes on the CPU run in cache-sized chunks of the batch. Outputs equal the
straightforward formulation up to float rounding (tested against it in
``tests/models/test_meshnet.py``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
import scipy.sparse
import torch
from torch import Tensor, nn

from pose2mesh.graph import ChebConv, MeshHierarchy
from pose2mesh.joints import get_layout
from pose2mesh.models.layers import GraphConvBlock, GraphResBlock, check_input, keypoint_laplacian, masked_coordinates

__all__ = ["MeshNetConfig", "MeshNet", "LIFTS"]

#: Valid ``lift`` modes of :class:`MeshNetConfig`.
LIFTS = ("factored", "dense")

# Elements of the widest level's (V, chunk * F) features per chunk of an
# eval-mode forward pass (MeshNet.eval_chunk); see docs/benchmarks.md.
_EVAL_CHUNK_ELEMENTS = 1 << 20


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
        smooth: iterations of uniform Laplacian smoothing of the output mesh
            (each moves every vertex half-way to the mean of its mesh
            neighbours; :func:`smoothing_operator`), 0 = none. No weights: a
            trained model can be exported with it.
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
    smooth: int = 0

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
        if not (isinstance(self.smooth, int) and self.smooth >= 0):
            raise ValueError(f"smooth must be a non-negative int (iterations), got {self.smooth!r}")


def smoothing_operator(hierarchy: MeshHierarchy) -> Tensor:
    """``S = (I + D^-1 A) / 2`` as a sparse CSR ``(V_0, V_0)`` float32 tensor.

    ``A`` is the mesh graph (level 0 of ``hierarchy``), ``D`` its degrees: one
    application moves every vertex half-way to the mean of its neighbours.
    Rows sum to 1, so translations pass unchanged. :class:`MeshNet` applies
    ``S`` ``smooth`` times: at batch 1 that is faster than one product with
    the power ``S^k`` (whose support grows by a ring per iteration, ~61
    entries per row at k = 4, while the one-ring matrix, ~1 MB, stays in
    cache). CSR: at batch 1 the COO product took 20x longer on CPU.
    """
    level = hierarchy.levels[0]
    v = level.num_nodes
    adjacency = scipy.sparse.csr_matrix(
        (np.ones(level.edge_index.shape[1]), (level.edge_index[0], level.edge_index[1])), shape=(v, v))
    degree = np.asarray(adjacency.sum(1)).ravel()
    op = 0.5 * (scipy.sparse.identity(v, format="csr") + scipy.sparse.diags(1.0 / np.maximum(degree, 1)) @ adjacency)
    op = op.tocsr()
    op.sort_indices()
    with warnings.catch_warnings():  # torch calls its CSR support "beta": an internal detail here
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return torch.sparse_csr_tensor(torch.from_numpy(op.indptr.astype(np.int64)),
                                       torch.from_numpy(op.indices.astype(np.int64)),
                                       torch.from_numpy(op.data.astype(np.float32)), (v, v), check_invariants=True)


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
        # mesh vertex -> its node at the output level: the unpoolings from
        # output_level down to 0 composed into one gather (equal to the
        # successive gathers, which only copy rows)
        to_output = torch.arange(hierarchy.num_nodes[0])
        for l in range(cfg.output_level):
            to_output = getattr(self, f"unpool_index_{l}")[to_output]
        self.register_buffer("vertex_to_output", to_output, persistent=False)
        smoothing = smoothing_operator(hierarchy) if cfg.smooth > 0 else None
        self.register_buffer("smoothing", smoothing, persistent=False)
        # samples per chunk of an eval-mode forward pass (see forward): the
        # widest level's (V, chunk * F) features hold about _EVAL_CHUNK_ELEMENTS
        widest = max(hierarchy.num_nodes[l] * c for l, c in zip(self.levels, cfg.channels))
        self.eval_chunk = max(1, _EVAL_CHUNK_ELEMENTS // widest)

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

    def forward(self, norm_xy: Tensor, joints3d: Tensor, presence: Tensor) -> Tensor:
        check_input(norm_xy, presence, self.num_keypoints)
        if joints3d.shape != norm_xy.shape[:2] + (3,):
            raise ValueError(f"joints3d must have shape {tuple(norm_xy.shape[:2]) + (3,)}, got {tuple(joints3d.shape)}")
        if self.config.detach_posenet:
            joints3d = joints3d.detach()
        xy, p = masked_coordinates(norm_xy, presence)
        h = torch.cat([xy, joints3d.to(xy.dtype), p.unsqueeze(-1)], dim=-1)  # (B, S, 6)
        if self.training or h.device.type != "cpu" or h.shape[0] <= self.eval_chunk:
            return self._forward(h)
        # Eval mode on the CPU: the network runs on chunks of about
        # `eval_chunk` samples, so that every layer's features stay
        # cache-sized and the element-wise layers (norm, ReLU, residual,
        # gathers) read them from cache instead of DRAM. MeshNet of the
        # default preset at batch 256, 1 thread: chunks of 9 samples 1.4x
        # faster than one pass, 1.08x faster than chunks of 4 or 32, 1.4x
        # faster than single samples (docs/benchmarks.md). In eval mode every
        # sample is independent (LayerNorm per node, BatchNorm with running
        # statistics), so the result is the same up to float rounding;
        # training keeps one pass (BatchNorm's batch statistics need the whole
        # batch), and so does a GPU, which wants the whole batch in flight.
        return torch.cat([self._forward(hc) for hc in h.split(self.eval_chunk)])

    def _forward(self, h: Tensor) -> Tensor:
        """``(B, S, 6)`` keypoint features -> ``(B, V_0, 3)`` vertices.

        The features are node-major ``(V, B, F)`` throughout (one transpose of
        the small input, one of the output): that is the layout the
        Chebyshev products work in (``cheb_conv(..., batch_first=False)``),
        so no convolution has to permute its input or output, and the
        unpooling gathers and the keypoint mixing of the lift act on whole
        contiguous rows.
        """
        cfg = self.config
        b = h.shape[0]
        h = h.transpose(0, 1)  # (S, B, 6)
        for conv in self.joint_convs:
            h = conv(h, self.keypoint_laplacian, batch_first=False)
        if cfg.lift == "dense":
            x = self.lift_dense(h.transpose(0, 1).reshape(b, -1)).view(b, self.num_coarse, -1)
            x = torch.relu(x).transpose(0, 1).contiguous()
        else:
            s, _, f = h.shape
            mixed = torch.mm(self.lift_mix, h.reshape(s, b * f)).view(self.num_coarse, b, f)
            x = torch.relu(self.lift_channels(mixed) + self.lift_embedding.unsqueeze(1))
        for i, (l, stage) in enumerate(zip(self.levels, self.stages)):
            lap = getattr(self, f"laplacian_{l}")
            # the unpooling from level l + 1 is fused into the level's first
            # convolution, which applies its weights before the gather
            unpool = getattr(self, f"unpool_index_{l}") if i > 0 else None
            x = stage[0](x, lap, batch_first=False, node_index=unpool)
            for block in stage[1:]:
                x = block(x, lap, batch_first=False)
        verts = self.head(x, getattr(self, f"laplacian_{cfg.output_level}"), batch_first=False)
        if cfg.output_level > 0:
            # unpool xyz and features to the mesh in one gather each, then the
            # per-vertex (F, 3) matrices as one batched product over vertices,
            # (V, B, F) @ (V, F, 3), with the bias and xyz added by baddbmm
            # (an element-wise product + sum over F materialises (B, V, F, 3):
            # 2x the time at batch 1, 2-5x batched)
            index = self.vertex_to_output
            feats = self.to_refine(x).index_select(0, index)
            base = verts.index_select(0, index) + self.refine_bias.unsqueeze(1)
            verts = torch.baddbmm(base, feats, self.refine_weight)
        if self.smoothing is not None:
            # node-major (V, B, 3) is the layout the sparse product wants; float32 with
            # autocast off (mixed precision): sparse products have no bfloat16 kernels
            with torch.autocast(verts.device.type, enabled=False):
                v, op = verts.shape[0], self.smoothing
                flat = verts.to(op.dtype).reshape(v, -1)
                for _ in range(cfg.smooth):
                    flat = op @ flat
                verts = flat.view(v, b, 3)
        return verts.transpose(0, 1).contiguous()

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"levels={self.levels[0]}->{self.levels[-1]} (V={self.num_coarse}->{self.num_vertices}), "
            f"channels={c.channels}, blocks={c.blocks}, K={c.K}, lift={c.lift!r}"
        )
