"""Pinhole cameras for rendering synthetic 2D keypoints of posed bodies.

Conventions:

* Body / world frame: metres, Y up, X towards the body's left, Z forward
  (:mod:`pose2mesh.body.base`).
* Camera frame: OpenCV, metres, **x right, y down, z forward** (along the
  optical axis).  A body point maps to the camera as ``x_cam = R @ x_body + t``.
* Image: pixels, OpenCV convention: ``u`` grows to the right, ``v`` downwards,
  pixel ``(0, 0)`` is the *centre* of the top-left pixel, so an image of size
  ``(W, H)`` covers ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.
* Intrinsics ``K = [[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` in pixels.

Everything is batched over ``N`` cameras, vectorised, and keeps the device and
dtype of its inputs.  Every random draw goes through a ``torch.Generator``
that must live on the inputs' device: the same seed gives the same cameras on
the same device.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = [
    "Cameras",
    "CameraSampler",
    "project_points",
    "truncation_mask",
    "check_generator",
    "look_at_rotation",
    "DEFAULT_IMAGE_SIZES",
]

DEFAULT_IMAGE_SIZES: tuple[tuple[int, int], ...] = (
    (640, 480),    # VGA landscape
    (480, 640),    # VGA portrait
    (1280, 720),   # HD landscape
    (720, 1280),   # HD portrait
    (1920, 1080),  # full HD landscape
    (1080, 1920),  # full HD portrait (phone video)
    (1024, 1024),  # square
)
"""``(width, height)`` pixels of the image formats :class:`CameraSampler` draws from."""


def check_generator(generator: torch.Generator, device: torch.device) -> None:
    """Raise ``ValueError`` unless ``generator`` lives on ``device``'s type.

    ``torch.rand(..., generator=g, device=d)`` with a CPU generator and CUDA
    ``d`` fails deep inside torch; this names the fix instead.
    """
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"expected a torch.Generator, got {type(generator).__name__}")
    if torch.device(generator.device).type != torch.device(device).type:
        raise ValueError(
            f"the generator is on '{generator.device}' but the data is on '{device}'; "
            f"create it there: torch.Generator(device='{device}').manual_seed(seed)"
        )


def _flatten(points: Tensor, n: int, name: str) -> tuple[Tensor, torch.Size]:
    """``(N, ..., 3)`` -> ``(N, P, 3)`` and the middle shape ``...``."""
    if points.ndim < 2 or points.shape[0] != n or points.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (N={n}, ..., 3), got {tuple(points.shape)}")
    middle = points.shape[1:-1]
    return points.reshape(n, -1, 3), middle


def project_points(points_cam: Tensor, K: Tensor) -> Tensor:
    """Pinhole projection of camera-frame points to pixels.

    Args:
        points_cam: ``(N, ..., 3)`` points in OpenCV camera coordinates, metres.
        K: ``(N, 3, 3)`` intrinsics in pixels (last row ``[0, 0, 1]``).

    Returns:
        ``(N, ..., 2)`` pixel coordinates ``(u, v)``.  Points with depth
        ``z <= 0`` (on or behind the camera plane) get **NaN** pixels: their
        projection is meaningless.  The validity flag is ``points_cam[..., 2] > 0``
        (:meth:`Cameras.project` returns the depth for that purpose, and
        :func:`truncation_mask` folds it in).
    """
    if K.ndim != 3 or tuple(K.shape[1:]) != (3, 3):
        raise ValueError(f"K must have shape (N, 3, 3), one per camera (K[None] for one), got {tuple(K.shape)}")
    n = K.shape[0]
    flat, middle = _flatten(points_cam, n, "points_cam")
    z = flat[..., 2:3]
    in_front = z > 0
    # divide by a safe depth, then blank the invalid ones: no inf/NaN gradients leak
    xy1 = torch.cat([flat[..., :2] / torch.where(in_front, z, torch.ones_like(z)), torch.ones_like(z)], -1)
    uv = (xy1 @ K.transpose(1, 2).to(flat.dtype))[..., :2]
    uv = torch.where(in_front, uv, torch.full_like(uv, float("nan")))
    return uv.reshape(n, *middle, 2)


def truncation_mask(pixels: Tensor, depth: Tensor, image_size: Tensor, margin: float = 0.0) -> Tensor:
    """Which keypoints are visible in the image frame (ignoring occlusion).

    Args:
        pixels: ``(N, J, 2)`` pixel coordinates (NaN allowed: counts as outside).
        depth: ``(N, J)`` camera-frame depth in metres (``z``), or ``None`` to skip
            the in-front test.
        image_size: ``(N, 2)`` image ``(width, height)`` in pixels.
        margin: pixels; a keypoint must lie at least ``margin`` inside the image
            border (negative: tolerate points slightly outside).

    Returns:
        ``(N, J)`` bool: finite, in front of the camera (``depth > 0``) and inside
        ``[-0.5, W - 0.5] x [-0.5, H - 0.5]`` (shrunk by ``margin``).  Truncated
        keypoints become absent downstream.
    """
    size = image_size.to(pixels.dtype)[:, None, :]  # (N, 1, 2)
    lo = -0.5 + margin
    inside = (pixels >= lo) & (pixels <= size - 0.5 - margin)  # False for NaN
    mask = inside.all(-1)
    if depth is not None:
        mask = mask & (depth > 0)
    return mask


@dataclass
class Cameras:
    """A batch of ``N`` pinhole cameras (OpenCV convention).

    Attributes:
        K: ``(N, 3, 3)`` intrinsics, pixels.
        R: ``(N, 3, 3)`` rotation body frame -> camera frame (proper: det +1).
        t: ``(N, 3)`` translation, metres: ``x_cam = R @ x_body + t``.
        image_size: ``(N, 2)`` image ``(width, height)`` in pixels (float tensor).
    """

    K: Tensor
    R: Tensor
    t: Tensor
    image_size: Tensor

    def __post_init__(self) -> None:
        n = self.K.shape[0]
        for name, shape in (("K", (n, 3, 3)), ("R", (n, 3, 3)), ("t", (n, 3)), ("image_size", (n, 2))):
            value = getattr(self, name)
            if tuple(value.shape) != shape:
                raise ValueError(f"Cameras.{name} must have shape {shape}, got {tuple(value.shape)}")

    def __len__(self) -> int:
        return int(self.K.shape[0])

    @property
    def device(self) -> torch.device:
        """The device of the camera tensors (that of ``K``)."""
        return self.K.device

    def to(self, device: torch.device | str) -> "Cameras":
        """A copy with every tensor on ``device``."""
        return Cameras(self.K.to(device), self.R.to(device), self.t.to(device), self.image_size.to(device))

    def __getitem__(self, index) -> "Cameras":
        """Select cameras with any 1-D index (slice, bool mask, index tensor).

        An integer (``int``, numpy integer or 0-d integer tensor) selects one
        camera as a batch of length 1, like a sequence: negative indices count
        from the end, and an index outside ``[-N, N)`` raises ``IndexError``.
        """
        is_int_tensor = (
            isinstance(index, Tensor) and index.ndim == 0 and index.dtype != torch.bool
            and not index.is_floating_point() and not index.is_complex()
        )
        if is_int_tensor or (isinstance(index, numbers.Integral) and not isinstance(index, bool)):
            i, n = int(index), len(self)
            if not -n <= i < n:
                raise IndexError(f"camera index {i} is out of range for {n} cameras")
            i %= n
            index = slice(i, i + 1)
        return Cameras(self.K[index], self.R[index], self.t[index], self.image_size[index])

    @property
    def vertical_fov(self) -> Tensor:
        """``(N,)`` vertical field of view in radians, ``2 atan(H / (2 fy))``."""
        return 2 * torch.atan(self.image_size[:, 1] / (2 * self.K[:, 1, 1]))

    @property
    def centers(self) -> Tensor:
        """``(N, 3)`` camera positions in the body frame, metres (``-R^T t``)."""
        return -(self.R.transpose(1, 2) @ self.t[..., None])[..., 0]

    def to_camera(self, points: Tensor) -> Tensor:
        """Body-frame points ``(N, ..., 3)`` (metres) -> camera frame ``(N, ..., 3)`` (metres)."""
        flat, middle = _flatten(points, len(self), "points")
        cam = flat @ self.R.transpose(1, 2).to(flat.dtype) + self.t[:, None, :].to(flat.dtype)
        return cam.reshape(len(self), *middle, 3)

    def project(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """Project body-frame points.

        Args:
            points: ``(N, ..., 3)`` body frame, metres.

        Returns:
            ``pixels (N, ..., 2)`` (NaN for points with depth ``<= 0``, see
            :func:`project_points`) and ``depth (N, ...)``: camera-frame ``z``
            in metres.
        """
        cam = self.to_camera(points)
        return project_points(cam, self.K), cam[..., 2]


def _uniform(lo: float, hi: float, n: int, generator: torch.Generator, like: Tensor) -> Tensor:
    u = torch.rand(n, generator=generator, device=like.device, dtype=like.dtype)
    return lo + (hi - lo) * u


@dataclass
class CameraSampler:
    """Random cameras that look at a person.

    For person ``i`` with centre ``c_i`` (body frame, metres; e.g. the pelvis or the
    centre of the body's bounding box) and standing height ``h_i`` (metres):

    1. Image format: uniform over ``image_sizes`` (``(width, height)`` pixels).
    2. Vertical field of view: uniform in ``fov_deg`` degrees (15 deg: tele
       lens, 90 deg: wide phone lens); square pixels, ``fx = fy = H / (2 tan(fov/2))``.
    3. Principal point: image centre ``((W-1)/2, (H-1)/2)`` plus a uniform offset
       of up to ``principal_point_jitter`` times the width / height.
    4. Look-at point ``c_i + o``, ``o`` uniform in a cube of half-side
       ``look_at_jitter * h_i``, so the person is not always centred.
    5. Distance to the look-at point ``d = fy * h_i / (s * H)`` with ``s`` uniform
       in ``height_fraction``: a fronto-parallel person of height ``h_i`` at the
       look-at point covers the fraction ``s`` of the image height (``s > 1``:
       partly outside the frame).  Tilt and perspective change the actual
       fraction somewhat.
    6. Camera height above the look-at point ``dy = u * h_i`` with ``u`` uniform
       in ``camera_height``; the default ``(-0.4, 0.7)`` spans, for a centre at
       the hips, from shin height (~0.3x hip height above the floor) to a
       little above the head (~2.3x hip height).  The elevation
       ``asin(dy / d)`` is clipped to ``+-max_elevation_deg`` (close cameras).
    7. Azimuth uniform in ``[0, 360)`` deg about the body's Y axis.
    8. Roll about the optical axis uniform in ``+-max_roll_deg``.

    The camera looks at the look-at point with its image "down" (OpenCV +y)
    along the world's -Y (before roll): upright people appear upright.

    Attributes:
        fov_deg: range of the vertical field of view, degrees.
        image_sizes: image formats ``(width, height)``, pixels.
        height_fraction: range of the person's height as a fraction of the image height.
        camera_height: range of the camera height above the look-at point, in body heights.
        max_elevation_deg: clip of the elevation angle, degrees.
        max_roll_deg: maximal absolute roll, degrees.
        principal_point_jitter: maximal principal-point offset, fraction of the image size.
        look_at_jitter: half-side of the look-at offset cube, in body heights.
    """

    fov_deg: tuple[float, float] = (15.0, 90.0)
    image_sizes: tuple[tuple[int, int], ...] = field(default_factory=lambda: DEFAULT_IMAGE_SIZES)
    height_fraction: tuple[float, float] = (0.3, 1.1)
    camera_height: tuple[float, float] = (-0.4, 0.7)
    max_elevation_deg: float = 45.0
    max_roll_deg: float = 10.0
    principal_point_jitter: float = 0.05
    look_at_jitter: float = 0.1

    def __post_init__(self) -> None:
        lo, hi = self.fov_deg
        if not 0 < lo <= hi < 180:
            raise ValueError(f"fov_deg must satisfy 0 < lo <= hi < 180, got {self.fov_deg}")
        if not 0 < self.height_fraction[0] <= self.height_fraction[1]:
            raise ValueError(f"height_fraction must be positive and ordered, got {self.height_fraction}")
        if len(self.image_sizes) == 0:
            raise ValueError("image_sizes is empty")
        if not 0 <= self.max_elevation_deg < 90:
            raise ValueError(f"max_elevation_deg must be in [0, 90), got {self.max_elevation_deg}")
        for size in self.image_sizes:
            if len(size) != 2 or not all(math.isfinite(v) and v > 0 for v in size):
                raise ValueError(f"image_sizes must be positive (width, height) pixel pairs, got {size}")
        for name in ("principal_point_jitter", "look_at_jitter"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value}")

    def sample(self, centers: Tensor, heights: Tensor, generator: torch.Generator) -> Cameras:
        """Draw one camera per person.

        Args:
            centers: ``(N, 3)`` person centres, body frame, metres.
            heights: ``(N,)`` person heights, metres.
            generator: on the device of ``centers``.

        Returns:
            :class:`Cameras` of length ``N`` on the device (and float dtype) of ``centers``.
        """
        if centers.ndim != 2 or centers.shape[-1] != 3:
            raise ValueError(f"centers must have shape (N, 3), got {tuple(centers.shape)}")
        n = centers.shape[0]
        if tuple(heights.shape) != (n,):
            raise ValueError(f"heights must have shape (N={n},) like centers, got {tuple(heights.shape)}")
        heights = heights.to(centers)
        check_generator(generator, centers.device)
        g, like = generator, centers

        # 1-3 intrinsics
        sizes = torch.tensor(self.image_sizes, dtype=like.dtype, device=like.device)
        choice = torch.randint(len(self.image_sizes), (n,), generator=g, device=like.device)
        size = sizes[choice]  # (N, 2)
        w, h = size.unbind(-1)
        fov = torch.deg2rad(_uniform(*self.fov_deg, n, g, like))
        f = h / (2 * torch.tan(fov / 2))
        pp = (size - 1) / 2 + self.principal_point_jitter * size * (
            2 * torch.rand(n, 2, generator=g, device=like.device, dtype=like.dtype) - 1
        )
        K = torch.zeros(n, 3, 3, dtype=like.dtype, device=like.device)
        K[:, 0, 0] = f
        K[:, 1, 1] = f
        K[:, 0, 2] = pp[:, 0]
        K[:, 1, 2] = pp[:, 1]
        K[:, 2, 2] = 1

        # 4-7 placement
        offset = self.look_at_jitter * heights[:, None] * (
            2 * torch.rand(n, 3, generator=g, device=like.device, dtype=like.dtype) - 1
        )
        target = centers + offset
        fraction = _uniform(*self.height_fraction, n, g, like)
        distance = f * heights / (fraction * h)
        dy = _uniform(*self.camera_height, n, g, like) * heights
        max_sin = math.sin(math.radians(self.max_elevation_deg))
        elevation = torch.asin((dy / distance).clamp(-max_sin, max_sin))
        azimuth = _uniform(0.0, 2 * math.pi, n, g, like)
        roll = torch.deg2rad(_uniform(-self.max_roll_deg, self.max_roll_deg, n, g, like))

        # unit vector from the target to the camera
        direction = torch.stack(
            [torch.cos(elevation) * torch.sin(azimuth), torch.sin(elevation), torch.cos(elevation) * torch.cos(azimuth)],
            -1,
        )
        position = target + distance[:, None] * direction
        R = look_at_rotation(position, target, roll)
        t = -(R @ position[..., None])[..., 0]
        return Cameras(K=K, R=R, t=t, image_size=size)


def look_at_rotation(position: Tensor, target: Tensor, roll: Tensor | None = None) -> Tensor:
    """Body -> OpenCV camera rotation of cameras at ``position`` looking at ``target``.

    Args:
        position: ``(N, 3)`` camera centres, body frame (Y up), metres.
        target: ``(N, 3)`` look-at points, body frame, metres.
        roll: ``(N,)`` radians, rotation about the optical axis applied in camera
            coordinates (``R <- R_z(roll) @ R``; ``R_z(a) = [[cos a, -sin a, 0],
            [sin a, cos a, 0], [0, 0, 1]]``), or ``None`` for no roll.

    Returns:
        ``(N, 3, 3)`` rotation ``R`` (det +1) whose rows are the camera's x (right),
        y (down) and z (forward) axes in body coordinates; for ``roll = 0`` the
        camera's y axis is the world's -Y projected onto the image plane.
        Undefined when looking straight up or down.
    """
    z = torch.nn.functional.normalize(target - position, dim=-1)
    up = torch.zeros_like(z)
    up[:, 1] = 1
    x = torch.nn.functional.normalize(torch.cross(z, up, dim=-1), dim=-1)  # right
    y = torch.cross(z, x, dim=-1)  # down
    R = torch.stack([x, y, z], dim=1)
    if roll is not None:
        c, s = torch.cos(roll), torch.sin(roll)
        zero, one = torch.zeros_like(c), torch.ones_like(c)
        R_roll = torch.stack([c, -s, zero, s, c, zero, zero, zero, one], -1).reshape(-1, 3, 3)
        R = R_roll @ R
    return R
