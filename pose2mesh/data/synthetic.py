"""Synthetic training batches: posed bodies, random cameras, corrupted 2D keypoints.

Everything runs as batched torch on the device given (generate on the GPU when
training there).  Conventions: 3D outputs are in metres in OpenCV **camera**
coordinates (x right, y down, z forward); 2D keypoints are pixels with a
confidence column (0 = absent); bodies are posed in the body frame (Y up) and
mapped to the camera by ``x_cam = R x + t``.

Determinism: batch ``i`` of rank ``r`` is a pure function of ``(seed, r, i)``
(its own ``torch.Generator``), so a run is reproducible, resumable from any
step, and DDP ranks draw disjoint streams (``rank``, ``world_size``).
"""
from __future__ import annotations

import hashlib
import math
import numbers
from dataclasses import dataclass, field

import torch
from torch import Tensor

from pose2mesh import joints as _joints
from pose2mesh.body.open_body import OpenBody
from pose2mesh.data import corrupt as _corrupt
from pose2mesh.data.camera import CameraSampler, project_points
from pose2mesh.data.poses import PosePrior

#: corruption presets by name (see :mod:`pose2mesh.data.corrupt`).
CORRUPTIONS = {"none": _corrupt.clean, "detector": _corrupt.detector_like,
               "detector+mask": _corrupt.detector_masked,
               "detector+mask+clean": _corrupt.detector_masked_or_clean, "h3wb": _corrupt.h3wb_masking}

#: body-shape distributions by name (rows of the body's shipped shape table, see :func:`shape_rows`).
SHAPES = ("adults", "mixed", "all")
ADULT_AGE = 0.45  # anny's age phenotype: 0 newborn, 0.5 about 25 years, 1 old
ADULT_HEIGHT_M = (1.55, 1.92)  # standing height range of the "adults" shapes, metres
MIXED_ADULT_FRACTION = 0.85


def _height(vertices: Tensor) -> Tensor:
    """``(B,)`` extent along Y (the body's up axis, metres) of ``(B, V, 3)`` rest vertices."""
    return vertices[..., 1].amax(1) - vertices[..., 1].amin(1)


def shape_rows(body: OpenBody) -> tuple[Tensor, Tensor]:
    """Split the body's shape table into adult rows and all other rows.

    Adults: anny age phenotype >= :data:`ADULT_AGE` and rest-pose height (mesh
    extent along Y, metres) within :data:`ADULT_HEIGHT_M`, 749 of the 4,096
    rows of the shipped table (mean 1.73 m).  The others are children,
    teenagers and extreme heights.

    Returns:
        ``(adult_rows, other_rows)`` int64 index tensors on the body's device.
    """
    age = body.shape_table_phenotypes[:, body.phenotype_labels.index("age")]
    height = torch.cat([_height(body.shape(betas)[0]) for betas in body.shape_table_betas.split(256)])
    adult = (age >= ADULT_AGE) & (height >= ADULT_HEIGHT_M[0]) & (height <= ADULT_HEIGHT_M[1])
    return torch.nonzero(adult)[:, 0], torch.nonzero(~adult)[:, 0]


