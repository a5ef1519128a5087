"""A headless software rasteriser with Lambert shading (numpy + pillow only).

Why this exists
---------------
We need mesh overlays and small "3D view" images on machines with no display
and no GPU.  The usual offline renderer, ``pyrender``, needs an OpenGL context
(a display, EGL or OSMesa), and nothing else in our allowed dependency set
renders a mesh without one, so this module does it on the CPU with numpy.  It
is meant for visualisation, not for differentiable rendering.

Conventions
-----------
* Camera: OpenCV -- x right, y down, z forward; vertices are given in camera
  coordinates, in metres; ``K`` is the 3x3 intrinsic matrix (pixels).
* Pixels: pixel ``(u, v)`` (column, row) has its centre at integer coordinates
  ``(u, v)``, as in OpenCV; a pixel is covered when its centre is inside the
  projected triangle (edges inclusive).  No anti-aliasing.
* Depth: the returned depth buffer holds camera ``z`` (metres, not the range
  along the ray), ``inf`` where no triangle was drawn.

How the rasteriser works (vectorised over triangles)
---------------------------------------------------
1. Project every vertex with ``K``; drop triangles with a vertex at
   ``z <= near`` (no near-plane clipping), with non-finite vertices, or with a
   degenerate (zero-area) projection.
2. Each remaining triangle gets the integer pixel bounding box of its projected
   vertices, clipped to the image.  The boxes are laid end to end as one long
   list of (triangle, pixel) candidate pairs: pair ``k`` belongs to triangle
   ``searchsorted(cumsum(box_areas), k)`` and its pixel is found from the offset
   within that box.  The list is processed in fixed-size slices, so memory stays
   bounded however large a triangle is on screen.
3. For every pair, the barycentric coordinates of the pixel centre come from
   three per-triangle affine edge functions (precomputed, so a pair costs a few
   gathers and multiply-adds); pairs outside the triangle are dropped.  Depth is
   interpolated perspective-correctly (``1/z`` is affine in screen space).
4. Z-buffer: inside a slice, ``np.lexsort((depth, pixel))`` puts the nearest
   candidate of every pixel first; those winners are then merged into the
   global buffers where they are nearer than what is already there.  The result
   does not depend on the order of the faces (exact depth ties aside).
5. Deferred shading: only the winning triangle of each pixel is shaded.  The
   normal is either the face normal (``shading="flat"``) or the vertex normals
   interpolated with perspective-correct barycentrics (``shading="smooth"``,
   the default), turned towards the camera (two-sided lighting, because meshes
   may be non-watertight and faces are not culled by default), and lit with
   Lambert's law plus an ambient term.  The default light is a headlight: it
   shines from the camera centre along each pixel's ray, so silhouettes darken
   and the body's shape reads clearly.

Cost grows with the number of (triangle, bounding-box pixel) pairs: on two CPU
cores at 640x480, the 24.5k-triangle default body renders in about 50 ms and a
24k-triangle sphere filling half the frame in 0.13-0.2 s
(``tests/render/test_raster.py`` prints the time).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["render_mesh", "draw_keypoints", "look_at_view", "save_png", "SHADING_MODES"]

#: valid values of ``render_mesh(shading=...)``.
SHADING_MODES = ("smooth", "flat")

#: value of the blank background (white) when ``render_mesh(image=None)``.
_BLANK = 255

#: (triangle, pixel) candidate pairs processed per slice; bounds the memory.
_PAIRS_PER_SLICE = 1 << 18

#: default keypoint colours (RGB), cycled by keypoint index.
_PALETTE = np.array(
    [
        (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
        (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
        (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
        (170, 255, 195), (128, 128, 0), (255, 215, 180), (0, 0, 128), (128, 128, 128),
    ],
    dtype=np.uint8,
)


def _as_numpy(x, dtype=None) -> np.ndarray:
    """Array from numpy input or a (CPU or GPU) torch tensor, without gradients."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _check_size(image_size: Sequence[int]) -> tuple[int, int]:
    if len(image_size) != 2:
        raise ValueError(f"image_size must be (W, H), got {image_size!r}")
    W, H = (int(s) for s in image_size)
    if W <= 0 or H <= 0:
        raise ValueError(f"image_size must be positive (W, H), got {image_size!r}")
    return W, H


# ---------------------------------------------------------------------------
# rasterisation
# ---------------------------------------------------------------------------


