"""``lift``: 2D keypoints from any detector -> a placed 3D pose and body mesh.

>>> from pose2mesh import lift
>>> result = lift(keypoints, layout="coco", image_size=(1920, 1080))  # doctest: +SKIP
>>> result.vertices.shape, result.joints.shape, result.translation.shape  # doctest: +SKIP
((1, 12272, 3), (1, 17, 3), (1, 3))
>>> result.save("person.obj")  # doctest: +SKIP

Conventions
-----------
* Input keypoints: PIXELS, OpenCV image axes (``u`` right, ``v`` down, the
  centre of the top-left pixel at ``(0, 0)``), ``(J, 2|3)`` or ``(N, J, 2|3)``
  in a named layout (:mod:`pose2mesh.joints`); a third column is the
  detector's confidence.  A keypoint is *absent* -- and not used -- when a
  coordinate is not finite, its confidence is ``<= 0`` or below
  ``min_confidence``, or it lies outside the image ``[-0.5, W - 0.5] x
  [-0.5, H - 0.5]`` (when ``image_size`` is known).  The networks mask
  absent keypoints (presence 0); they are never zero-filled.
* Outputs: NUMPY arrays (float32 unless stated) in METRES in the CAMERA
  frame, OpenCV axes (x right, y down, z forward), placed so that the mesh's
  keypoints reproject onto the input (:mod:`pose2mesh.camera`).  The *root*
  is the mesh's superset ``pelvis`` (for COCO input, the midpoint of the
  hips); ``translation`` is the root's camera-frame position and
  ``*_rel`` arrays are root-relative.  A single ``(J, D)`` input gives
  ``N = 1``: arrays always keep the leading ``N``.
* Camera: ``K`` if given; else square pixels, principal point at the image
  centre, and ``focal_length`` or -- when neither is given -- a field of
  view of :data:`pose2mesh.camera.DEFAULT_FOV_DEG` (60) degrees across the
  longer image side (``result.focal_assumed`` is then True, a warning is
  logged and ``result.notes`` says so).  Only the distance to the camera
  depends on that guess: the root-relative pose and mesh do not.  A given
  ``K`` or ``focal_length`` also informs the pose of a model with camera
  input (the shipped one; ``docs/models.md``): it then knows how obliquely
  and how close the person is seen, and lifts more accurately.
* ``image_size`` is required unless ``K`` is given (it defines the principal
  point and the default focal length).
"""
from __future__ import annotations

import functools
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from pose2mesh import joints as _joints
from pose2mesh._device import checked_device
from pose2mesh.camera import DEFAULT_FOV_DEG, default_intrinsics, project_points, solve_translation
from pose2mesh.camera.placement import _image_size

#: The units of :meth:`LiftResult.to_dict` (and of ``joints.json``).
UNITS = "metres; camera frame, OpenCV axes (x right, y down, z forward); 2D in pixels"

__all__ = ["lift", "Lifter", "LiftResult", "usable_keypoints", "liftable", "DEFAULT_MODEL", "MESH_FORMATS", "DATA_FORMATS"]

logger = logging.getLogger(__name__)

#: File name of the shipped default model in the assets folder (``graphs/``).
DEFAULT_MODEL = "model_default.pt"

#: :meth:`LiftResult.save` extensions written as meshes (one file per person) through trimesh.
MESH_FORMATS = (".obj", ".ply", ".glb")
#: :meth:`LiftResult.save` extensions written as one data file for all people.
DATA_FORMATS = (".npz", ".json")

_warned_focal = False  # the assumed-focal warning is logged once per process