@dataclass
class SyntheticConfig:
    """What a synthetic batch contains and how it is drawn.

    Attributes:
        batch_size: samples per batch.
        layout: the detector layout whose 2D keypoints are synthesised.
        corruption: ``"none"``, ``"detector"`` (noise, detector errors, occluders,
            truncation), ``"detector+mask"`` (that, then whole keypoints masked at
            random in 30 % of the samples), ``"detector+mask+clean"`` (that, with half
            of the samples left exact, only truncated and masked) or ``"h3wb"``
            (H3WB-style random masking).
        num_betas: shape coefficients used (the rest are 0): fewer is faster.
            At least 1 and at most the body's ``num_betas`` (64 for the open body;
            checked by :class:`SyntheticBatches`, which knows the body).
        shapes: body-shape distribution: ``"adults"`` (adult rows of the shape
            table, 1.55-1.92 m, see :func:`shape_rows`), ``"mixed"`` (85 % adults,
            15 % children, teenagers and extreme heights) or ``"all"`` (the whole
            table, uniform phenotypes: 0.4-2.4 m).
        mirror: probability of a left/right mirrored pose.
        mix_limbs: per-limb probability of taking a limb from another pose.
        pose_noise: std (rad) of axis-angle noise on every local rotation.
        camera: the camera distribution.
    """

    batch_size: int = 256
    layout: str = "coco"
    corruption: str = "detector"
    num_betas: int = 16
    shapes: str = "mixed"
    mirror: float = 0.5
    mix_limbs: float = 0.0
    pose_noise: float = 0.0
    camera: CameraSampler = field(default_factory=CameraSampler)

    def __post_init__(self) -> None:
        _joints.get_layout(self.layout)  # validates the name
        if self.corruption not in CORRUPTIONS:
            raise ValueError(f"unknown corruption '{self.corruption}'; choose one of: {', '.join(CORRUPTIONS)}")
        if self.shapes not in SHAPES:
            raise ValueError(f"unknown shapes '{self.shapes}'; choose one of: {', '.join(SHAPES)}")
        for name in ("batch_size", "num_betas"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("mirror", "mix_limbs"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} is a probability in [0, 1], got {getattr(self, name)}")
        if not (self.pose_noise >= 0.0 and math.isfinite(self.pose_noise)):
            raise ValueError(f"pose_noise must be >= 0 and finite (radians), got {self.pose_noise}")


def _stream_seed(seed: int, rank: int, index: int) -> int:
    """A 63-bit seed for batch ``index`` of ``rank``: independent streams per (seed, rank, index)."""
    digest = hashlib.sha256(f"pose2mesh-synthetic|{seed}|{rank}|{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class SyntheticBatches:
    """An endless, seeded stream of synthetic batches (see the module docstring).

    Args:
        body: the open body (its device is where batches are made).
        poses: a :class:`PosePrior` (the shipped one by default) on the same device.
        config: :class:`SyntheticConfig`.
        seed: base seed.
        rank / world_size: DDP shard: rank ``r`` yields the batches of its own stream.

    Each batch is a dict of tensors (``B`` samples, ``J`` layout keypoints, ``S`` = 52
    superset keypoints, ``V`` vertices):

    * ``keypoints (B, J, 3)``: corrupted detector-like input, pixels + confidence.
    * ``keypoints_clean (B, J, 3)``: exact projection + 1/0 visibility (in image, in front).
    * ``superset (B, S, 2)``, ``presence (B, S)``: the input mapped into the superset
      (absent points 0 with presence 0), as the networks consume it.
    * ``joints3d (B, J, 3)``, ``superset3d (B, S, 3)``, ``vertices (B, V, 3)``: metres,
      camera coordinates.
    * ``K (B, 3, 3)``, ``R (B, 3, 3)``, ``t (B, 3)``, ``image_size (B, 2)``: the camera.
    * ``pose (B, J_rig-1, 3, 3)``, ``global_orient (B, 3, 3)``, ``betas (B, num_betas)``.

    The 3D content of batch ``i`` (poses, bodies, cameras, so ``superset3d`` and
    ``vertices``) depends on ``(seed, rank, i)`` and the pose, shape and camera
    settings only, not on ``layout`` or ``corruption``: streams that differ in
    those give the same samples seen by different detectors (layout-consistency
    training pairs them).
    """

    def __init__(self, body: OpenBody, poses: PosePrior | None = None, config: SyntheticConfig | None = None,
                 seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size), got rank={rank}, world_size={world_size}")
        self.config = config or SyntheticConfig()
        available = body.shape_table_betas.shape[1]
        if self.config.num_betas > available:
            raise ValueError(
                f"num_betas must be in [1, {available}] (the body's shape coefficients), got {self.config.num_betas}"
            )
        self.body = body
        self.device = body.v_template.device
        self.poses = PosePrior.load(device=self.device) if poses is None else poses
        if self.poses.joint_names != body.joint_names:
            raise ValueError("the pose prior's rig does not match the body's joints")
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.corrupt = CORRUPTIONS[self.config.corruption]()
        self._adult_rows, self._other_rows = shape_rows(body)
        reg = body.regressor_superset.to(body.v_template.dtype)
        self._used_vertices = torch.nonzero(reg.abs().sum(0) > 0)[:, 0]
        self._regressor_used_t = reg[:, self._used_vertices].T.contiguous()  # (V', S)
        self._superset_to_layout_t = torch.as_tensor(
            _joints.conversion_matrix("superset", self.config.layout), dtype=reg.dtype, device=self.device
        ).T.contiguous()  # (S, J)
        self.step = 0

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, Tensor]:
        batch = self.batch(self.step)
        self.step += 1
        return batch

    def generator(self, index: int) -> torch.Generator:
        """The generator of batch ``index`` of this rank."""
        return torch.Generator(device=self.device).manual_seed(_stream_seed(self.seed, self.rank, index))

    def _sample_shape_rows(self, n: int, gen: torch.Generator) -> Tensor:
        """``(n,)`` rows of the shape table drawn from ``config.shapes``."""
        def pick(rows: Tensor) -> Tensor:
            return rows[torch.randint(len(rows), (n,), generator=gen, device=self.device)]

        if self.config.shapes == "all":
            return pick(torch.arange(len(self.body.shape_table_betas), device=self.device))
        adults = pick(self._adult_rows)
        if self.config.shapes == "adults":
            return adults
        is_adult = torch.rand(n, generator=gen, device=self.device) < MIXED_ADULT_FRACTION
        return torch.where(is_adult, adults, pick(self._other_rows))

    @torch.no_grad()
    def batch(self, index: int, mesh: bool = True) -> dict[str, Tensor]:
        """Batch number ``index`` of this rank's stream (deterministic).

        With ``mesh=False`` only the few vertices that the keypoint regressors
        use are skinned (the batch has no ``vertices``; everything else is the
        same up to float rounding, ~1e-6 m, as the full mesh takes the sparse
        CPU skinning path): faster, for keypoint-only training.
        """
        cfg, body, gen = self.config, self.body, self.generator(index)
        n = cfg.batch_size
        pose, orient = self.poses.sample(n, gen, mirror=cfg.mirror, mix_limbs=cfg.mix_limbs, noise=cfg.pose_noise)
        betas = body.shape_table_betas[self._sample_shape_rows(n, gen), : cfg.num_betas]
        # Pose the skeleton first (cheap: no mesh) to frame the camera, then skin the mesh
        # directly in camera coordinates: x_cam = R x + t composed into every bone
        # transform, [G | g] -> [R G | R g + t], so no per-vertex transform is needed.
        posed = body(pose=pose, betas=betas, global_orient=orient, skin=False)
        skeleton = posed.joints
        lo, hi = skeleton.amin(1), skeleton.amax(1)
        height = 1.12 * (hi[:, 1] - lo[:, 1])  # the head top lies above the skeleton's Head joint
        cameras = cfg.camera.sample((lo + hi) / 2, height, gen)
        rot = cameras.R[:, None]
        transforms = torch.cat([rot @ posed.transforms[..., :3],
                                rot @ posed.transforms[..., 3:] + cameras.t[:, None, :, None]], -1)
        vertices = body.skin_vertices(betas, transforms, vertex_ids=None if mesh else self._used_vertices)
        # Keypoints: the regressors touch few vertices, so gather those first, as
        # coordinate planes (``vertices`` is a view of a (n, 3, V) buffer): (3n, V') @ (V', S).
        planes = vertices.transpose(1, 2).reshape(3 * n, -1)
        used = planes.index_select(1, self._used_vertices) if mesh else planes
        superset_cm = used @ self._regressor_used_t
        superset3d = superset_cm.view(n, 3, -1).transpose(1, 2).contiguous()
        joints3d = (superset_cm @ self._superset_to_layout_t).view(n, 3, -1).transpose(1, 2).contiguous()
        pixels, depth = project_points(joints3d, cameras.K), joints3d[..., 2]
        clean = _corrupt.Keypoints2D.from_projection(pixels, depth, cfg.layout, image_size=cameras.image_size)
        clean = _corrupt.Truncate()(clean)
        noisy = self.corrupt(clean, gen)
        keypoints = torch.cat([noisy.xy, noisy.confidence[..., None]], -1)
        superset, presence = _joints.to_superset(keypoints, cfg.layout)
        batch = {
            "keypoints": keypoints,
            "keypoints_clean": torch.cat([clean.xy, clean.confidence[..., None]], -1),
            "superset": superset,
            "presence": presence,
            "joints3d": joints3d,
            "superset3d": superset3d,
            "K": cameras.K, "R": cameras.R, "t": cameras.t, "image_size": cameras.image_size,
            "pose": pose, "global_orient": orient, "betas": betas,
        }
        if mesh:
            batch["vertices"] = vertices
        return batch

