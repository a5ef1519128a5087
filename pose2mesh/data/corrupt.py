"""Corruption models for synthetic 2D keypoints: make clean projections look
like the output of a real 2D detector.

The networks are trained on exact projections of posed bodies; at test time
they read a detector's keypoints.  The transforms here close that gap.  Each is
a small dataclass ``transform(kp, generator) -> kp`` that

* acts on a :class:`Keypoints2D` batch (pixels, OpenCV image axes: ``u`` right,
  ``v`` down),
* is pure (never modifies its input in place),
* draws every random number from the given ``torch.Generator`` on the data's
  device (same seed -> same output on the same device),
* never resurrects an absent keypoint (``confidence == 0`` stays 0), keeps
  confidences in ``[0, 1]`` and coordinates finite,
* is vectorised over the batch (no Python loop over samples or keypoints).

:class:`Compose` chains transforms, :class:`Sometimes` applies one to a random
subset of the samples; :func:`clean`, :func:`detector_like`,
:func:`detector_masked`, :func:`detector_masked_or_clean` and
:func:`h3wb_masking` are presets.  See ``docs/data_corruption.md``.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Sequence

import torch
from torch import Tensor

from pose2mesh.data.camera import check_generator, truncation_mask
from pose2mesh.joints import Layout, get_layout

__all__ = [
    "Keypoints2D",
    "person_scale",
    "OKS_SIGMAS",
    "DEFAULT_OKS_SIGMA",
    "FACE_POINTS",
    "LEFT_HAND_POINTS",
    "RIGHT_HAND_POINTS",
    "oks_sigmas",
    "GaussianNoise",
    "DetectorErrors",
    "RandomMask",
    "BoxOccluder",
    "Truncate",
    "Compose",
    "Sometimes",
    "clean",
    "detector_like",
    "detector_masked",
    "detector_masked_or_clean",
    "h3wb_masking",
]


# ---------------------------------------------------------------------------
# Tables keyed by canonical (superset) names
# ---------------------------------------------------------------------------
OKS_SIGMAS: dict[str, float] = {
    # COCO's 17 official per-keypoint sigmas (cocoapi, Ronchi & Perona 2017)
    "nose": 0.026,
    "left_eye": 0.025, "right_eye": 0.025,
    "left_ear": 0.035, "right_ear": 0.035,
    "left_shoulder": 0.079, "right_shoulder": 0.079,
    "left_elbow": 0.072, "right_elbow": 0.072,
    "left_wrist": 0.062, "right_wrist": 0.062,
    "left_hip": 0.107, "right_hip": 0.107,
    "left_knee": 0.087, "right_knee": 0.087,
    "left_ankle": 0.089, "right_ankle": 0.089,
    # COCO-WholeBody foot sigmas (Jin et al. 2020)
    "left_big_toe": 0.068, "right_big_toe": 0.068,
    "left_small_toe": 0.066, "right_small_toe": 0.066,
    "left_heel": 0.066, "right_heel": 0.066,
    # approximations (not official): face points like the eyes
    "left_eye_inner": 0.025, "right_eye_inner": 0.025,
    "left_eye_outer": 0.025, "right_eye_outer": 0.025,
    "left_mouth_corner": 0.025, "right_mouth_corner": 0.025,
    "neck_nose": 0.026,  # like the nose
    "head": 0.035,  # ear midpoint: like the ears
    "head_top": 0.05,  # between the face points and the shoulders
    # hand points like the wrists (coarser than COCO-WholeBody's finger sigmas,
    # which are meant for hand crops)
    "left_hand": 0.062, "right_hand": 0.062,
    "left_thumb": 0.062, "right_thumb": 0.062,
    "left_index": 0.062, "right_index": 0.062,
    "left_pinky": 0.062, "right_pinky": 0.062,
    # ball of the foot like the small toe
    "left_foot": 0.066, "right_foot": 0.066,
    # trunk points: pelvis and spine like the hips, neck and collars like the shoulders
    "pelvis": 0.107, "spine1": 0.107, "spine": 0.107, "spine2": 0.107, "spine3": 0.107,
    "thorax": 0.079, "neck": 0.079, "upper_neck": 0.079,
    "left_collar": 0.079, "right_collar": 0.079,
}
"""COCO OKS sigma per canonical keypoint name (unit-less: fraction of the
object scale ``sqrt(area)``; the OKS falloff is ``kappa = 2 * sigma``)."""

DEFAULT_OKS_SIGMA = 0.079
"""Sigma for a canonical name missing from :data:`OKS_SIGMAS` (custom layouts): the shoulders'."""