def _rasterize(
    uv: np.ndarray, z: np.ndarray, faces: np.ndarray, W: int, H: int, near: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-buffer rasterisation of projected triangles.

    Args:
        uv: ``(V, 2)`` projected vertices, pixels (float64).
        z: ``(V,)`` camera depth of the vertices, metres.
        faces: ``(F, 3)`` vertex indices.
        W, H: image width and height, pixels.
        near: triangles with a vertex at ``z <= near`` are skipped, metres.

    Returns:
        ``depth (H*W,)`` float64 (``inf`` where empty), ``face_id (H*W,)`` int64
        (``-1`` where empty) and ``bary (H*W, 3)`` float64: screen-space
        barycentric coordinates of the pixel centre in the winning face.
    """
    depth = np.full(H * W, np.inf)
    face_id = np.full(H * W, -1, dtype=np.int64)
    bary = np.zeros((H * W, 3))
    if len(faces) == 0:
        return depth, face_id, bary

    p = uv[faces]  # (F, 3, 2)
    zf = z[faces]  # (F, 3)
    x0, x1, x2 = p[:, 0, 0], p[:, 1, 0], p[:, 2, 0]
    y0, y1, y2 = p[:, 0, 1], p[:, 1, 1], p[:, 2, 1]
    area2 = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)  # twice the signed area

    with np.errstate(invalid="ignore"):
        valid = (
            np.all(zf > near, axis=1)
            & np.all(np.isfinite(p), axis=(1, 2))
            & (np.abs(area2) > 1e-12)
        )
        # Pixel bounding boxes (pixel centres at integers), clipped to the image.
        umin = np.ceil(np.clip(p[..., 0].min(1), -1, W))
        umax = np.floor(np.clip(p[..., 0].max(1), -1, W))
        vmin = np.ceil(np.clip(p[..., 1].min(1), -1, H))
        vmax = np.floor(np.clip(p[..., 1].max(1), -1, H))
    umin, vmin = np.maximum(umin, 0), np.maximum(vmin, 0)
    umax, vmax = np.minimum(umax, W - 1), np.minimum(vmax, H - 1)
    valid &= (umax >= umin) & (vmax >= vmin)

    tri = np.flatnonzero(valid)
    if len(tri) == 0:
        return depth, face_id, bary
    x0, x1, x2, y0, y1, y2 = (a[tri] for a in (x0, x1, x2, y0, y1, y2))
    inv_a = 1.0 / area2[tri]
    # Barycentric coordinate i of pixel (u, v) is the affine function
    # A_i * u + B_i * v + C_i (edge function of the opposite edge / 2*area);
    # this holds for either winding since we divide by the signed area.
    # Kept as separate 1D arrays: 1D gathers are much faster than row gathers.
    coef = [
        ((y1 - y2) * inv_a, (x2 - x1) * inv_a, (x1 * y2 - x2 * y1) * inv_a),
        ((y2 - y0) * inv_a, (x0 - x2) * inv_a, (x2 * y0 - x0 * y2) * inv_a),
        ((y0 - y1) * inv_a, (x1 - x0) * inv_a, (x0 * y1 - x1 * y0) * inv_a),
    ]
    inv_z = [1.0 / zf[tri, i] for i in range(3)]  # 1/z is affine in screen space
    bu0 = umin[tri]
    bv0 = vmin[tri]
    bw = umax[tri] - umin[tri] + 1.0  # float: float division beats integer // and %
    n_pairs = (bw * (vmax[tri] - vmin[tri] + 1.0)).astype(np.int64)
    end = np.cumsum(n_pairs)
    start = end - n_pairs
    total = int(end[-1])
    # Inclusive edges: a pixel centre exactly on a shared edge is drawn by both
    # triangles and the z-buffer picks one, so no cracks appear between them.
    eps = -1e-9

    for s in range(0, total, _PAIRS_PER_SLICE):
        e = min(s + _PAIRS_PER_SLICE, total)
        # triangles overlapping pairs [s, e): pairs are laid out triangle by
        # triangle, so the triangle index of each pair is a np.repeat
        ta = int(np.searchsorted(end, s, side="right"))
        tb = int(np.searchsorted(end, e - 1, side="right")) + 1
        counts = np.minimum(end[ta:tb], e) - np.maximum(start[ta:tb], s)
        t = np.repeat(np.arange(ta, tb), counts)
        local = np.arange(s, e, dtype=np.float64) - np.take(start, t)
        w = np.take(bw, t)
        dv = np.floor((local + 0.5) / w)  # exact: local < 2**53
        u = np.take(bu0, t) + (local - dv * w)
        v = np.take(bv0, t) + dv
        keep = np.ones(len(t), dtype=bool)
        b = []
        for ca, cb, cc in coef:
            bi = np.take(ca, t) * u + np.take(cb, t) * v + np.take(cc, t)
            keep &= bi >= eps
            b.append(bi)
        sel = np.flatnonzero(keep)
        if len(sel) == 0:
            continue
        t = t[sel]
        b = [bi[sel] for bi in b]
        d = 1.0 / (b[0] * np.take(inv_z[0], t) + b[1] * np.take(inv_z[1], t) + b[2] * np.take(inv_z[2], t))
        pix = v[sel].astype(np.int64) * W + u[sel].astype(np.int64)
        # z-buffer: scatter-min into the global buffer, then the candidates
        # that equal the minimum win (a sort would be ~20x slower)
        np.minimum.at(depth, pix, d)
        win = np.flatnonzero(d == depth[pix])
        pw = pix[win]
        # An exact depth tie leaves several winners for one pixel; let fancy
        # assignment pick any one, then keep only that one's barycentrics.
        # (A triangle covers a pixel at most once, so (pixel, triangle) is unique.)
        face_id[pw] = tri[t[win]]
        win = win[face_id[pw] == tri[t[win]]]
        pw = pix[win]
        bary[pw, 0] = b[0][win]
        bary[pw, 1] = b[1][win]
        bary[pw, 2] = b[2][win]
    return depth, face_id, bary


def _vertex_normals(vertices: np.ndarray, faces: np.ndarray, face_normals_raw: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals ``(V, 3)`` (unit, zero for isolated vertices)."""
    vn = np.zeros_like(vertices)
    for i in range(3):
        np.add.at(vn, faces[:, i], face_normals_raw)
    norm = np.linalg.norm(vn, axis=1, keepdims=True)
    return np.divide(vn, norm, out=np.zeros_like(vn), where=norm > 0)


def render_mesh(
    vertices,
    faces,
    K,
    image_size: Sequence[int],
    image: np.ndarray | None = None,
    color=(0.65, 0.74, 0.86),
    alpha: float = 1.0,
    light_dir=None,
    *,
    shading: str = "smooth",
    ambient: float = 0.3,
    near: float = 1e-2,
    vertex_colors=None,
    cull_backfaces: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render a triangle mesh with a z-buffer and Lambert shading, on the CPU.

    One mesh per call (no batch dimension).  See the module docstring for the
    algorithm and the pixel convention.

    Args:
        vertices: ``(V, 3)`` vertices in camera coordinates (OpenCV: x right,
            y down, z forward), metres.  numpy array or torch tensor.
        faces: ``(F, 3)`` integer vertex indices.
        K: ``(3, 3)`` camera intrinsics, pixels.
        image_size: ``(W, H)`` in pixels.
        image: ``(H, W, 3)`` uint8 background (not modified), or ``None`` for a
            blank (white) background.
        color: base colour, RGB in ``[0, 1]``: ``(3,)`` for the whole mesh or
            ``(F, 3)`` per face.
        alpha: opacity of the mesh over the background, in ``[0, 1]``.
        light_dir: ``(3,)`` direction in which the light *travels*, camera
            coordinates (e.g. ``(1, 0, 0)``: light from the left of the image
            shining right).  ``None``: a headlight at the camera centre,
            shining along each pixel's ray.
        shading: ``"smooth"`` (interpolated vertex normals) or ``"flat"``
            (face normals; use it for meshes with inconsistent winding).
        ambient: ambient fraction of the intensity, in ``[0, 1]``; the rest is
            Lambertian: ``ambient + (1 - ambient) * max(0, n . l)``.
        near: triangles with any vertex at ``z <= near`` (metres) are skipped.
        vertex_colors: optional ``(V, 3)`` RGB in ``[0, 1]``, interpolated over
            each face (perspective-correct); overrides ``color``.
        cull_backfaces: draw only faces whose normal (right-hand rule on the
            vertex order, i.e. counter-clockwise = front) points towards the
            camera.  Off by default: meshes may be non-watertight or
            inconsistently wound.

    Returns:
        ``rgb (H, W, 3)`` uint8, ``mask (H, W)`` bool (pixels covered by the
        mesh) and ``depth (H, W)`` float32: camera z of the visible surface,
        metres, ``inf`` where empty.

    Raises:
        ValueError: on bad shapes, out-of-range face indices or an unknown
            ``shading`` mode.
    """
    W, H = _check_size(image_size)
    if shading not in SHADING_MODES:
        raise ValueError(f"unknown shading {shading!r}; choose one of: {', '.join(SHADING_MODES)}")
    verts = _as_numpy(vertices, np.float64)
    faces = _as_numpy(faces)
    K = _as_numpy(K, np.float64)
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise ValueError(f"vertices must be (V, 3), got {verts.shape}")
    faces = faces.reshape(-1, 3) if faces.size == 0 else faces
    if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer):
        raise ValueError(f"faces must be (F, 3) integers, got {faces.shape} {faces.dtype}")
    faces = faces.astype(np.int64)
    if faces.size and (faces.min() < 0 or faces.max() >= len(verts)):
        raise ValueError(f"faces index vertices out of range [0, {len(verts)})")
    if K.shape != (3, 3):
        raise ValueError(f"K must be (3, 3), got {K.shape}")
    if image is not None:
        image = _as_numpy(image)
        if image.shape != (H, W, 3) or image.dtype != np.uint8:
            raise ValueError(f"image must be ({H}, {W}, 3) uint8, got {image.shape} {image.dtype}")
    F = len(faces)
    base = _as_numpy(color, np.float64)
    if base.shape not in ((3,), (F, 3)):
        raise ValueError(f"color must be (3,) or (F, 3) = ({F}, 3), got {base.shape}")
    if vertex_colors is not None:
        vertex_colors = _as_numpy(vertex_colors, np.float64)
        if vertex_colors.shape != verts.shape:
            raise ValueError(f"vertex_colors must be (V, 3) = {verts.shape}, got {vertex_colors.shape}")
    alpha = float(np.clip(alpha, 0.0, 1.0))

    # --- project (OpenCV pinhole): [u, v, 1]^T ~ K [x, y, z]^T ---------------
    z = verts[:, 2]
    proj = verts @ K.T
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = proj[:, :2] / proj[:, 2:3]
    # The rasteriser skips triangles touching z <= near; keep the rest finite.
    uv[~(z > near)] = np.nan

    raster_faces = faces
    if cull_backfaces and F:
        p = uv[faces]
        area2 = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 2, 0] - p[:, 0, 0]) * (
            p[:, 1, 1] - p[:, 0, 1]
        )
        # keep counter-clockwise as seen by the viewer: with y down on screen,
        # that is a negative signed area in (u, v)
        raster_faces = np.where((area2 < 0)[:, None], faces, 0)  # culled -> degenerate, dropped
    depth, face_id, bary = _rasterize(uv, z, raster_faces, W, H, near)

    mask = face_id >= 0
    rgb = np.full((H * W, 3), _BLANK, dtype=np.uint8) if image is None else image.reshape(-1, 3).copy()
    idx = np.flatnonzero(mask)
    if len(idx):
        # Per-pixel work is done on (3, n) component arrays (row-wise numpy ops
        # on (n, 3) arrays and small matmuls are several times slower here).
        f = face_id[idx]
        fv = [np.take(faces[:, i], f) for i in range(3)]  # vertex ids of the winning faces
        # perspective-correct barycentrics: weight screen-space ones by 1/z
        bp = [bary[idx, i] / np.take(z, fv[i]) for i in range(3)]
        bsum = bp[0] + bp[1] + bp[2]
        bp = [bi / bsum for bi in bp]

        def interp(attr: np.ndarray) -> np.ndarray:  # (V, 3) -> (3, n)
            return np.stack(
                [sum(bp[i] * np.take(attr[:, c], fv[i]) for i in range(3)) for c in range(3)]
            )

        def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # (3, n) . (3, n) -> (n,)
            return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]

        def normalize(a: np.ndarray) -> np.ndarray:
            norm = np.sqrt(dot(a, a))
            return np.divide(a, norm, out=np.zeros_like(a), where=norm > 1e-12)

        # unit direction from each pixel's surface point towards the camera
        u = (idx % W).astype(np.float64)
        v = (idx // W).astype(np.float64)
        Ki = np.linalg.inv(K)
        to_cam = -normalize(np.stack([Ki[c, 0] * u + Ki[c, 1] * v + Ki[c, 2] for c in range(3)]))

        e1 = verts[faces[:, 1]] - verts[faces[:, 0]]
        e2 = verts[faces[:, 2]] - verts[faces[:, 0]]
        fn_raw = np.cross(e1, e2)  # (F, 3), length = 2 * area
        n_face = normalize(np.stack([np.take(fn_raw[:, c], f) for c in range(3)]))
        # two-sided lighting: orient every face towards the camera
        n_face *= np.where(dot(n_face, to_cam) < 0, -1.0, 1.0)
        if shading == "flat":
            n = n_face
        else:
            n = interp(_vertex_normals(verts, faces, fn_raw))
            # interpolated normal on the same side as the (oriented) face normal
            n = normalize(n * np.where(dot(n, n_face) < 0, -1.0, 1.0))
            degenerate = dot(n, n) < 0.5  # vertex normals cancelled out
            n[:, degenerate] = n_face[:, degenerate]
        if light_dir is None:
            lambert = dot(n, to_cam)
        else:
            ld = _as_numpy(light_dir, np.float64).reshape(3)
            ld = -ld / np.linalg.norm(ld)
            lambert = n[0] * ld[0] + n[1] * ld[1] + n[2] * ld[2]
        intensity = ambient + (1.0 - ambient) * np.clip(lambert, 0.0, 1.0)

        if vertex_colors is not None:
            col = interp(vertex_colors)
        elif base.ndim == 2:
            col = np.stack([np.take(base[:, c], f) for c in range(3)])
        else:
            col = base[:, None]
        out = np.minimum(col * intensity, 1.0) * (255.0 * alpha)
        if alpha < 1.0:
            out += (1.0 - alpha) * rgb[idx].T
        rgb[idx] = np.clip(np.rint(out), 0, 255).astype(np.uint8).T

    return rgb.reshape(H, W, 3), mask.reshape(H, W), depth.astype(np.float32).reshape(H, W)


# ---------------------------------------------------------------------------
# 2D keypoints
# ---------------------------------------------------------------------------


def draw_keypoints(
    image: np.ndarray,
    keypoints,
    confidence=None,
    edges=None,
    radius: int = 3,
    color=None,
    *,
    line_width: int | None = None,
) -> np.ndarray:
    """Draw 2D keypoints (filled discs) and skeleton edges (lines) with pillow.

    Args:
        image: ``(H, W, 3)`` uint8 image (not modified).
        keypoints: ``(J, 2)`` pixel coordinates ``(u, v)`` (x right, y down;
            pixel centres at integers).
        confidence: ``(J,)`` or ``None``.  A keypoint is absent -- neither its
            disc nor its edges are drawn -- when its confidence is ``<= 0`` or
            non-finite, or when its coordinates are non-finite.
        edges: ``(E, 2)`` pairs of keypoint indices, drawn as lines when both
            ends are present; ``None`` for no lines.
        radius: disc radius, pixels.
        color: RGB uint8: ``(3,)`` for all points or ``(J, 3)`` per point;
            ``None`` cycles a fixed palette by keypoint index.  An edge takes
            the mean colour of its two ends.
        line_width: line width in pixels; ``None``: ``max(1, radius // 2)``.

    Returns:
        ``(H, W, 3)`` uint8, a new image.
    """
    img = _as_numpy(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {img.shape} {img.dtype}")
    kp = _as_numpy(keypoints, np.float64)
    if kp.ndim != 2 or kp.shape[1] != 2:
        raise ValueError(f"keypoints must be (J, 2), got {kp.shape}")
    J = len(kp)
    present = np.all(np.isfinite(kp), axis=1)
    if confidence is not None:
        conf = _as_numpy(confidence, np.float64).reshape(-1)
        if conf.shape != (J,):
            raise ValueError(f"confidence must be ({J},), got {conf.shape}")
        with np.errstate(invalid="ignore"):
            present &= np.isfinite(conf) & (conf > 0)
    if color is None:
        colors = _PALETTE[np.arange(J) % len(_PALETTE)]
    else:
        colors = _as_numpy(color)
        colors = np.broadcast_to(colors, (J, 3)) if colors.shape == (3,) else colors
        if colors.shape != (J, 3):
            raise ValueError(f"color must be (3,) or (J, 3) = ({J}, 3), got {colors.shape}")
        colors = np.clip(colors, 0, 255).astype(np.uint8)
    width = max(1, radius // 2) if line_width is None else int(line_width)

    pil = Image.fromarray(img.copy())
    draw = ImageDraw.Draw(pil)
    if edges is not None:
        e = _as_numpy(edges).reshape(-1, 2).astype(np.int64)
        if e.size and (e.min() < 0 or e.max() >= J):
            raise ValueError(f"edges index keypoints out of range [0, {J})")
        for a, b in e:
            if present[a] and present[b]:
                c = tuple(int(x) for x in (colors[a].astype(np.int64) + colors[b]) // 2)
                draw.line([tuple(kp[a]), tuple(kp[b])], fill=c, width=width)
    for j in np.flatnonzero(present):
        x, y = kp[j]
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=tuple(int(c) for c in colors[j]))
    return np.asarray(pil)


# ---------------------------------------------------------------------------
# cameras and files
# ---------------------------------------------------------------------------


def look_at_view(
    vertices,
    image_size: Sequence[int] = (512, 512),
    azimuth_deg: float = 30.0,
    elevation_deg: float = 10.0,
    fov_deg: float = 30.0,
    *,
    margin: float = 0.05,
) -> tuple[np.ndarray, np.ndarray]:
    """A camera orbiting the body that frames all of it, for a "3D view" image.

    The camera looks at the centre of the vertices' bounding box.  At azimuth 0
    and elevation 0 it stands on the body frame's ``+Z`` axis looking towards
    ``-Z`` (the front of a body facing ``+Z``) with ``+Y`` up in the image and
    ``+X`` to the right.  Positive azimuth moves the camera about ``+Y``
    towards ``+X``; positive elevation moves it up, looking down.  The distance
    is the smallest at which every vertex projects inside the image shrunk by
    ``margin`` on each side.

    Args:
        vertices: ``(V, 3)`` vertices in the body frame, metres, Y up.
        image_size: ``(W, H)`` in pixels.
        azimuth_deg, elevation_deg: camera direction, degrees.
        fov_deg: field of view across the smaller image side, degrees.
        margin: free border as a fraction of the half-size of the image.

    Returns:
        ``vertices_cam (V, 3)`` in camera coordinates (OpenCV: x right, y down,
        z forward), metres, and ``K (3, 3)`` (square pixels, principal point at
        the image centre ``((W - 1) / 2, (H - 1) / 2)``), ready for
        :func:`render_mesh`.
    """
    W, H = _check_size(image_size)
    if not 0 < fov_deg < 180:
        raise ValueError(f"fov_deg must be in (0, 180), got {fov_deg}")
    verts = _as_numpy(vertices, np.float64)
    if verts.ndim != 2 or verts.shape[1] != 3 or len(verts) == 0:
        raise ValueError(f"vertices must be (V, 3) with V > 0, got {verts.shape}")
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    # unit vector from the target towards the camera
    d = np.array([math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el)])
    forward = -d  # camera z
    right = np.cross(forward, [0.0, 1.0, 0.0])
    if np.linalg.norm(right) < 1e-8:  # looking straight up or down: keep +X right
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)  # camera y (OpenCV: x = y cross z)
    R = np.stack([right, down, forward])  # rows: camera axes in the body frame

    centre = 0.5 * (verts.min(0) + verts.max(0))
    local = (verts - centre) @ R.T  # camera orientation, origin at the target
    f = 0.5 * min(W, H) / math.tan(math.radians(fov_deg) / 2)
    shrink = 1.0 - margin
    tan_x = shrink * 0.5 * (W - 1) / f
    tan_y = shrink * 0.5 * (H - 1) / f
    # vertex i projects inside iff |x_i| <= tan_x * (D + z_i) and likewise for y
    dist = np.max(np.maximum(np.abs(local[:, 0]) / tan_x, np.abs(local[:, 1]) / tan_y) - local[:, 2])
    # keep every vertex in front of the near plane too
    dist = max(float(dist), float(np.max(-local[:, 2])) + 1e-2, 1e-2)
    vertices_cam = local + np.array([0.0, 0.0, dist])
    K = np.array([[f, 0.0, 0.5 * (W - 1)], [0.0, f, 0.5 * (H - 1)], [0.0, 0.0, 1.0]])
    return vertices_cam, K


def save_png(path: str | Path, rgb: np.ndarray) -> Path:
    """Write an image as PNG with pillow.

    Args:
        path: output file; its folder must exist.
        rgb: ``(H, W, 3)`` or ``(H, W, 4)`` uint8, or an ``(H, W)`` uint8 / bool
            image (a bool mask is written as 0 / 255).

    Returns:
        The path written, as a :class:`~pathlib.Path`.
    """
    arr = _as_numpy(rgb)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype != np.uint8 or not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f"rgb must be (H, W), (H, W, 3) or (H, W, 4) uint8, got {arr.shape} {arr.dtype}")
    path = Path(path)
    Image.fromarray(arr).save(path, format="PNG")
    return path