@dataclass
class LiftResult:
    """What :func:`lift` returns for ``N`` people / frames.

    All arrays are numpy, on the CPU; positions are metres in the camera frame
    (OpenCV: x right, y down, z forward), pixels for 2D.

    Attributes:
        vertices: ``(N, V, 3)`` float32 placed mesh vertices (``V = 12272``).
        joints: ``(N, J, 3)`` float32 placed keypoints of the input layout,
            regressed from the mesh (NaN for a keypoint the body cannot provide).
        faces: ``(F, 3)`` int64 triangles (shared by every person).
        translation: ``(N, 3)`` float32 camera-frame position of the root
            (superset pelvis): ``vertices = vertices_rel + translation[:, None]``.
        K: ``(N, 3, 3)`` float32 intrinsics used for the placement, pixels.
        layout: the input layout's name; ``joints`` follows it.
        keypoints: ``(N, J, 2)`` float32 input keypoints, pixels (as given).
        used: ``(N, J)`` bool, the input keypoints the model and the placement used.
        reprojected: ``(N, J, 2)`` float32 projection of ``joints`` with ``K``, pixels.
        reprojection_error: ``(N,)`` float32 mean distance (pixels) between
            ``reprojected`` and ``keypoints`` over the used keypoints.
        focal_assumed: True when no focal length or ``K`` was given and the
            default field of view was assumed (absolute depth is then a guess).
        image_size: ``(W, H)`` pixels, or None when only ``K`` was given.
        joints_superset: ``(N, 52, 3)`` float32 placed superset keypoints
            regressed from the mesh (the source of :meth:`joints_in`).
        notes: human-readable remarks (assumptions made, keypoints dropped).
    """

    vertices: np.ndarray
    joints: np.ndarray
    faces: np.ndarray
    translation: np.ndarray
    K: np.ndarray
    layout: str
    keypoints: np.ndarray
    used: np.ndarray
    reprojected: np.ndarray
    reprojection_error: np.ndarray
    focal_assumed: bool
    image_size: tuple[float, float] | None
    joints_superset: np.ndarray
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.vertices.shape[0])

    def __repr__(self) -> str:
        return (f"LiftResult(N={len(self)}, layout='{self.layout}', vertices={tuple(self.vertices.shape)}, "
                f"focal_assumed={self.focal_assumed}, reprojection_error_px="
                f"{np.round(self.reprojection_error, 2).tolist()})")

    def select(self, index) -> "LiftResult":
        """The result of a subset of the people: ``index`` is an int, a slice, indices or a bool mask over ``N``."""
        idx = np.arange(len(self))[index]
        idx = np.atleast_1d(idx)
        per_person = ("vertices", "joints", "translation", "K", "keypoints", "used", "reprojected",
                      "reprojection_error", "joints_superset")
        return LiftResult(**{k: getattr(self, k)[idx] for k in per_person}, faces=self.faces, layout=self.layout,
                          focal_assumed=self.focal_assumed, image_size=self.image_size, notes=list(self.notes))

    @property
    def vertices_rel(self) -> np.ndarray:
        """``(N, V, 3)`` root-relative vertices (root = superset pelvis at 0), metres, camera axes."""
        return self.vertices - self.translation[:, None]

    @property
    def joints_rel(self) -> np.ndarray:
        """``(N, J, 3)`` root-relative keypoints of the input layout, metres, camera axes."""
        return self.joints - self.translation[:, None]

    def joints_in(self, layout: str, root_relative: bool = False) -> np.ndarray:
        """Keypoints of any layout (:func:`pose2mesh.joints.list_layouts`) regressed from the mesh.

        Args:
            layout: e.g. ``"h36m"``, ``"smpl24"``.
            root_relative: subtract ``translation`` (root at the origin).

        Returns:
            ``(N, J_layout, 3)`` float32 metres, camera frame; NaN rows for
            keypoints the body cannot provide.

        Raises:
            ValueError: unknown layout (the message lists the valid ones).
        """
        mix = _joints.conversion_matrix("superset", layout).astype(np.float32)
        out = np.einsum("js,nsc->njc", mix, self.joints_superset)
        out[:, ~mix.any(1)] = np.nan
        return out - self.translation[:, None] if root_relative else out

    def save(self, path: str | Path) -> list[Path]:
        """Write the result; the format follows the extension.

        * ``.obj`` / ``.ply`` / ``.glb``: the placed mesh through trimesh, in
          camera coordinates (OpenCV, y DOWN: most viewers are y-up and show
          the body upside down).  One file per person: ``path`` itself when
          ``N == 1``, else ``stem_000.ext``, ``stem_001.ext``, ... (index
          zero-padded to at least 3 digits).
        * ``.npz``: every array of the result (plus ``layout``, ``notes``,
          ``image_size``), one file.
        * ``.json``: everything but the mesh (``vertices``, ``faces``):
          keypoints, camera, placement and reprojection errors per person.

        Returns:
            the paths written.

        Raises:
            ValueError: another extension (the message lists the valid ones).
        """
        path = Path(path)
        ext = path.suffix.lower()
        if ext not in MESH_FORMATS + DATA_FORMATS:
            raise ValueError(f"cannot save '{path.name}': unknown extension '{path.suffix}'; "
                             f"choose one of: {', '.join(MESH_FORMATS + DATA_FORMATS)}")
        path.parent.mkdir(parents=True, exist_ok=True)
        if ext in MESH_FORMATS:
            import trimesh

            n = len(self)
            width = max(3, len(str(n - 1)))
            paths = [path] if n == 1 else [path.with_name(f"{path.stem}_{i:0{width}d}{path.suffix}") for i in range(n)]
            for verts, p in zip(self.vertices, paths):
                trimesh.Trimesh(verts, self.faces, process=False).export(p)
            return paths
        if ext == ".npz":
            from pose2mesh._assets import write_npz

            arrays = {k: getattr(self, k) for k in ("vertices", "joints", "faces", "translation", "K", "keypoints",
                                                    "used", "reprojected", "reprojection_error", "joints_superset")}
            arrays.update(layout=np.array(self.layout), notes=np.array(self.notes, dtype=str),
                          focal_assumed=np.array(self.focal_assumed),
                          image_size=np.array(self.image_size if self.image_size else (np.nan, np.nan)))
            write_npz(path, arrays)
            return [path]
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return [path]

    def overlay(self, image: np.ndarray | None = None, keypoints: bool = True, alpha: float = 0.85,
                color=(0.65, 0.74, 0.86)) -> np.ndarray:
        """Render every person's mesh over the image, with the input keypoints.

        Headless (:func:`pose2mesh.render.render_mesh`); people are painted from
        the farthest to the nearest, each with its own ``K``.

        Args:
            image: ``(H, W, 3)`` uint8 background, or None for a white one of ``image_size``.
            keypoints: also draw the used input keypoints and the layout's skeleton.
            alpha: opacity of the meshes.
            color: mesh colour, RGB in ``[0, 1]``.

        Returns:
            ``(H, W, 3)`` uint8.

        Raises:
            ValueError: no image and no ``image_size``, or an image that is not ``(H, W, 3)`` uint8.
        """
        from pose2mesh.render import draw_keypoints, render_mesh

        if image is None:
            if self.image_size is None:
                raise ValueError("overlay() needs an image or a result with image_size")
            w, h = (int(round(s)) for s in self.image_size)
            rgb = np.full((h, w, 3), 255, dtype=np.uint8)
        else:
            rgb = np.asarray(image)
            if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
                raise ValueError(f"image must be (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
            h, w = rgb.shape[:2]
        for i in np.argsort(-self.translation[:, 2], kind="stable"):
            rgb, _, _ = render_mesh(self.vertices[i], self.faces, self.K[i], (w, h), image=rgb, color=color,
                                    alpha=alpha)
        if keypoints:
            edges = _joints.get_layout(self.layout).edges
            radius = max(2, round(min(w, h) / 200))
            for i in range(len(self)):
                rgb = draw_keypoints(rgb, self.keypoints[i], confidence=self.used[i].astype(np.float32),
                                     edges=edges, radius=radius)
        return rgb

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of everything but the mesh (what ``save("x.json")`` writes).

        NaN (a keypoint the body cannot provide) becomes ``None``.
        """
        def plain(a: np.ndarray):
            return [plain(x) for x in a] if a.ndim else (None if not np.isfinite(a) else round(float(a), 6))

        people = [
            {
                "joints": plain(self.joints[i]),
                "translation": plain(self.translation[i]),
                "K": plain(self.K[i]),
                "keypoints": plain(self.keypoints[i]),
                "used": self.used[i].tolist(),
                "reprojected": plain(self.reprojected[i]),
                "reprojection_error_px": plain(self.reprojection_error[i]),
            }
            for i in range(len(self))
        ]
        return {
            "layout": self.layout,
            "keypoint_names": list(_joints.get_layout(self.layout).names),
            "units": UNITS,
            "image_size": list(self.image_size) if self.image_size else None,
            "focal_assumed": self.focal_assumed,
            "notes": list(self.notes),
            "people": people,
        }


def _to_numpy(x, name: str) -> np.ndarray:
    """float64 numpy array from numpy / torch / nested sequences."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric numpy array or torch tensor, got {type(x).__name__}") from err
    return arr