FACE_POINTS: frozenset[str] = frozenset({
    "nose", "neck_nose", "head_top",
    "left_eye_inner", "right_eye_inner", "left_eye", "right_eye",
    "left_eye_outer", "right_eye_outer", "left_ear", "right_ear",
    "left_mouth_corner", "right_mouth_corner",
})
"""Canonical points masked together as "the face" by :class:`RandomMask`
(``head``, the SMPL head-centre joint inside the skull, is not a face point)."""

LEFT_HAND_POINTS: frozenset[str] = frozenset({"left_hand", "left_thumb", "left_index", "left_pinky"})
"""Canonical points of the left hand: wrist-distal points only, the wrist is kept
(H3WB masks the hand's 21 keypoints, while the body's wrist keypoint stays)."""

RIGHT_HAND_POINTS: frozenset[str] = frozenset({"right_hand", "right_thumb", "right_index", "right_pinky"})
"""Canonical points of the right hand (see :data:`LEFT_HAND_POINTS`)."""


@dataclass(frozen=True)
class _LayoutTables:
    sigmas: Tensor  # (J,) float32
    flip: Tensor  # (J,) int64, the flip permutation
    parts: Tensor  # (3, J) bool: face, left hand, right hand


@lru_cache(maxsize=None)
def _tables(lay: Layout) -> _LayoutTables:
    # keyed by the Layout itself (frozen, hashable), not its name, so custom layouts work
    sigmas = torch.tensor([OKS_SIGMAS.get(c, DEFAULT_OKS_SIGMA) for c in lay.canonical])
    parts = torch.tensor(
        [[c in part for c in lay.canonical] for part in (FACE_POINTS, LEFT_HAND_POINTS, RIGHT_HAND_POINTS)]
    ).reshape(3, lay.num_joints)
    return _LayoutTables(sigmas, torch.tensor(lay.flip_permutation, dtype=torch.long), parts)


def oks_sigmas(layout: str | Layout) -> Tensor:
    """``(J,)`` COCO OKS sigmas of ``layout``'s keypoints, looked up by canonical name (CPU).

    ``layout`` is a built-in name or a :class:`~pose2mesh.joints.Layout`; canonical
    names missing from :data:`OKS_SIGMAS` get :data:`DEFAULT_OKS_SIGMA`.
    """
    return _tables(get_layout(layout)).sigmas.clone()


# ---------------------------------------------------------------------------
# The batch
# ---------------------------------------------------------------------------
def person_scale(xy: Tensor, confidence: Tensor, min_aspect: float = 0.1) -> Tensor:
    """Person size in pixels: ``sqrt`` of the area of the present keypoints' box.

    Args:
        xy: ``(N, J, 2)`` pixels.
        confidence: ``(N, J)``; keypoints with ``confidence > 0`` count.
        min_aspect: each box side is raised to at least ``min_aspect`` times the
            other, so a degenerate (line-like) pose keeps a usable scale.

    Returns:
        ``(N,)`` pixels, at least 1; 1 where fewer than one keypoint is present.
    """
    present = (confidence > 0)[..., None]
    big = torch.finfo(xy.dtype).max
    lo = torch.where(present, xy, torch.full_like(xy, big)).amin(1)
    hi = torch.where(present, xy, torch.full_like(xy, -big)).amax(1)
    any_present = present.any(1)  # (N, 1)
    side = torch.where(any_present, hi - lo, torch.zeros_like(lo))  # (N, 2)
    w, h = side.unbind(-1)
    w, h = torch.maximum(w, min_aspect * h), torch.maximum(h, min_aspect * w)
    return torch.sqrt(w * h).clamp_min(1.0)


