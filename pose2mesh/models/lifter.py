"""Pose2MeshNet: pixels -> root-relative 3D keypoints and body mesh, and its presets.

Conventions
-----------
* Input: 2D keypoints in the canonical superset in PIXELS ``(B, S, 2)`` and
  presence ``(B, S)`` (:func:`pose2mesh.joints.to_superset`). They are
  crop-normalised inside the model (:func:`pose2mesh.models.normalize_keypoints`),
  so translating or scaling the image coordinates does not change the output.
* Outputs: ROOT-RELATIVE 3D in METRES in OpenCV camera axes (x right, y down,
  z forward); root = superset ``pelvis`` (index 0).

  - ``joints_posenet`` ``(B, S, 3)``: the PoseNet's keypoints (pelvis at 0).
  - ``vertices`` ``(B, V, 3)``: the mesh, minus the mesh's own regressed
    pelvis (``regressor_superset[0] @ vertices``), so that pelvis is at 0.
  - ``joints_mesh`` ``(B, S, 3)``: ``regressor_superset @ vertices`` (of the
    root-relative vertices; its pelvis row is 0 up to rounding).

* Camera (``ModelConfig.camera``): ``K (B, 3, 3)`` (pixels) may be passed with
  the keypoints; a camera model feeds the crop's direction and angular size in
  that camera to its PoseNet (:func:`pose2mesh.models.camera_features`), and
  lifts without them (as an unknown camera) when ``K`` is None.  While
  training, each sample's camera is hidden with probability
  ``ModelConfig.camera_dropout``, so that the network learns both cases.
  Models without camera input ignore ``K``.
* Keypoint anchoring (``ModelConfig.anchor > 0``): the MeshNet's vertices
  (after its optional output smoothing, ``MeshNetConfig.smooth``) are moved
  towards the PoseNet's keypoints before re-rooting,
  ``V += anchor * W (joints_posenet - regressor @ V)``, with fixed weights
  ``W (V, S)``: per vertex a softmax over the superset keypoints of
  ``-d^2 / (2 anchor_sigma^2)``, ``d`` the vertex-keypoint distance on the
  body's template (metres), negligible weights dropped. Each vertex thus
  follows the offsets of the keypoints near it.

Presets (:func:`build_model` / :func:`model_config`): ``"default"`` (fast
graph model), ``"mlp"``, ``"paper"`` and ``"smoke"``; see ``docs/models.md``.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn

from pose2mesh.graph import MeshHierarchy
from pose2mesh.models.layers import check_input
from pose2mesh.models.meshnet import MeshNet, MeshNetConfig
from pose2mesh.models.normalize import camera_features, normalize_keypoints
from pose2mesh.models.posenet import ROOT_INDEX, GraphPoseNet, MLPPoseNet

__all__ = [
    "GraphPoseNetConfig",
    "MLPPoseNetConfig",
    "ModelConfig",
    "Pose2MeshNet",
    "anchor_weights",
    "build_model",
    "model_config",
    "count_parameters",
    "PRESETS",
    "POSENETS",
]

#: Valid ``ModelConfig.posenet`` values.
POSENETS = ("graph", "mlp")


@dataclass
class GraphPoseNetConfig:
    """Arguments of :class:`~pose2mesh.models.posenet.GraphPoseNet`."""

    channels: int = 96
    latent: int = 256
    node_latent: int = 16
    enc_blocks: int = 1
    dec_blocks: int = 1
    K: int = 3
    norm: str = "layer"
    dropout: float = 0.0


@dataclass
class MLPPoseNetConfig:
    """Arguments of :class:`~pose2mesh.models.posenet.MLPPoseNet`."""

    width: int = 1024
    num_blocks: int = 2
    dropout: float = 0.25


@dataclass
class ModelConfig:
    """Configuration of :class:`Pose2MeshNet`.

    Attributes:
        posenet: ``"graph"`` (:class:`GraphPoseNet`) or ``"mlp"`` (:class:`MLPPoseNet`).
        graph_posenet / mlp_posenet: arguments of the chosen PoseNet (the other is ignored).
        meshnet: :class:`MeshNetConfig`.
        layout: keypoint layout of the input (the canonical ``"superset"``).
        anchor: keypoint anchoring strength in ``[0, 1]`` (0: off): the fraction of the
            offset between the PoseNet's keypoints and the mesh's regressed keypoints
            that is applied to the vertices near each keypoint (module docstring).
        anchor_sigma: width (metres, on the template) of the anchoring weights.
        camera: the PoseNet takes camera features (module docstring).
        camera_dropout: probability, in training, that a sample's camera is
            hidden (fed as unknown); ignored without ``camera``.
    """

    posenet: str = "graph"
    graph_posenet: GraphPoseNetConfig = field(default_factory=GraphPoseNetConfig)
    mlp_posenet: MLPPoseNetConfig = field(default_factory=MLPPoseNetConfig)
    meshnet: MeshNetConfig = field(default_factory=MeshNetConfig)
    layout: str = "superset"
    anchor: float = 0.0
    anchor_sigma: float = 0.03
    camera: bool = False
    camera_dropout: float = 0.25

    def __post_init__(self) -> None:
        if self.posenet not in POSENETS:
            raise ValueError(f"unknown posenet {self.posenet!r}; choose one of: {', '.join(POSENETS)}")
        if not 0.0 <= self.anchor <= 1.0:
            raise ValueError(f"anchor must be in [0, 1], got {self.anchor}")
        if not self.anchor_sigma > 0:
            raise ValueError(f"anchor_sigma must be positive (metres), got {self.anchor_sigma}")
        if not 0.0 <= self.camera_dropout <= 1.0:
            raise ValueError(f"camera_dropout must be in [0, 1], got {self.camera_dropout}")
        # nested mappings (from YAML / a checkpoint's to_dict()) -> the dataclasses
        if isinstance(self.graph_posenet, Mapping):
            self.graph_posenet = GraphPoseNetConfig(**self.graph_posenet)
        if isinstance(self.mlp_posenet, Mapping):
            self.mlp_posenet = MLPPoseNetConfig(**self.mlp_posenet)
        if isinstance(self.meshnet, Mapping):
            self.meshnet = MeshNetConfig(**self.meshnet)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists); ``ModelConfig(**cfg.to_dict()) == cfg``."""
        def plain(v):
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [plain(x) for x in v]
            return v
        return plain(asdict(self))