def _check_keypoints(keypoints, layout: str, confidence) -> tuple[np.ndarray, np.ndarray, str]:
    """Validate the input -> ``(xy (N, J, 2), conf (N, J), layout name)``."""
    lay = _joints.get_layout(layout)  # ValueError listing the valid layouts
    kp = _to_numpy(keypoints, "keypoints")
    if kp.ndim == 2:
        kp = kp[None]
    if kp.ndim != 3 or kp.shape[-1] not in (2, 3):
        raise ValueError(f"keypoints must have shape (J, 2|3) or (N, J, 2|3) (pixels, optional confidence "
                         f"column), got {kp.shape}")
    n, j, d = kp.shape
    if j != lay.num_joints:
        fits = [name for name in _joints.list_layouts() if _joints.get_layout(name).num_joints == j]
        hint = f"; layouts with {j} keypoints: {', '.join(fits)}" if fits else ""
        raise ValueError(f"layout '{lay.name}' has {lay.num_joints} keypoints but keypoints have {j} "
                         f"(shape {kp.shape}){hint}")
    if n == 0:
        raise ValueError("keypoints hold no person / frame (N = 0)")
    if confidence is not None:
        if d == 3:
            raise ValueError("confidence was given twice: keypoints have a third (confidence) column and "
                             "confidence= was passed; drop one")
        conf = _to_numpy(confidence, "confidence")
        if conf.shape not in ((j,), (n, j)):
            raise ValueError(f"confidence must have shape ({j},) or ({n}, {j}), got {conf.shape}")
        conf = np.broadcast_to(conf, (n, j))
    else:
        conf = kp[..., 2] if d == 3 else np.ones((n, j))
    return kp[..., :2], np.asarray(conf, dtype=np.float64), lay.name


