"""PoseNet: normalised 2D keypoints -> root-relative 3D keypoints.

Conventions (both networks)
---------------------------
* Input: normalised 2D keypoints ``(B, S, 2)`` in the canonical superset
  (:func:`pose2mesh.models.normalize_keypoints`) and their presence ``(B, S)``
  (1 present, 0 absent). ``S = 52`` for the superset.
* Masking: absent keypoints' coordinates are replaced by exactly 0 and
  multiplied by presence before anything else, so the output does not depend
  on them at all (tested bit for bit); presence itself is an input channel.
* Output: ``(B, S, 3)`` ROOT-RELATIVE 3D keypoints in METRES, OpenCV camera
  axes (x right, y down, z forward). Root = superset ``pelvis`` (index 0); the
  output's pelvis is exactly 0 (the raw prediction's pelvis is subtracted).
* Camera input (``camera=True``): the ``(B, 4)`` features of
  :func:`pose2mesh.models.camera_features` (the crop's direction and angular
  size in the camera; all 0 for an unknown camera) enter through a linear map
  that starts at zero, so a camera network initialised from one without
  camera input lifts exactly as it did until it is trained.
"""
from __future__ import annotations


import torch
from torch import Tensor, nn

from pose2mesh.joints import get_layout
from pose2mesh.models.layers import GraphResBlock, check_input, keypoint_laplacian, masked_coordinates
from pose2mesh.models.normalize import CAMERA_FEATURES

__all__ = ["GraphPoseNet", "MLPPoseNet", "ROOT_INDEX"]

#: Index of the root (``pelvis``) in the superset.
ROOT_INDEX = 0


def _root_relative(joints: Tensor) -> Tensor:
    return joints - joints[:, ROOT_INDEX : ROOT_INDEX + 1]


def _camera_input(camera: bool, width: int) -> nn.Linear | None:
    """The zero-initialised map of the camera features (module docstring), or None."""
    if not camera:
        return None
    layer = nn.Linear(CAMERA_FEATURES, width, bias=False)
    nn.init.zeros_(layer.weight)
    return layer


def _check_camera(module: nn.Module, camera: Tensor | None, batch: int) -> Tensor | None:
    """``camera`` validated against ``module.camera_input``; zeros (unknown) when not given."""
    if module.camera_input is None:
        if camera is not None:
            raise ValueError("this PoseNet has no camera input (built with camera=False): pass camera=None")
        return None
    if camera is None:
        return module.camera_input.weight.new_zeros(batch, CAMERA_FEATURES)
    if camera.shape != (batch, CAMERA_FEATURES):
        raise ValueError(f"camera features must have shape ({batch}, {CAMERA_FEATURES}), got {tuple(camera.shape)}")
    return camera