@dataclass
class Keypoints2D:
    """A batch of 2D keypoints, one person per sample.

    Attributes:
        xy: ``(N, J, 2)`` pixel coordinates (OpenCV: ``u`` right, ``v`` down).
            Absent keypoints may hold any finite value.
        confidence: ``(N, J)`` in ``[0, 1]``; 0 means absent.
        layout: name of the :mod:`pose2mesh.joints` layout of the ``J`` keypoints,
            or a custom :class:`~pose2mesh.joints.Layout` (kept as the object).
        scale: ``(N,)`` person size in pixels (:func:`person_scale`: ``sqrt`` of the
            keypoint box area); the unit of every corruption magnitude.
        image_size: optional ``(N, 2)`` image ``(width, height)`` in pixels, needed
            by :class:`Truncate`.
    """

    xy: Tensor
    confidence: Tensor
    layout: str | Layout
    scale: Tensor
    image_size: Tensor | None = None

    def __post_init__(self) -> None:
        n, j = self.confidence.shape[:2] if self.confidence.ndim == 2 else (-1, -1)
        if self.confidence.ndim != 2 or tuple(self.xy.shape) != (n, j, 2):
            raise ValueError(
                f"xy must be (N, J, 2) and confidence (N, J); got {tuple(self.xy.shape)} "
                f"and {tuple(self.confidence.shape)}"
            )
        if tuple(self.scale.shape) != (n,):
            raise ValueError(f"scale must have shape ({n},), got {tuple(self.scale.shape)}")
        if self.image_size is not None and tuple(self.image_size.shape) != (n, 2):
            raise ValueError(f"image_size must have shape ({n}, 2), got {tuple(self.image_size.shape)}")
        layout = get_layout(self.layout)
        if layout.num_joints != j:
            raise ValueError(f"layout '{layout.name}' has {layout.num_joints} keypoints, the batch has {j}")

    @classmethod
    def from_xy(
        cls, xy: Tensor, layout: str | Layout, confidence: Tensor | None = None, image_size: Tensor | None = None
    ) -> "Keypoints2D":
        """Build a batch, computing ``scale`` with :func:`person_scale`.

        ``confidence`` defaults to 1 for every finite point; non-finite ``xy`` are
        made absent and replaced by 0.  A layout name is stored in its canonical
        form, a :class:`~pose2mesh.joints.Layout` object as it is.
        """
        layout = layout if isinstance(layout, Layout) else get_layout(layout).name
        finite = torch.isfinite(xy).all(-1)
        conf = finite.to(xy.dtype) if confidence is None else torch.where(finite, confidence, torch.zeros_like(confidence))
        xy = torch.where(finite[..., None], xy, torch.zeros_like(xy))
        return cls(xy, conf, layout, person_scale(xy, conf), image_size)

    @classmethod
    def from_projection(
        cls, pixels: Tensor, depth: Tensor, layout: str | Layout, image_size: Tensor | None = None
    ) -> "Keypoints2D":
        """Build a batch from :meth:`pose2mesh.data.camera.Cameras.project` output.

        Points behind the camera (``depth <= 0``, NaN pixels) are absent; points
        outside the image stay present (the person's ``scale`` includes them),
        apply :class:`Truncate` to remove them.
        """
        conf = ((depth > 0) & torch.isfinite(pixels).all(-1)).to(pixels.dtype)
        return cls.from_xy(pixels, layout, conf, image_size)

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    @property
    def device(self) -> torch.device:
        """The device of the keypoint tensors (that of ``xy``)."""
        return self.xy.device

    @property
    def present(self) -> Tensor:
        """``(N, J)`` bool, ``confidence > 0``."""
        return self.confidence > 0

    def replace(self, **changes) -> "Keypoints2D":
        """A shallow copy with some fields replaced (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def to(self, device: torch.device | str) -> "Keypoints2D":
        """A copy with every tensor on ``device``."""
        size = None if self.image_size is None else self.image_size.to(device)
        return Keypoints2D(self.xy.to(device), self.confidence.to(device), self.layout, self.scale.to(device), size)


Transform = Callable[[Keypoints2D, torch.Generator], Keypoints2D]


def _rand(generator: torch.Generator, like: Tensor, *shape: int) -> Tensor:
    return torch.rand(shape, generator=generator, device=like.device, dtype=like.dtype)


def _randn(generator: torch.Generator, like: Tensor, *shape: int) -> Tensor:
    return torch.randn(shape, generator=generator, device=like.device, dtype=like.dtype)


def _unit_vectors(generator: torch.Generator, like: Tensor, *shape: int) -> Tensor:
    angle = 2 * math.pi * _rand(generator, like, *shape)
    return torch.stack([torch.cos(angle), torch.sin(angle)], -1)


# ---------------------------------------------------------------------------
# Transforms
# ---------------------------------------------------------------------------
@dataclass
class GaussianNoise:
    """I.i.d. Gaussian pixel noise, ``N(0, (sigma * scale)^2)`` per coordinate.

    Only present keypoints move.  Confidence drops with the displacement ``d``:
    ``confidence *= exp(-d^2 / (2 (conf_falloff * scale)^2))`` (an OKS-like
    factor: with the defaults a typical displacement costs about 4%).

    Attributes:
        sigma: noise standard deviation as a fraction of the person scale.
        conf_falloff: displacement, as a fraction of the scale, at which the
            confidence factor is ``exp(-1/2) ~= 0.61``; must be > 0 (``inf``:
            confidences unchanged).
    """

    sigma: float = 0.01
    conf_falloff: float = 0.05

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"sigma must be finite and >= 0, got {self.sigma}")
        # conf_falloff = 0 would give exp(-0 / 0) = NaN for unmoved (e.g. absent) points;
        # inf is allowed and leaves the confidences unchanged
        if not self.conf_falloff > 0:
            raise ValueError(f"conf_falloff must be > 0, got {self.conf_falloff}")

    def __call__(self, kp: Keypoints2D, generator: torch.Generator) -> Keypoints2D:
        check_generator(generator, kp.device)
        n, j = kp.confidence.shape
        present = kp.present[..., None]
        s = kp.scale[:, None, None]
        delta = self.sigma * s * _randn(generator, kp.xy, n, j, 2)
        delta = torch.where(present, delta, torch.zeros_like(delta))
        d2 = (delta**2).sum(-1)
        conf = kp.confidence * torch.exp(-d2 / (2 * (self.conf_falloff * kp.scale[:, None]) ** 2))
        return kp.replace(xy=kp.xy + delta, confidence=conf)


@dataclass
class DetectorErrors:
    """Typical 2D-detector errors, after PoseFix (Moon et al. 2019).

    Each present keypoint independently suffers at most one error, with
    probabilities ``p_jitter``, ``p_miss``, ``p_inversion``, ``p_swap`` (sum
    <= 1).  Distances are scaled per keypoint by the COCO OKS falloff
    ``kappa * scale`` with ``kappa = 2 * sigma`` (:data:`OKS_SIGMAS`), so an
    error of OKS ``o`` is a displacement of ``kappa * scale * sqrt(-2 ln o)``:

    * **jitter**: displacement in a random direction with OKS uniform in
      ``jitter_oks`` (PoseFix: 0.5 .. 0.85); confidence times
      ``U(jitter_conf)``.
    * **miss**: with probability ``miss_drop`` the keypoint is dropped
      (confidence 0); otherwise a large displacement with OKS uniform in
      ``miss_oks`` (< 0.5, PoseFix's miss) and confidence times ``U(miss_conf)``.
    * **inversion**: left/right confusion: the keypoint takes the position of
      its mirror partner (the layout's flip pairs; keypoints without a partner,
      or whose partner is absent, are left alone).  Detectors are often
      confident on inversions: confidence times ``U(inversion_conf)`` (default
      0.8 .. 1).
    * **swap**: the keypoint takes the position of another present keypoint of
      the same person chosen uniformly at random; confidence times
      ``U(swap_conf)``.

    Inversion and swap read the positions before any error is applied.
    """

    p_jitter: float = 0.10
    p_miss: float = 0.03
    p_inversion: float = 0.02
    p_swap: float = 0.02
    jitter_oks: tuple[float, float] = (0.5, 0.85)
    miss_oks: tuple[float, float] = (0.01, 0.5)
    miss_drop: float = 0.3
    jitter_conf: tuple[float, float] = (0.5, 0.9)
    miss_conf: tuple[float, float] = (0.05, 0.4)
    inversion_conf: tuple[float, float] = (0.8, 1.0)
    swap_conf: tuple[float, float] = (0.05, 0.4)

    def __post_init__(self) -> None:
        probs = (self.p_jitter, self.p_miss, self.p_inversion, self.p_swap)
        if min(probs) < 0 or sum(probs) > 1 + 1e-9:
            raise ValueError(f"error probabilities must be >= 0 and sum to <= 1, got {probs}")
        for name in ("jitter_oks", "miss_oks"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi <= 1:
                raise ValueError(f"{name} must satisfy 0 < lo <= hi <= 1, got {(lo, hi)}")
        for name in ("jitter_conf", "miss_conf", "inversion_conf", "swap_conf"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi <= 1:
                raise ValueError(f"{name} must satisfy 0 <= lo <= hi <= 1, got {(lo, hi)}")

    def __call__(self, kp: Keypoints2D, generator: torch.Generator) -> Keypoints2D:
        check_generator(generator, kp.device)
        xy, conf = kp.xy, kp.confidence
        n, j = conf.shape
        tables = _tables(get_layout(kp.layout))
        kappa = 2 * tables.sigmas.to(device=xy.device, dtype=xy.dtype)  # (J,)
        flip = tables.flip.to(xy.device)
        present = kp.present

        # one uniform per keypoint picks its error type (fixed number of draws)
        u = _rand(generator, xy, n, j)
        c1 = self.p_jitter
        c2 = c1 + self.p_miss
        c3 = c2 + self.p_inversion
        c4 = c3 + self.p_swap
        jitter = present & (u < c1)
        miss = present & (u >= c1) & (u < c2)
        inversion = present & (u >= c2) & (u < c3) & (flip != torch.arange(j, device=xy.device))
        inversion = inversion & present[:, flip]
        swap = present & (u >= c3) & (u < c4)

        # displacements of jitter and miss: OKS o -> distance kappa * s * sqrt(-2 ln o)
        def lerp(r: tuple[float, float], t: Tensor) -> Tensor:
            return r[0] + (r[1] - r[0]) * t

        r_oks, r_conf, r_drop = _rand(generator, xy, 3, n, j).unbind(0)
        direction = _unit_vectors(generator, xy, n, j)
        oks = torch.where(jitter, lerp(self.jitter_oks, r_oks), lerp(self.miss_oks, r_oks))
        dist = kappa * kp.scale[:, None] * torch.sqrt(-2 * torch.log(oks))
        moved = jitter | miss
        out_xy = torch.where(moved[..., None], xy + dist[..., None] * direction, xy)
        out_xy = torch.where(inversion[..., None], xy[:, flip], out_xy)

        # swap: a uniformly chosen other present keypoint (random scores, argmax);
        # drawn only for the few selected keypoints, the draw count depends on the data
        b, k = swap.nonzero(as_tuple=True)
        scores = torch.rand((b.shape[0], j), generator=generator, device=xy.device, dtype=xy.dtype)
        allowed = present[b].clone()
        allowed[torch.arange(b.shape[0], device=xy.device), k] = False
        scores = torch.where(allowed, scores, torch.full_like(scores, -1.0))
        best, src = scores.max(-1)
        ok = best >= 0
        b, k, src = b[ok], k[ok], src[ok]
        out_xy = out_xy.index_put((b, k), xy[b, src])
        swapped = torch.zeros_like(swap).index_put((b, k), torch.ones_like(b, dtype=torch.bool))

        factor = torch.ones_like(conf)
        factor = torch.where(jitter, lerp(self.jitter_conf, r_conf), factor)
        dropped = miss & (r_drop < self.miss_drop)
        factor = torch.where(miss, torch.where(dropped, torch.zeros_like(factor), lerp(self.miss_conf, r_conf)), factor)
        factor = torch.where(inversion, lerp(self.inversion_conf, r_conf), factor)
        factor = torch.where(swapped, lerp(self.swap_conf, r_conf), factor)
        return kp.replace(xy=out_xy, confidence=conf * factor)


@dataclass
class RandomMask:
    """Random masking in the style of H3WB's I2D->3D task (Zhu et al. 2023).

    * With probability ``p_sample`` a sample is selected, and each of its
      keypoints is then masked with probability ``p_keypoint``.
    * Independently, with probability ``p_part`` each of the face
      (:data:`FACE_POINTS`), the left hand and the right hand
      (:data:`LEFT_HAND_POINTS`, :data:`RIGHT_HAND_POINTS`; wrists are kept) is
      masked as a whole, in every sample.

    Masked keypoints get confidence 0.  A keypoint of a part is thus kept with
    probability ``(1 - p_sample p_keypoint)(1 - p_part)``, any other with
    ``1 - p_sample p_keypoint``.
    """

    p_sample: float = 0.4
    p_keypoint: float = 0.25
    p_part: float = 0.2

    def __call__(self, kp: Keypoints2D, generator: torch.Generator) -> Keypoints2D:
        check_generator(generator, kp.device)
        conf = kp.confidence
        n, j = conf.shape
        parts = _tables(get_layout(kp.layout)).parts.to(conf.device)  # (3, J)
        selected = _rand(generator, conf, n, 1) < self.p_sample
        masked = selected & (_rand(generator, conf, n, j) < self.p_keypoint)
        part_on = _rand(generator, conf, n, 3) < self.p_part  # (N, 3)
        masked = masked | (part_on[:, :, None] & parts[None]).any(1)
        return kp.replace(confidence=torch.where(masked, torch.zeros_like(conf), conf))


@dataclass
class BoxOccluder:
    """A random axis-aligned box that hides every keypoint it covers.

    With probability ``p`` a sample gets one box; its width and height are
    independently uniform in ``size`` times the person scale, and its centre is
    uniform in the bounding box of the present keypoints (so it always lies on
    the person).  Covered keypoints (box edges included) get confidence 0.

    Attributes:
        p: probability that a sample gets a box.
        size: range of the box sides as fractions of the person scale.
    """

    p: float = 0.3
    size: tuple[float, float] = (0.2, 0.6)

    def sample_boxes(self, kp: Keypoints2D, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Draw the boxes :meth:`__call__` would draw with the same generator state.

        Returns:
            ``boxes (N, 4)`` as ``(u_min, v_min, u_max, v_max)`` pixels, and
            ``active (N,)`` bool (samples without a box, or without any present
            keypoint, are inactive).
        """
        check_generator(generator, kp.device)
        xy = kp.xy
        n = xy.shape[0]
        r = _rand(generator, xy, n, 5)
        active = (r[:, 0] < self.p) & kp.present.any(1)
        present = kp.present[..., None]
        big = torch.finfo(xy.dtype).max
        lo = torch.where(present, xy, torch.full_like(xy, big)).amin(1)
        hi = torch.where(present, xy, torch.full_like(xy, -big)).amax(1)
        lo = torch.where(active[:, None], lo, torch.zeros_like(lo))
        hi = torch.where(active[:, None], hi, torch.zeros_like(hi))
        center = lo + (hi - lo) * r[:, 1:3]
        half = 0.5 * kp.scale[:, None] * (self.size[0] + (self.size[1] - self.size[0]) * r[:, 3:5])
        return torch.cat([center - half, center + half], -1), active

    def __call__(self, kp: Keypoints2D, generator: torch.Generator) -> Keypoints2D:
        boxes, active = self.sample_boxes(kp, generator)
        inside = ((kp.xy >= boxes[:, None, :2]) & (kp.xy <= boxes[:, None, 2:])).all(-1) & active[:, None]
        return kp.replace(confidence=torch.where(inside, torch.zeros_like(kp.confidence), kp.confidence))


@dataclass
class Truncate:
    """Keypoints outside the image become absent (deterministic).

    Needs ``kp.image_size``; the image covers ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``
    (OpenCV pixel centres), shrunk by ``margin`` pixels.
    """

    margin: float = 0.0

    def __call__(self, kp: Keypoints2D, generator: torch.Generator | None = None) -> Keypoints2D:
        if kp.image_size is None:
            raise ValueError("Truncate needs Keypoints2D.image_size (N, 2) = (width, height) in pixels")
        inside = truncation_mask(kp.xy, None, kp.image_size, self.margin)
        return kp.replace(confidence=torch.where(inside, kp.confidence, torch.zeros_like(kp.confidence)))


@dataclass
class Compose:
    """Apply ``transforms`` in order, all with the same generator."""

    transforms: Sequence[Transform] = field(default_factory=list)

    def __call__(self, kp: Keypoints2D, generator: torch.Generator) -> Keypoints2D:
        check_generator(generator, kp.device)
        for transform in self.transforms:
            kp = transform(kp, generator)
        return kp


@dataclass
class Sometimes:
    """Apply ``transform`` to each sample with probability ``p``; leave the others as they are.

    The transform runs on the whole batch (its draws do not depend on which
    samples are kept), then each sample takes the transformed or the original
    keypoints, drawn once per sample.
    """

    transform: Transform
    p: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {self.p}")

    def __call__(self, kp: Keypoints2D, generator: torch.Generator) -> Keypoints2D:
        check_generator(generator, kp.device)
        out = self.transform(kp, generator)
        apply = _rand(generator, kp.confidence, len(kp)) < self.p  # (N,)
        return kp.replace(xy=torch.where(apply[:, None, None], out.xy, kp.xy),
                          confidence=torch.where(apply[:, None], out.confidence, kp.confidence))


# ---------------------------------------------------------------------------
# Presets
# ---------------------------------------------------------------------------
def clean() -> Compose:
    """No corruption (the identity)."""
    return Compose([])


def detector_like(truncate: bool = True) -> Compose:
    """A 2D detector on a real image: truncation, an occluder, pixel noise, detector errors.

    Order: :class:`Truncate` (the image frame), :class:`BoxOccluder`
    (occlusion hides points before detection), :class:`GaussianNoise`,
    :class:`DetectorErrors`, :class:`Truncate` again (detectors only report
    points inside the image).  With ``truncate=False`` both truncations are
    left out (for batches without ``image_size``).
    """
    middle: list[Transform] = [BoxOccluder(), GaussianNoise(), DetectorErrors()]
    return Compose([Truncate(), *middle, Truncate()] if truncate else middle)


def detector_masked(truncate: bool = True) -> Compose:
    """:func:`detector_like`, then random masking of whole keypoints (training data).

    :class:`RandomMask` with ``p_sample=0.3, p_keypoint=0.3, p_part=0``: 30 % of
    the samples lose each remaining keypoint with probability 0.3, so a model
    trained on it also sees many sparse inputs (a detector that reports few
    points, or a user who drops low-confidence ones), not only the occluder and
    detector misses of :func:`detector_like`.
    """
    return Compose([*detector_like(truncate).transforms, RandomMask(p_sample=0.3, p_keypoint=0.3, p_part=0.0)])


def detector_masked_or_clean(p_clean: float = 0.5, truncate: bool = True) -> Compose:
    """:func:`detector_masked` with a fraction ``p_clean`` of the samples left exact.

    Those samples skip the occluder, the pixel noise and the detector errors
    (they are still truncated to the image and randomly masked like the
    others), so a model trained on it also learns to trust exact input, as
    from a precise detector or motion capture, instead of reading every input
    as noisy.
    """
    if not 0.0 <= p_clean <= 1.0:
        raise ValueError(f"p_clean must be in [0, 1], got {p_clean}")
    exact = [Truncate()] if truncate else []  # the noisy samples are truncated already: a no-op for them
    return Compose([Sometimes(detector_like(truncate), p=1.0 - p_clean), *exact,
                    RandomMask(p_sample=0.3, p_keypoint=0.3, p_part=0.0)])


def h3wb_masking() -> Compose:
    """H3WB-style random masking only (:class:`RandomMask` with its defaults)."""
    return Compose([RandomMask()])