def _check_camera(n: int, image_size, focal_length, K) -> tuple[np.ndarray, tuple[float, float] | None, bool]:
    """Validate the camera arguments -> ``(K (N, 3, 3) float64, (W, H) or None, focal_assumed)``."""
    size = _image_size(image_size) if image_size is not None else None
    if size is not None:  # keep integer sizes integers (as given, for the JSON output)
        size = tuple(int(v) if float(v).is_integer() else v for v in size)
    if K is not None:
        if focal_length is not None:
            raise ValueError("give either focal_length or K, not both")
        Ka = _to_numpy(K, "K")
        if Ka.shape not in ((3, 3), (n, 3, 3)):
            raise ValueError(f"K must be a 3x3 intrinsic matrix (or ({n}, 3, 3), one per person), got shape {Ka.shape}")
        Ka = np.broadcast_to(Ka, (n, 3, 3)).copy()
        if not np.isfinite(Ka).all():
            raise ValueError("K must be finite")
        if not np.allclose(Ka[:, 2], [0.0, 0.0, 1.0]) or not np.allclose(Ka[:, 1, 0], 0.0):
            raise ValueError("K must be an upper-triangular pinhole matrix [[fx, s, cx], [0, fy, cy], [0, 0, 1]]")
        if (Ka[:, 0, 0] <= 0).any() or (Ka[:, 1, 1] <= 0).any():
            raise ValueError("K must have positive focal lengths fx = K[0, 0] and fy = K[1, 1]")
        return Ka, size, False
    if size is None:
        raise ValueError("image_size=(width, height) in pixels is required unless K is given: it defines the "
                         "principal point (image centre) and the default focal length")
    if focal_length is not None:
        f = np.asarray(focal_length, dtype=np.float64)
        if f.size != 1 or not np.isfinite(f).all() or f.item() <= 0:
            raise ValueError(f"focal_length must be a finite positive number of pixels, got {focal_length!r}")
        focal_length = f.item()
    Kd = default_intrinsics(size, focal_length)
    return np.broadcast_to(Kd, (n, 3, 3)).copy(), size, focal_length is None


def _used_mask(xy: np.ndarray, conf: np.ndarray, min_confidence: float,
               size: tuple[float, float] | None) -> np.ndarray:
    """``(N, J)`` bool: finite, confident enough and (when the size is known) inside the image."""
    with np.errstate(invalid="ignore"):
        used = np.isfinite(xy).all(-1) & np.isfinite(conf) & (conf > 0) & (conf >= min_confidence)
        if size is not None:
            w, h = size
            used &= (xy[..., 0] >= -0.5) & (xy[..., 0] <= w - 0.5) & (xy[..., 1] >= -0.5) & (xy[..., 1] <= h - 0.5)
    return used