def _default() -> ModelConfig:
    return ModelConfig()


def _mlp() -> ModelConfig:
    return ModelConfig(posenet="mlp")


def _paper() -> ModelConfig:
    # Published widths (docs/models.md): PoseNet 4096 x 2 residual blocks;
    # MeshNet joint graph 6->32->64->64, dense lift to the coarsest level,
    # 64->128->256, four blocks at 256, 256->128->128, two at 128, 128->64->3,
    # mapped onto our 9-level hierarchy (levels 8 .. 0, full-mesh output).
    return ModelConfig(
        posenet="mlp",
        mlp_posenet=MLPPoseNetConfig(width=4096, num_blocks=2, dropout=0.5),
        meshnet=MeshNetConfig(
            coarsest=8,
            output_level=0,
            channels=(128, 256, 256, 256, 256, 128, 128, 64, 64),
            blocks=(0, 1, 1, 1, 1, 1, 1, 0, 0),
            joint_channels=(32, 64, 64),
            K=3,
            lift="dense",
            lift_channels=64,
            norm="batch",
        ),
    )


def _smoke() -> ModelConfig:
    return ModelConfig(
        posenet="graph",
        graph_posenet=GraphPoseNetConfig(channels=16, latent=32, node_latent=4, enc_blocks=1, dec_blocks=1, K=2),
        meshnet=MeshNetConfig(
            coarsest=7, output_level=4, channels=(16, 16, 16, 8), blocks=(1, 0, 0, 0),
            joint_channels=(16,), K=2, refine_channels=4,
        ),
    )


