"""A fixed, reproducible test set from any folder of motion files (``make_test_set``).

Conventions: ``keypoints`` are pixels + confidence (absent = confidence 0);
``joints3d``, ``superset3d`` and ``vertices`` are metres in OpenCV camera
coordinates (x right, y down, z forward); ``K`` maps camera coordinates to
pixels; ``R, t`` map the body frame (Y up) to the camera: ``x_cam = R x + t``.
The same arguments always give the same test set, on every device (generated on the CPU).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
from torch import Tensor

from pose2mesh.body.open_body import OpenBody
from pose2mesh.data.poses import build_pose_prior
from pose2mesh.data.synthetic import SyntheticBatches, SyntheticConfig

NOISE_CHOICES = ("none", "detector")
_BATCH = 256  # generation batch: part of the test set's definition, keep it fixed


@dataclass
class TestSet:
    """A synthetic test set projected from real motion.

    Attributes:
        keypoints: ``(N, J, 3)`` input 2D keypoints, pixels + confidence (0 = absent).
        keypoints_clean: ``(N, J, 3)`` exact projections + visibility (1 in image, else 0).
        joints3d: ``(N, J, 3)`` ground-truth keypoints, metres, camera coordinates.
        superset3d: ``(N, 52, 3)`` ground-truth superset keypoints, metres, camera coordinates.
        vertices: ``(N, V, 3)`` ground-truth mesh, metres, camera coordinates.
        K: ``(N, 3, 3)`` intrinsics (pixels); R: ``(N, 3, 3)``; t: ``(N, 3)`` extrinsics.
        image_size: ``(N, 2)`` width, height in pixels.
        layout: the keypoint layout of ``keypoints`` / ``joints3d``.
        meta: the arguments and provenance (files, subjects, frames).
    """

    keypoints: Tensor
    keypoints_clean: Tensor
    joints3d: Tensor
    superset3d: Tensor
    vertices: Tensor
    K: Tensor
    R: Tensor
    t: Tensor
    image_size: Tensor
    layout: str
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def extrinsics(self) -> Tensor:
        """``(N, 3, 4)`` ``[R | t]``."""
        return torch.cat([self.R, self.t[..., None]], -1)

    def to(self, device: torch.device | str) -> "TestSet":
        """A copy with every tensor on ``device``."""
        return TestSet(**{f.name: (v.to(device) if isinstance(v := getattr(self, f.name), Tensor) else v)
                          for f in fields(self)})


def make_test_set(
    motion_dir: str | Path,
    layout: str = "coco",
    n: int = 1000,
    seed: int = 0,
    noise: str = "none",
    missing: float = 0.0,
    shapes: str = "adults",
    fps: float = 30.0,
    body: OpenBody | None = None,
    device: torch.device | str | None = None,
    cache_dir: str | Path | None = None,
) -> TestSet:
    """Build a fixed, reproducible test set from every motion file below ``motion_dir``.

    Frames of all files (resampled to ``fps``, retargeted to the open body) are
    drawn uniformly with a seeded generator; each gets a body shape from the
    shipped shape table (adults by default: CMU's subjects are adults), a random heading and a random camera (the training
    camera distribution), and its keypoints are projected and then corrupted.

    Args:
        motion_dir: folder of BVH / ASF+AMC files (held-out subjects for evaluation).
        layout: keypoint layout of the test set.
        n: number of samples.
        seed: seed of every random draw.
        noise: ``"none"`` (exact projections, truncated keypoints absent) or
            ``"detector"`` (detector-like noise, errors, occluders).
        missing: fraction of the remaining present keypoints additionally made
            absent (uniformly at random), e.g. 0.3.
        shapes: body-shape distribution (:data:`pose2mesh.data.synthetic.SHAPES`).
        fps: motion resampling rate before drawing frames.
        body: the body (default: the shipped open body).
        device: where to return the tensors (default: ``body``'s device, else
            the CPU).  The samples are always generated on the CPU, so a test
            set is the same on every device (a CUDA generator would draw
            other numbers from the same seed).
        cache_dir: motion parse cache.

    Returns:
        a :class:`TestSet` with ``n`` samples.
    """
    if noise not in NOISE_CHOICES:
        raise ValueError(f"unknown noise '{noise}'; choose one of: {', '.join(NOISE_CHOICES)}")
    if not 0.0 <= missing < 1.0:
        raise ValueError(f"missing must be in [0, 1), got {missing}")
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    if device is None:
        device = "cpu" if body is None else body.v_template.device
    if body is None:
        body = OpenBody.load(device="cpu")
    elif body.v_template.device.type != "cpu":
        body = copy.deepcopy(body).cpu()
    frames = build_pose_prior(motion_dir, body, fps=fps, max_poses=2**62, seed=seed, exclude_subjects=(),
                              cache_dir=cache_dir)
    frames = frames.to(body.v_template.device)
    config = SyntheticConfig(batch_size=_BATCH, layout=layout, corruption=noise, mirror=0.0, shapes=shapes)
    stream = SyntheticBatches(body, frames, config, seed=seed)
    parts = [stream.batch(i) for i in range(math.ceil(n / _BATCH))]
    keep = ("keypoints", "keypoints_clean", "joints3d", "superset3d", "vertices", "K", "R", "t", "image_size")
    data = {k: torch.cat([p[k] for p in parts])[:n] for k in keep}
    if missing > 0:
        gen = torch.Generator(device=data["keypoints"].device).manual_seed(seed + 7919)
        drop = torch.rand(data["keypoints"].shape[:2], generator=gen, device=gen.device) < missing
        data["keypoints"] = data["keypoints"].clone()
        data["keypoints"][..., 2] = torch.where(drop, torch.zeros_like(data["keypoints"][..., 2]), data["keypoints"][..., 2])
    meta = {"motion_dir": str(motion_dir), "layout": layout, "n": n, "seed": seed, "noise": noise,
            "missing": missing, "shapes": shapes, "fps": fps, **frames.meta}
    return TestSet(layout=layout, meta=meta, **data).to(device)