def _coincident(xy: np.ndarray, used: np.ndarray, tol_px: float = 1e-3) -> np.ndarray:
    """``(N,)`` bool: samples with >= 2 used keypoints that all lie within ``tol_px`` of one image position.

    Their depth cannot be placed: two coinciding keypoints give the same two
    equations, too few for the three unknowns of the translation.
    """
    m = used[..., None]
    spread = np.where(m, xy, -np.inf).max(-2) - np.where(m, xy, np.inf).min(-2)  # (N, 2); -inf without used ones
    return (used.sum(-1) >= 2) & (spread.max(-1) < tol_px)


def usable_keypoints(keypoints, layout: str = "coco", image_size: Sequence[float] | None = None,
                     confidence=None, min_confidence: float = 0.3) -> np.ndarray:
    """Which keypoints :func:`lift` would use, without running a model.

    Args:
        keypoints, layout, image_size, confidence, min_confidence: as :func:`lift`.

    Returns:
        ``(N, J)`` bool (``N = 1`` for a single ``(J, D)`` input); a sample
        needs at least 2 usable keypoints, not all at one image position, to
        be lifted (:func:`liftable`).
    """
    xy, conf, _ = _check_keypoints(keypoints, layout, confidence)
    size = _image_size(image_size) if image_size is not None else None
    return _used_mask(xy, conf, _check_min_confidence(min_confidence), size)


def liftable(keypoints, layout: str = "coco", image_size: Sequence[float] | None = None,
             confidence=None, min_confidence: float = 0.3) -> np.ndarray:
    """Which samples :func:`lift` can place, without running a model.

    A sample needs at least 2 usable keypoints (:func:`usable_keypoints`) at
    distinct image positions: fewer leave its distance to the camera open.
    Lifting only these rows never fails on their keypoints.

    Args:
        keypoints, layout, image_size, confidence, min_confidence: as :func:`lift`.

    Returns:
        ``(N,)`` bool.
    """
    xy, _, _ = _check_keypoints(keypoints, layout, confidence)
    used = usable_keypoints(keypoints, layout, image_size, confidence, min_confidence)
    return (used.sum(-1) >= 2) & ~_coincident(xy, used)


def _check_min_confidence(min_confidence: float) -> float:
    try:
        mc = float(min_confidence)
    except (TypeError, ValueError):
        mc = math.nan
    if not math.isfinite(mc) or mc < 0:
        raise ValueError(f"min_confidence must be a finite number >= 0, got {min_confidence!r}")
    return mc