#: Named presets: name -> factory of a fresh :class:`ModelConfig`.
PRESETS = {"default": _default, "mlp": _mlp, "paper": _paper, "smoke": _smoke}


def model_config(name: str) -> ModelConfig:
    """A fresh :class:`ModelConfig` of a named preset (``default``, ``mlp``, ``paper``, ``smoke``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]()


class Pose2MeshNet(nn.Module):
    """PoseNet + MeshNet: pixel keypoints -> root-relative 3D keypoints and mesh.

    Args:
        posenet: a :class:`GraphPoseNet` or :class:`MLPPoseNet`.
        meshnet: a :class:`MeshNet`.
        regressor: ``(S, V)`` superset keypoint regressor of the body
            (``body.regressor_superset``); kept as a (non-persistent) buffer.
        detach_posenet: stop the MeshNet's gradient into the PoseNet.
        anchor: keypoint anchoring strength (0: off; module docstring).
        anchor_weights: ``(V, S)`` anchoring weights (rows sum to 1), needed when
            ``anchor > 0`` (:func:`anchor_weights`); a (non-persistent) buffer.
        camera_dropout: in training, the probability that a sample's camera is
            hidden from a camera PoseNet (module docstring).

    Shape:
        - xy: :math:`(B, S, 2)` pixels, presence :math:`(B, S)`
        - K: :math:`(B, 3, 3)` or :math:`(3, 3)` pixels, or None (unknown camera)
        - output: dict with ``joints_posenet`` :math:`(B, S, 3)`,
          ``vertices`` :math:`(B, V, 3)`, ``joints_mesh`` :math:`(B, S, 3)`
          (root-relative metres, OpenCV axes)
    """

    def __init__(self, posenet: nn.Module, meshnet: MeshNet, regressor: Tensor, detach_posenet: bool = False,
                 anchor: float = 0.0, anchor_weights: Optional[Tensor] = None, camera_dropout: float = 0.0) -> None:
        super().__init__()
        s, v = meshnet.num_keypoints, meshnet.num_vertices
        if tuple(regressor.shape) != (s, v):
            raise ValueError(f"regressor must have shape (S, V) = ({s}, {v}), got {tuple(regressor.shape)}")
        if anchor > 0 and (anchor_weights is None or tuple(anchor_weights.shape) != (v, s)):
            got = None if anchor_weights is None else tuple(anchor_weights.shape)
            raise ValueError(f"anchor > 0 needs anchor_weights of shape (V, S) = ({v}, {s}), got {got}")
        self.posenet = posenet
        self.meshnet = meshnet
        self.detach_posenet = bool(detach_posenet)
        self.anchor = float(anchor)
        self.camera = getattr(posenet, "camera_input", None) is not None
        self.camera_dropout = float(camera_dropout)
        self.register_buffer("regressor", regressor.detach().to(torch.float32).clone(), persistent=False)
        # The regressors touch few vertices (~900 of 12,272 for the open body): regressing from those
        # alone reads ~1/14 of the dense (S, V) matrix, ~10x faster than the dense product on CPU.
        used = torch.nonzero(self.regressor.ne(0).any(0)).flatten()
        self.register_buffer("regressor_vertices", used, persistent=False)
        self.register_buffer("regressor_used", self.regressor[:, used].contiguous(), persistent=False)
        weights = anchor_weights.detach().to(torch.float32).clone() if anchor > 0 else None
        # few non-zeros per row (anchor_weights drops the negligible ones): CSR for the product
        self.register_buffer("anchor_weights", None if weights is None else weights.to_sparse_csr(), persistent=False)
        self.register_buffer("anchor_mixing", None if weights is None else self.regressor @ weights, persistent=False)

    def forward(self, xy: Tensor, presence: Tensor, mesh: bool = True, K: Optional[Tensor] = None) -> dict[str, Tensor]:
        """Lift; with ``mesh=False`` only the PoseNet runs (output: ``joints_posenet`` alone).

        ``K``: the cameras' intrinsics (pixels), or None when unknown (module docstring).
        Inputs of any real dtype are cast to the model's; ``presence`` is clamped to ``[0, 1]``
        (``<= 0``: absent).
        """
        check_input(xy, presence, self.meshnet.num_keypoints)
        if xy.shape[0] == 0:
            raise ValueError("empty batch: at least one sample is needed")
        dtype = next(self.posenet.parameters()).dtype  # the model's (float32 unless converted, e.g. by .double())
        xy, presence = xy.to(dtype), presence.to(dtype).clamp(0.0, 1.0)
        norm, center, scale = normalize_keypoints(xy, presence)
        camera = None
        if self.camera:
            known = None
            if K is not None and self.training and self.camera_dropout > 0:
                known = torch.rand(xy.shape[0], device=xy.device) >= self.camera_dropout
            camera = camera_features(center, scale, K, known)
        joints = self.posenet(norm, presence, camera)
        if not mesh:
            return {"joints_posenet": joints}
        joints_in = joints.detach() if self.detach_posenet else joints
        verts = self.meshnet(norm, joints_in, presence)
        # The output steps in float32 with autocast off (mixed precision): the sparse
        # anchoring product has no bfloat16 kernel, and bfloat16 rounds 1 m to 4 mm.
        with torch.autocast(verts.device.type, enabled=False):
            verts, joints_in = verts.to(self.regressor.dtype), joints_in.to(self.regressor.dtype)
            if self.anchor_weights is not None:
                return self._anchored(joints, joints_in, verts)
            root = self.regress(verts)[:, ROOT_INDEX:ROOT_INDEX + 1]  # (B, 1, 3)
            verts = verts - root
            return {"joints_posenet": joints, "vertices": verts, "joints_mesh": self.regress(verts)}

    def regress(self, verts: Tensor) -> Tensor:
        """Superset keypoints of meshes, ``regressor @ verts``: ``(B, V, 3) -> (B, S, 3)`` (units of ``verts``).

        Only the vertices the regressor uses are read (``regressor_vertices``).
        """
        reg = self.regressor_used.to(verts.dtype)  # (S, U)
        # (B, 3, U) @ (U, S) is one GEMM; reg @ verts broadcasts into B small products (3-4x slower on CPU)
        return (verts[:, self.regressor_vertices].transpose(1, 2) @ reg.T).transpose(1, 2)

    def _anchored(self, joints: Tensor, joints_in: Tensor, verts: Tensor) -> dict[str, Tensor]:
        """Keypoint anchoring and re-rooting as one vertex update (module docstring).

        With ``o = joints_in - (R V - root(R V))`` the offsets, the anchored and
        re-rooted mesh is ``V + W (anchor o - r)``, ``r`` the anchored mesh's
        pelvis: the rows of ``W`` sum to 1, so ``W r`` moves every vertex by
        ``r``. Its keypoints follow from the small ``(S, S)`` matrix ``R W``
        without a second pass over the vertices. The ``(V, S) @ (S, 3B)`` product
        writes the update in vertex-major order, which the add then reads in
        3-float runs (a ``(B, 3, V)`` update read transposed was 8x slower at
        batch 256 on CPU).
        """
        weights = self.anchor_weights.to(verts.dtype)  # (V, S)
        mixed = self.anchor_mixing.to(verts.dtype)  # (S, S) = R W
        b = verts.shape[0]
        keypoints = self.regress(verts)  # (B, S, 3)
        offsets = joints_in - (keypoints - keypoints[:, ROOT_INDEX:ROOT_INDEX + 1])
        root = keypoints[:, ROOT_INDEX:ROOT_INDEX + 1] + self.anchor * (mixed[ROOT_INDEX:ROOT_INDEX + 1] @ offsets)
        shift = self.anchor * offsets - root  # (B, S, 3)
        update = (weights @ shift.permute(1, 0, 2).reshape(-1, 3 * b)).view(-1, b, 3).permute(1, 0, 2)
        joints_mesh = keypoints + mixed @ shift
        return {"joints_posenet": joints, "vertices": verts + update, "joints_mesh": joints_mesh}


def anchor_weights(template: Tensor, regressor: Tensor, sigma: float, min_weight: float = 1e-3) -> Tensor:
    """Keypoint-anchoring weights: per vertex, a softmax over the keypoints of ``-d^2 / (2 sigma^2)``.

    Weights below ``min_weight`` are dropped and the rest renormalised: with
    ``sigma`` = 3 cm a keypoint 10 cm further than the nearest one has relative
    weight ~e^-6, so a vertex keeps ~6 of the 52 keypoints on average and the
    product with the weights stays cheap (the shipped model's accuracy is the
    same to 0.1 mm as with all weights).

    Args:
        template: ``(V, 3)`` template vertices (metres; any frame).
        regressor: ``(S, V)`` keypoint regressor (keypoints = ``regressor @ template``).
        sigma: width in metres.
        min_weight: smallest weight kept.

    Returns:
        ``(V, S)`` float32 weights (dense), each row summing to 1.
    """
    template = template.detach().to(torch.float64)
    keypoints = regressor.detach().to(torch.float64) @ template
    d2 = torch.cdist(template, keypoints) ** 2
    weights = torch.softmax(-d2 / (2 * sigma**2), dim=1)
    weights = torch.where(weights >= min_weight, weights, torch.zeros_like(weights))
    return (weights / weights.sum(1, keepdim=True)).to(torch.float32)


def build_model(
    config: Union[ModelConfig, str],
    hierarchy: MeshHierarchy,
    regressor: Tensor,
    device: Optional[Union[str, torch.device]] = None,
    template: Optional[Tensor] = None,
) -> Pose2MeshNet:
    """Build a :class:`Pose2MeshNet` from a config or a preset name.

    Args:
        config: a :class:`ModelConfig` or a preset name (see :data:`PRESETS`).
        hierarchy: mesh hierarchy of the body (level 0 must have ``V`` nodes).
        regressor: ``(S, V)`` ``body.regressor_superset``.
        device: where to put the model (default CPU).
        template: ``(V, 3)`` template vertices (``body.v_template``, metres); needed
            when ``config.anchor > 0`` (:func:`anchor_weights`).

    Raises:
        ValueError: ``config.anchor > 0`` without a template.
    """
    cfg = model_config(config) if isinstance(config, str) else copy.deepcopy(config)
    if cfg.anchor > 0 and template is None:
        raise ValueError(f"the model config has anchor={cfg.anchor}: pass template=body.v_template to build_model")
    if cfg.posenet == "graph":
        g = cfg.graph_posenet
        posenet: nn.Module = GraphPoseNet(
            channels=g.channels, latent=g.latent, node_latent=g.node_latent, enc_blocks=g.enc_blocks,
            dec_blocks=g.dec_blocks, K=g.K, norm=g.norm, dropout=g.dropout, layout=cfg.layout, camera=cfg.camera,
        )
    else:
        m = cfg.mlp_posenet
        posenet = MLPPoseNet(width=m.width, num_blocks=m.num_blocks, dropout=m.dropout, layout=cfg.layout,
                             camera=cfg.camera)
    meshnet = MeshNet(cfg.meshnet, hierarchy, layout=cfg.layout)
    weights = anchor_weights(template, regressor, cfg.anchor_sigma) if cfg.anchor > 0 else None
    model = Pose2MeshNet(posenet, meshnet, regressor, detach_posenet=cfg.meshnet.detach_posenet,
                         anchor=cfg.anchor, anchor_weights=weights, camera_dropout=cfg.camera_dropout)
    model.config = cfg
    return model.to(device) if device is not None else model


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