class GraphPoseNet(nn.Module):
    """Graph autoencoder over the superset skeleton graph (Chebyshev convolutions).

    Per keypoint the input ``[x, y, presence]`` (coordinates masked) goes
    through a linear embedding plus a learned per-keypoint identity
    embedding; an ABSENT keypoint gets instead a learned per-keypoint
    "absent" embedding (never zero-filled coordinates):
    ``h_s = p_s (W [x_s, y_s, p_s] + e_s + C c) + (1 - p_s) a_s``, ``c`` the
    camera features (``camera=True`` only; module docstring).
    Encoder: ``enc_blocks`` residual ChebConv blocks on the keypoint graph ->
    per-node bottleneck to ``node_latent`` channels -> flatten -> linear ->
    ``latent`` (global pose code). Decoder: linear back to ``(S, node_latent)``
    -> width ``channels`` plus an encoder skip -> ``dec_blocks`` residual
    blocks -> per-node linear head -> 3D. Residual refinement: one more
    residual block on ``[features, 3D]`` predicts a correction added to the 3D.

    Args:
        channels: width of the graph features.
        latent: size of the global latent code.
        node_latent: per-node channels entering/leaving the latent.
        enc_blocks / dec_blocks: residual blocks in the encoder / decoder.
        K: Chebyshev order of the keypoint-graph convolutions.
        norm: ``"layer"``, ``"batch"`` or ``"none"`` (see :class:`NodeNorm`).
        dropout: dropout on the latent code (training only).
        layout: keypoint layout of the input (the canonical ``"superset"``).
        camera: take camera features (:func:`pose2mesh.models.camera_features`).

    Shape:
        - norm_xy: :math:`(B, S, 2)`, presence :math:`(B, S)`
        - camera: :math:`(B, 4)` or None (unknown camera; only with ``camera=True``)
        - output: :math:`(B, S, 3)` root-relative metres, OpenCV axes
    """

    def __init__(
        self,
        channels: int = 96,
        latent: int = 256,
        node_latent: int = 16,
        enc_blocks: int = 1,
        dec_blocks: int = 1,
        K: int = 3,
        norm: str = "layer",
        dropout: float = 0.0,
        layout: str = "superset",
        camera: bool = False,
    ) -> None:
        super().__init__()
        lay = get_layout(layout)
        s = lay.num_joints
        self.num_keypoints = s
        self.channels, self.latent_size, self.node_latent, self.K = channels, latent, node_latent, K
        self.enc_blocks, self.dec_blocks = enc_blocks, dec_blocks
        self.register_buffer("laplacian", keypoint_laplacian(layout), persistent=False)

        self.input = nn.Linear(3, channels)
        self.camera_input = _camera_input(camera, channels)
        self.keypoint_embedding = nn.Parameter(torch.zeros(s, channels))
        self.absent_embedding = nn.Parameter(torch.zeros(s, channels))
        self.encoder = nn.ModuleList(GraphResBlock(channels, K, norm) for _ in range(enc_blocks))
        self.to_node_latent = nn.Linear(channels, node_latent)
        self.to_latent = nn.Linear(s * node_latent, latent)
        self.dropout = nn.Dropout(dropout)
        self.from_latent = nn.Linear(latent, s * node_latent)
        self.from_node_latent = nn.Linear(node_latent, channels)
        self.decoder = nn.ModuleList(GraphResBlock(channels, K, norm) for _ in range(dec_blocks))
        self.head = nn.Linear(channels, 3)
        self.refine_in = nn.Linear(channels + 3, channels)
        self.refine = GraphResBlock(channels, K, norm)
        self.refine_head = nn.Linear(channels, 3)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Small random embeddings; the refinement head starts near zero (almost an identity
        refinement; not exactly zero, which would give its inputs no gradient at the first step)."""
        with torch.no_grad():
            nn.init.normal_(self.keypoint_embedding, std=0.02)
            nn.init.normal_(self.absent_embedding, std=0.02)
            nn.init.normal_(self.refine_head.weight, std=1e-3)
            nn.init.zeros_(self.refine_head.bias)

    def forward(self, norm_xy: Tensor, presence: Tensor, camera: Tensor | None = None) -> Tensor:
        check_input(norm_xy, presence, self.num_keypoints)
        camera = _check_camera(self, camera, norm_xy.shape[0])
        xy, p = masked_coordinates(norm_xy, presence)
        pc = p.unsqueeze(-1)
        h = self.input(torch.cat([xy, pc], dim=-1)) + self.keypoint_embedding
        if camera is not None:
            h = h + self.camera_input(camera.to(h.dtype)).unsqueeze(1)
        h = pc * h + (1.0 - pc) * self.absent_embedding
        for block in self.encoder:
            h = block(h, self.laplacian)
        b = h.shape[0]
        z = self.to_latent(torch.relu(self.to_node_latent(h)).reshape(b, -1))
        z = self.dropout(torch.relu(z))
        d = torch.relu(self.from_latent(z)).view(b, self.num_keypoints, self.node_latent)
        d = self.from_node_latent(d) + h  # encoder skip
        for block in self.decoder:
            d = block(d, self.laplacian)
        joints = self.head(d)
        r = self.refine(torch.relu(self.refine_in(torch.cat([d, joints], dim=-1))), self.laplacian)
        joints = joints + self.refine_head(r)
        return _root_relative(joints)

    def extra_repr(self) -> str:
        return (
            f"S={self.num_keypoints}, channels={self.channels}, latent={self.latent_size}, "
            f"node_latent={self.node_latent}, enc_blocks={self.enc_blocks}, dec_blocks={self.dec_blocks}, K={self.K}, "
            f"camera={self.camera_input is not None}"
        )


class MLPPoseNet(nn.Module):
    """The official Pose2Mesh PoseNet: a Martinez et al. (2017) residual MLP.

    ``Linear(3S, width) -> BN -> ReLU -> dropout``, then ``num_blocks``
    residual blocks of 2 x (Linear, BN, ReLU, dropout), then
    ``Linear(width, 3S)``. Same masked input as :class:`GraphPoseNet`
    (coordinates times presence, presence as a third channel); with
    ``camera=True`` the camera features are added through a zero-initialised
    linear map to the first layer's output (before its batch norm).

    Args:
        width: hidden width (4096 in the paper).
        num_blocks: residual blocks (2 in the paper).
        dropout: dropout probability (0.5 in Martinez et al.).
        layout: keypoint layout of the input (the canonical ``"superset"``).
        camera: take camera features (:func:`pose2mesh.models.camera_features`).

    Shape:
        - norm_xy: :math:`(B, S, 2)`, presence :math:`(B, S)`
        - camera: :math:`(B, 4)` or None (unknown camera; only with ``camera=True``)
        - output: :math:`(B, S, 3)` root-relative metres, OpenCV axes
    """

    def __init__(self, width: int = 1024, num_blocks: int = 2, dropout: float = 0.25, layout: str = "superset",
                 camera: bool = False) -> None:
        super().__init__()
        s = get_layout(layout).num_joints
        self.num_keypoints, self.width, self.num_blocks = s, width, num_blocks
        self.input = nn.Sequential(nn.Linear(3 * s, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout))
        self.camera_input = _camera_input(camera, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
                nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
            )
            for _ in range(num_blocks)
        )
        self.output = nn.Linear(width, 3 * s)

    def forward(self, norm_xy: Tensor, presence: Tensor, camera: Tensor | None = None) -> Tensor:
        check_input(norm_xy, presence, self.num_keypoints)
        camera = _check_camera(self, camera, norm_xy.shape[0])
        xy, p = masked_coordinates(norm_xy, presence)
        b = xy.shape[0]
        linear, rest = self.input[0], self.input[1:]
        h = linear(torch.cat([xy, p.unsqueeze(-1)], dim=-1).reshape(b, -1))
        if camera is not None:
            h = h + self.camera_input(camera.to(h.dtype))
        h = rest(h)
        for block in self.blocks:
            h = h + block(h)
        return _root_relative(self.output(h).view(b, self.num_keypoints, 3))

    def extra_repr(self) -> str:
        return f"S={self.num_keypoints}, width={self.width}, num_blocks={self.num_blocks}, camera={self.camera_input is not None}"