class Lifter:
    """A loaded model: call it like :func:`lift`, as often as needed.

    Args:
        model: a :class:`pose2mesh.models.Pose2MeshNet` (eval mode).
        body: the body it was trained with (faces; superset regressor of ``model``).
        checkpoint: metadata of the checkpoint (``pose2mesh_version``, ``step``, ...), for ``repr``.
        batch_size: people per forward pass.

    Use :meth:`from_pretrained` (the shipped default model) or
    :meth:`from_checkpoint`.
    """

    def __init__(self, model: torch.nn.Module, body, checkpoint: dict | None = None, batch_size: int = 256) -> None:
        self.model = model.eval()
        self.body = body
        self.faces = body.faces.detach().cpu().numpy().astype(np.int64)
        self.checkpoint = dict(checkpoint or {})
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self._mirror = None  # the body's vertex mirror permutation, made on the first flip test
        self._snap_weights = None  # (V, S) anchoring weights of the body's template, made on the first snap

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: torch.device | str | None = None) -> "Lifter":
        """Load a training checkpoint (``best.pt``) checked against the shipped body and hierarchy.

        Args:
            path: the ``.pt`` file (:mod:`pose2mesh.models.checkpoint` format).
            device: where to run (default CPU).

        Raises:
            FileNotFoundError: no such file.
            pose2mesh.models.checkpoint.CheckpointError: another format or other assets.
            ValueError: an unknown device, or CUDA where this machine has none.
        """
        from pose2mesh.body.open_body import OpenBody
        from pose2mesh.models.checkpoint import load_model

        device = checked_device(device) if device is not None else None
        body = OpenBody.load(device=device)
        model, ckpt = load_model(path, device=device, body=body)
        meta = {k: ckpt[k] for k in ("pose2mesh_version", "step", "best") if k in ckpt}
        meta["path"] = str(path)
        return cls(model, body, meta)

    @classmethod
    def from_pretrained(cls, device: torch.device | str | None = None) -> "Lifter":
        """The shipped default model (``graphs/model_default.pt``).

        Raises:
            FileNotFoundError: the file is not installed (message says how to get one).
        """
        from pose2mesh._assets import assets_dir

        path = assets_dir() / DEFAULT_MODEL
        if not path.is_file():
            raise FileNotFoundError(
                f"the shipped default model '{DEFAULT_MODEL}' was not found in {path.parent}. It ships with "
                "pose2mesh releases; in a source checkout train one (`pose2mesh train experiments/default.yaml`) "
                f"and copy its best.pt to graphs/{DEFAULT_MODEL}, point $POSE2MESH_ASSETS to a folder holding it, "
                "or load a checkpoint with Lifter.from_checkpoint(path)."
            )
        return cls.from_checkpoint(path, device=device)

    @classmethod
    def untrained(cls, preset: str = "smoke", seed: int = 0, device: torch.device | str | None = None) -> "Lifter":
        """A lifter with randomly initialised weights of a model preset (no file needed).

        For tests and for wiring up a pipeline before a model is available:
        its poses and meshes are meaningless.

        Args:
            preset: :data:`pose2mesh.models.PRESETS` name.
            seed: seed of the weight initialisation.
            device: where to run (default CPU).
        """
        from pose2mesh._assets import asset_path
        from pose2mesh.body.open_body import OpenBody
        from pose2mesh.graph import load_hierarchy
        from pose2mesh.graph.build import DEFAULT_FILE
        from pose2mesh.models.lifter import build_model

        device = checked_device(device) if device is not None else None
        body = OpenBody.load(device=device)
        with torch.random.fork_rng(devices=[]):  # seeded, without touching the caller's RNG state
            torch.manual_seed(seed)
            model = build_model(preset, load_hierarchy(asset_path(DEFAULT_FILE)), body.regressor_superset.float(),
                                device=device, template=body.v_template).float()  # whatever the default dtype
        return cls(model, body, {"path": f"<untrained {preset}, seed {seed}>"})

    @property
    def device(self) -> torch.device:
        """The device the model runs on."""
        return next(self.model.parameters()).device

    def to(self, device: torch.device | str) -> "Lifter":
        """Move the model and body to ``device`` (in place); returns self.

        Raises:
            ValueError: an unknown device, or CUDA where this machine has none.
        """
        device = checked_device(device)
        self.model.to(device)
        self.body.to(device)
        return self

    def _vertex_mirror(self) -> torch.Tensor:
        """The body's left/right vertex permutation for the flip test (computed once, ~10 ms)."""
        from pose2mesh.models.flip import mirror_permutation

        if self._mirror is None:
            self._mirror = mirror_permutation(self.body.v_template)
        if self._mirror.device != self.device:  # moved once, not copied on every call
            self._mirror = self._mirror.to(self.device)
        return self._mirror

    def _snap_anchor(self) -> torch.Tensor:
        """``(V, S)`` weights that spread keypoint offsets over the vertices when snapping (computed once)."""
        from pose2mesh.models.lifter import anchor_weights
        from pose2mesh.models.snap import SNAP_SIGMA

        if self._snap_weights is None:
            self._snap_weights = anchor_weights(self.body.v_template, self.model.regressor, SNAP_SIGMA)
        if self._snap_weights.device != self.device:
            self._snap_weights = self._snap_weights.to(self.device)
        return self._snap_weights

    def __repr__(self) -> str:
        info = ", ".join(f"{k}={self.checkpoint[k]!r}" for k in ("path", "step") if k in self.checkpoint)
        return f"Lifter({info}{', ' if info else ''}device='{self.device}')"

    def __call__(
        self,
        keypoints,
        layout: str = "coco",
        image_size: Sequence[float] | None = None,
        focal_length: float | None = None,
        K=None,
        confidence=None,
        min_confidence: float = 0.3,
        device: torch.device | str | None = None,
        flip: bool = False,
        snap: bool = False,
    ) -> LiftResult:
        """Lift keypoints to placed 3D keypoints and meshes; arguments as :func:`lift`.

        ``device``, if given, moves this lifter there first.
        """
        if device is not None and checked_device(device) != self.device:
            self.to(device)
        xy, conf, layout = _check_keypoints(keypoints, layout, confidence)
        n, j = conf.shape
        mc = _check_min_confidence(min_confidence)
        Ks, size, focal_assumed = _check_camera(n, image_size, focal_length, K)
        used = _used_mask(xy, conf, mc, size)
        count = used.sum(-1)
        for bad, what in ((count == 0, "all keypoints are absent"), (count == 1, "only 1 keypoint is usable")):
            idx = np.flatnonzero(bad).tolist()
            if idx:
                raise ValueError(
                    f"{what} in sample(s) {idx[:10]}{' ...' if len(idx) > 10 else ''} (a keypoint is absent when "
                    f"non-finite, with confidence <= 0 or < min_confidence={mc:g}, or outside the image); "
                    "at least 2 are needed to place the body"
                )
        idx = np.flatnonzero(_coincident(xy, used)).tolist()
        if idx:
            raise ValueError(
                f"the usable keypoints of sample(s) {idx[:10]}{' ...' if len(idx) > 10 else ''} all lie at one image "
                "position: their distance to the camera cannot be placed (at least 2 distinct positions are needed)"
            )
        notes = []
        if focal_assumed:
            f = Ks[0, 0, 0]
            notes.append(f"no focal_length or K given: assumed a {DEFAULT_FOV_DEG:g} deg field of view across the "
                         f"longer image side (f = {f:.1f} px); the distance to the camera scales with this guess")
            # once per process at WARNING (a video loop would repeat it every frame), then at DEBUG
            global _warned_focal
            logger.log(logging.DEBUG if _warned_focal else logging.WARNING, notes[-1])
            _warned_focal = True
        if np.abs(xy[used]).max() <= 1.5:
            notes.append("every used keypoint lies within 1.5 px of the image origin: these look like normalised "
                         "coordinates; lift expects pixels (multiply x by the image width, y by its height)")
            logger.warning(notes[-1])
        with np.errstate(invalid="ignore"):
            dropped = int((np.isfinite(xy).all(-1) & (conf > 0) & ~used).sum())
        if dropped > 0:
            notes.append(f"{dropped} keypoint(s) with a finite position ignored (low confidence or outside the image)")

        # network input: absent keypoints get NaN and confidence 0 (to_superset masks them)
        kp_in = np.concatenate([np.where(used[..., None], xy, np.nan), np.where(used, conf, 0.0)[..., None]], -1)
        dev = self.device
        mix = torch.as_tensor(_joints.conversion_matrix("superset", layout), dtype=torch.float32, device=dev)
        derivable = mix.any(1)
        verts_out, sup_out, t_out = [], [], []
        chunks = range(0, n, self.batch_size)
        if len(chunks) > 1:
            from tqdm import tqdm

            chunks = tqdm(chunks, desc="lift", unit="batch", leave=False, disable=None)
        if flip:
            from pose2mesh.models.flip import flip_test

            mirror = self._vertex_mirror()
        if snap:
            from pose2mesh.models.snap import copied_keypoints, snap_to_keypoints

            snap_anchor, copied = self._snap_anchor(), copied_keypoints(layout).to(dev)
        with torch.inference_mode():
            for s in chunks:
                e = min(s + self.batch_size, n)
                superset, presence = _joints.to_superset(
                    torch.as_tensor(kp_in[s:e], dtype=torch.float32, device=dev), layout)
                K_pix = torch.as_tensor(Ks[s:e], device=dev)  # (B, 3, 3) float64
                Kb = None if focal_assumed else K_pix.float()  # an assumed focal length is not the network's input
                out = (flip_test(self.model, superset, presence, K=Kb, vertex_mirror=mirror) if flip
                       else self.model(superset, presence, K=Kb))
                # (B, V | 52, 3) root-relative; float32 whatever the model's dtype (e.g. after .double())
                verts, sup_rel = out["vertices"].float(), out["joints_mesh"].float()
                if snap:
                    verts = snap_to_keypoints(verts, superset, presence * copied, K_pix, self.model.regressor,
                                              snap_anchor)
                    sup_rel = self.model.regress(verts)
                lay_rel = torch.einsum("js,bsc->bjc", mix, sup_rel)
                lay_rel = torch.where(derivable[:, None], lay_rel, torch.full_like(lay_rel, math.nan))
                w = torch.as_tensor(np.where(used[s:e], np.minimum(conf[s:e], 1.0), 0.0), device=dev)
                t = solve_translation(lay_rel.double(), torch.as_tensor(xy[s:e], device=dev), K_pix, weights=w)
                verts_out.append((verts.double() + t[:, None]).float().cpu())
                sup_out.append((sup_rel.double() + t[:, None]).float().cpu())
                t_out.append(t.cpu())
        t = torch.cat(t_out)
        joints_superset = torch.cat(sup_out).numpy()
        joints = np.einsum("js,nsc->njc", mix.cpu().numpy(), joints_superset)
        joints[:, ~derivable.cpu().numpy()] = np.nan
        reproj = project_points(torch.as_tensor(joints, dtype=torch.float64), torch.as_tensor(Ks)).numpy()
        err = np.linalg.norm(reproj - xy, axis=-1)
        err = np.where(used, err, 0.0).sum(-1) / count
        return LiftResult(
            vertices=torch.cat(verts_out).numpy(),
            joints=joints.astype(np.float32),
            faces=self.faces,
            translation=t.numpy().astype(np.float32),
            K=Ks.astype(np.float32),
            layout=layout,
            keypoints=xy.astype(np.float32),
            used=used,
            reprojected=reproj.astype(np.float32),
            reprojection_error=err.astype(np.float32),
            focal_assumed=focal_assumed,
            image_size=size,
            joints_superset=joints_superset,
            notes=notes,
        )


@functools.lru_cache(maxsize=4)
def _default_lifter(device: str) -> Lifter:
    return Lifter.from_pretrained(device=device)


def lift(
    keypoints,
    layout: str = "coco",
    image_size: Sequence[float] | None = None,
    focal_length: float | None = None,
    K=None,
    confidence=None,
    min_confidence: float = 0.3,
    device: torch.device | str | None = None,
    flip: bool = False,
    snap: bool = False,
) -> LiftResult:
    """Lift 2D keypoints to a 3D pose and body mesh placed in the camera frame.

    Uses the shipped default model, loaded once per device and cached
    (:meth:`Lifter.from_pretrained`); load a :class:`Lifter` yourself for
    another checkpoint.  See the module docstring for the conventions.

    Args:
        keypoints: ``(J, 2|3)`` or ``(N, J, 2|3)`` pixels (x right, y down), numpy
            or torch; the optional third column is the detector confidence.
            ``N`` people or frames are lifted independently in one call.
        layout: the keypoints' layout: ``coco``, ``openpose25``, ``h36m``,
            ``blazepose33``, ... (:func:`pose2mesh.joints.list_layouts`).
        image_size: ``(W, H)`` pixels; required unless ``K`` is given.
            Keypoints outside the image are ignored.
        focal_length: ``fx = fy`` in pixels (principal point at the image centre).
        K: ``(3, 3)`` or ``(N, 3, 3)`` intrinsics instead of ``focal_length``.
        confidence: ``(J,)`` or ``(N, J)`` scores for 2-column keypoints (not
            with a third column).
        min_confidence: keypoints with a lower confidence are ignored.
        device: where to run the model (default CPU).
        flip: also lift the mirror image of the keypoints and average the two
            (:func:`pose2mesh.models.flip_test`): 1-2 mm lower MPJPE and MPVPE
            on the shipped model's test sets, for a second pass through the
            network (about 1.2x the time of a batch-1 lift on a CPU).
        snap: move the mesh so that its keypoints reproject onto the input
            keypoints (:func:`pose2mesh.models.snap_to_keypoints`). For EXACT
            keypoints only (synthetic, projected markers, careful annotation):
            on the shipped model's ground-truth-2D test ~3 mm lower MPJPE and
            the keypoints on their input to 0.01 px (COCO-17; closely spaced
            keypoints of other layouts up to ~2 px); with detector keypoints it
            makes the 3D far worse (the mesh follows the detector's noise).

    Returns:
        :class:`LiftResult` (numpy arrays; metres, camera frame).

    Raises:
        ValueError: bad shapes, unknown layout, non-finite / non-positive image
            size or focal length, ``K`` not a 3x3 pinhole matrix, fewer than 2
            usable keypoints in a sample or all of them at one image position,
            an unknown device or CUDA where there is none (the message names
            what is wrong).
        FileNotFoundError: the shipped default model is not installed.
    """
    dev = str(checked_device(device)) if device is not None else "cpu"
    return _default_lifter(dev)(keypoints, layout=layout, image_size=image_size, focal_length=focal_length, K=K,
                                confidence=confidence, min_confidence=min_confidence, flip=flip, snap=snap)
