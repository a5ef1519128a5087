"""Tests of the headless software rasteriser (:mod:`pose2mesh.render.raster`).

Golden values are analytic: pinhole projection of known triangles, the
silhouette of a sphere (a disc of radius ``f r / sqrt(D^2 - r^2)``) and
point-in-triangle tests on pixel centres (pixel centres at integers, OpenCV).
"""
from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
import trimesh
from PIL import Image

import pose2mesh.render as render
from pose2mesh.render import draw_keypoints, look_at_view, render_mesh, save_png

W, H = 64, 48
K = np.array([[100.0, 0.0, 31.5], [0.0, 100.0, 23.5], [0.0, 0.0, 1.0]])


def _project(points: np.ndarray) -> np.ndarray:
    p = points @ K.T
    return p[:, :2] / p[:, 2:3]


def _edge_distances(tri_uv: np.ndarray, uu: np.ndarray, vv: np.ndarray) -> np.ndarray:
    """Signed distances (pixels, positive inside) of points to the 3 edges: (3, ...)."""
    e1, e2 = tri_uv[1] - tri_uv[0], tri_uv[2] - tri_uv[0]
    area2 = e1[0] * e2[1] - e1[1] * e2[0]
    out = []
    for i in range(3):
        a, b = tri_uv[i], tri_uv[(i + 1) % 3]
        e = b - a
        cross = e[0] * (vv - a[1]) - e[1] * (uu - a[0])
        out.append(np.sign(area2) * cross / np.linalg.norm(e))
    return np.stack(out)


def _sphere(subdivisions: int = 4, centre=(0.0, 0.0, 4.0)) -> tuple[np.ndarray, np.ndarray]:
    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=1.0)
    return np.asarray(m.vertices) + np.asarray(centre), np.asarray(m.faces)


# --------------------------------------------------------------------------- API


def test_public_surface():
    assert sorted(render.__all__) == sorted(
        ["render_mesh", "draw_keypoints", "look_at_view", "save_png", "SHADING_MODES"]
    )
    assert render.SHADING_MODES == ("smooth", "flat")


def test_unknown_shading_lists_choices():
    v, f = _sphere(1)
    with pytest.raises(ValueError, match="choose one of: smooth, flat"):
        render_mesh(v, f, K, (W, H), shading="phong")


def test_bad_shapes_raise():
    v, f = _sphere(1)
    with pytest.raises(ValueError, match="image must be"):
        render_mesh(v, f, K, (W, H), image=np.zeros((W, H, 3), np.uint8))
    with pytest.raises(ValueError, match="out of range"):
        render_mesh(v, f + len(v), K, (W, H))
    with pytest.raises(ValueError, match="K must be"):
        render_mesh(v, f, K[:2], (W, H))


def test_output_dtypes_and_shapes():
    v, f = _sphere(2)
    rgb, mask, depth = render_mesh(v, f, K, (W, H))
    assert rgb.shape == (H, W, 3) and rgb.dtype == np.uint8
    assert mask.shape == (H, W) and mask.dtype == np.bool_
    assert depth.shape == (H, W) and depth.dtype == np.float32
    assert mask.any() and np.all(np.isinf(depth[~mask])) and np.all(np.isfinite(depth[mask]))
    # the front of a unit sphere at z = 4 is at depth 3 (metres, camera z)
    assert depth[mask].min() == pytest.approx(3.0, abs=2e-2)


def test_accepts_torch_tensors():
    v, f = _sphere(2)
    a = render_mesh(v, f, K, (W, H))
    b = render_mesh(torch.from_numpy(v).float(), torch.from_numpy(f), torch.from_numpy(K), (W, H))
    np.testing.assert_array_equal(a[1], b[1])


# --------------------------------------------------------------------------- coverage


@pytest.mark.parametrize("winding", [(0, 1, 2), (0, 2, 1)])
def test_single_triangle_mask_matches_point_in_triangle(winding):
    z = 2.0
    tri = np.array([[-0.5, -0.3, z], [0.55, -0.2, z], [0.05, 0.4, z]])
    faces = np.array([winding])
    rgb, mask, depth = render_mesh(tri, faces, K, (W, H), color=(1.0, 0.0, 0.0))

    uu, vv = np.meshgrid(np.arange(W, dtype=float), np.arange(H, dtype=float))
    dist = _edge_distances(_project(tri), uu, vv)
    inside = np.all(dist >= 0, axis=0)
    surely_in = np.all(dist > 1.0, axis=0)
    surely_out = np.any(dist < -1.0, axis=0)
    assert inside.sum() > 300
    assert np.all(mask[surely_in]) and not np.any(mask[surely_out])
    # only pixel centres within float noise of an edge may disagree
    assert np.sum(mask != inside) <= 2
    # a fronto-parallel triangle has constant depth
    np.testing.assert_allclose(depth[mask], z, rtol=1e-6)
    # facing the headlight: red channel well above the ambient level
    assert rgb[mask][:, 0].min() > 200 and rgb[mask][:, 1:].max() == 0
    assert np.all(rgb[~mask] == 255)


def test_zbuffer_nearer_face_wins_regardless_of_order():
    near = np.array([[-0.6, -0.4, 2.0], [0.3, -0.4, 2.0], [-0.6, 0.4, 2.0]])
    far = np.array([[-0.3, -0.4, 3.0], [0.9, -0.4, 3.0], [0.9, 0.5, 3.0]])
    verts = np.concatenate([near, far])
    red, blue = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)
    results = []
    for faces, colors in [
        (np.array([[0, 1, 2], [3, 4, 5]]), np.array([red, blue])),
        (np.array([[3, 4, 5], [0, 1, 2]]), np.array([blue, red])),
    ]:
        results.append(render_mesh(verts, faces, K, (W, H), color=colors, shading="flat"))
    (rgb_a, mask_a, depth_a), (rgb_b, mask_b, depth_b) = results
    np.testing.assert_array_equal(rgb_a, rgb_b)
    np.testing.assert_array_equal(depth_a, depth_b)

    uu, vv = np.meshgrid(np.arange(W, dtype=float), np.arange(H, dtype=float))
    in_near = np.all(_edge_distances(_project(near), uu, vv) > 1.0, axis=0)
    in_far = np.all(_edge_distances(_project(far), uu, vv) > 1.0, axis=0)
    overlap = in_near & in_far
    only_far = in_far & ~np.all(_edge_distances(_project(near), uu, vv) > -1.0, axis=0)
    assert overlap.sum() > 20 and only_far.sum() > 20
    for rgb, depth in [(rgb_a, depth_a), (rgb_b, depth_b)]:
        assert np.all(rgb[overlap][:, 0] > 0) and np.all(rgb[overlap][:, 2] == 0)
        assert np.all(rgb[only_far][:, 2] > 0) and np.all(rgb[only_far][:, 0] == 0)
        np.testing.assert_allclose(depth[overlap], 2.0, rtol=1e-6)


def test_mesh_behind_camera_gives_background():
    rng = np.random.default_rng(0)
    background = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    v, f = _sphere(2, centre=(0.0, 0.0, -4.0))
    rgb, mask, depth = render_mesh(v, f, K, (W, H), image=background)
    np.testing.assert_array_equal(rgb, background)
    assert not mask.any() and np.all(np.isinf(depth))
    # blank background without an image
    rgb, _, _ = render_mesh(v, f, K, (W, H))
    assert np.all(rgb == 255)
    # a triangle straddling the camera plane is skipped (no near-plane clipping)
    tri = np.array([[-0.5, -0.5, 2.0], [0.5, -0.5, 2.0], [0.0, 0.5, -1.0]])
    _, mask, _ = render_mesh(tri, np.array([[0, 1, 2]]), K, (W, H))
    assert not mask.any()


def test_background_not_modified_and_alpha_blends():
    background = np.full((H, W, 3), 100, dtype=np.uint8)
    v, f = _sphere(2)
    opaque, mask, _ = render_mesh(v, f, K, (W, H), image=background, color=(1.0, 1.0, 1.0))
    half, mask_half, _ = render_mesh(v, f, K, (W, H), image=background, color=(1.0, 1.0, 1.0), alpha=0.5)
    assert np.all(background == 100)
    np.testing.assert_array_equal(mask, mask_half)
    expected = np.rint(0.5 * opaque[mask].astype(float) + 50)
    np.testing.assert_allclose(half[mask], expected, atol=1)
    np.testing.assert_array_equal(half[~mask], background[~mask])


def test_backface_culling_keeps_the_front_of_a_closed_mesh():
    v, f = _sphere(3)
    _, mask, depth = render_mesh(v, f, K, (W, H))
    _, mask_c, depth_c = render_mesh(v, f, K, (W, H), cull_backfaces=True)
    # outward-wound sphere: culling removes only hidden faces (silhouette pixels
    # hit exactly on grazing faces may differ)
    assert np.sum(mask != mask_c) <= 0.01 * mask.sum()
    both = mask & mask_c
    np.testing.assert_allclose(depth[both], depth_c[both], atol=1e-6)
    # a lone triangle whose normal points away from the camera disappears
    tri = np.array([[0.0, 0.0, 2.0], [0.5, 0.0, 2.0], [0.0, 0.5, 2.0]])  # normal +z
    assert not render_mesh(tri, np.array([[0, 1, 2]]), K, (W, H), cull_backfaces=True)[1].any()
    assert render_mesh(tri, np.array([[0, 2, 1]]), K, (W, H), cull_backfaces=True)[1].any()


# --------------------------------------------------------------------------- camera


def test_look_at_view_frames_a_sphere_as_a_disc_of_expected_area():
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=1.0)
    size = (200, 160)
    vc, Kv = look_at_view(mesh.vertices, size, azimuth_deg=30, elevation_deg=10, fov_deg=30)
    _, mask, _ = render_mesh(vc, mesh.faces, Kv, size)
    dist = np.linalg.norm(vc.mean(0))  # sphere centre (bbox centre) in the camera
    np.testing.assert_allclose(vc.mean(0)[:2], 0.0, atol=1e-9)
    radius_px = Kv[0, 0] * 1.0 / math.sqrt(dist**2 - 1.0)
    expected = math.pi * radius_px**2
    assert mask.sum() == pytest.approx(expected, rel=0.05)
    # framed: the whole disc is in the image, centred on the principal point,
    # and not tiny (margin 5% of the half-size)
    vs, us = np.nonzero(mask)
    assert us.min() > 0 and vs.min() > 0 and us.max() < size[0] - 1 and vs.max() < size[1] - 1
    assert us.mean() == pytest.approx(Kv[0, 2], abs=0.5) and vs.mean() == pytest.approx(Kv[1, 2], abs=0.5)
    assert 2 * radius_px > 0.85 * min(size)


def test_convention_look_at_view_front_camera_keeps_y_up_and_x_right():
    pts = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.2]])
    vc, Kv = look_at_view(pts, (100, 100), azimuth_deg=0, elevation_deg=0)
    uv = (vc @ Kv.T)[:, :2] / (vc @ Kv.T)[:, 2:3]
    assert uv[1, 1] < uv[0, 1]  # body +Y is up in the image (smaller v)
    assert uv[2, 0] > uv[0, 0]  # body +X is to the right
    assert vc[3, 2] < vc[0, 2]  # body +Z (the front) is nearer to the camera
    # a rigid, proper transform (right-handed OpenCV axes)
    np.testing.assert_allclose(np.linalg.norm(vc[1] - vc[0]), 1.0)
    ey, ex, ez = vc[1] - vc[0], vc[2] - vc[0], (vc[3] - vc[0]) / 0.2
    np.testing.assert_allclose(np.cross(ex, ey), ez, atol=1e-12)  # no mirror
    np.testing.assert_allclose(ez, [0.0, 0.0, -1.0], atol=1e-12)  # front faces the camera


# --------------------------------------------------------------------------- shading


def test_shading_brighter_where_surface_faces_the_light():
    v, f = _sphere(4)
    size = (160, 120)
    Ks = np.array([[150.0, 0, 79.5], [0, 150.0, 59.5], [0, 0, 1]])
    # light travelling towards +x: the surface facing -x (left of the image) is lit
    rgb, mask, _ = render_mesh(v, f, Ks, size, light_dir=(1.0, 0.0, 0.0), color=(1.0, 1.0, 1.0))
    gray = rgb.astype(float).mean(2)
    cols = np.arange(size[0])[None, :].repeat(size[1], 0)
    left, right = mask & (cols < Ks[0, 2] - 10), mask & (cols > Ks[0, 2] + 10)
    assert gray[left].mean() > gray[right].mean() + 60
    # the right side sees only ambient light: 0.3 * 255
    assert np.median(gray[right]) == pytest.approx(0.3 * 255, abs=2)

    for shading in ("smooth", "flat"):
        # headlight: the centre faces the camera, the rim is grazing
        rgb, mask, _ = render_mesh(v, f, Ks, size, color=(1.0, 1.0, 1.0), shading=shading)
        gray = rgb.astype(float).mean(2)
        vs, us = np.nonzero(mask)
        r = np.hypot(us - Ks[0, 2], vs - Ks[1, 2])
        centre, rim = gray[vs, us][r < 0.3 * r.max()], gray[vs, us][r > 0.9 * r.max()]
        assert centre.mean() > rim.mean() + 50


# --------------------------------------------------------------------------- keypoints


def test_draw_keypoints_marks_points_and_skips_absent():
    image = np.zeros((40, 60, 3), dtype=np.uint8)
    kps = np.array([[10.0, 10.0], [30.0, 20.0], [50.0, 30.0], [np.nan, 5.0], [10.0, 30.0]])
    conf = np.array([1.0, 0.0, np.nan, 1.0, 0.5])
    out = draw_keypoints(
        image, kps, conf, edges=[(0, 1), (0, 4), (1, 2)], radius=2, color=(255, 255, 255)
    )
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.all(image == 0)  # input untouched
    assert np.all(out[10, 10] == 255) and np.all(out[30, 10] == 255)  # (u, v) -> row v, column u
    assert np.all(out[20, 30] == 0) and np.all(out[30, 50] == 0)  # conf 0 and NaN: absent
    assert np.all(out[20, 10] == 255)  # edge 0-4 drawn (both present)
    assert np.all(out[15, 20] == 0)  # edge 0-1 not drawn (1 absent)
    lit = np.argwhere(out.any(2))
    assert np.all(np.abs(lit[:, 1] - 10) <= 2)  # nothing else drawn


def test_draw_keypoints_default_palette_and_per_point_colors():
    image = np.zeros((20, 20, 3), dtype=np.uint8)
    kps = np.array([[5.0, 5.0], [14.0, 14.0]])
    out = draw_keypoints(image, kps)
    assert out[5, 5].any() and out[14, 14].any() and not np.array_equal(out[5, 5], out[14, 14])
    out = draw_keypoints(image, kps, color=np.array([[255, 0, 0], [0, 255, 0]]))
    assert tuple(out[5, 5]) == (255, 0, 0) and tuple(out[14, 14]) == (0, 255, 0)


# --------------------------------------------------------------------------- files


def test_save_png_round_trip(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    path = save_png(tmp_path / "x.png", rgb)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), rgb)
    mask = rgb[..., 0] > 127
    np.testing.assert_array_equal(np.asarray(Image.open(save_png(tmp_path / "m.png", mask))), mask * 255)


# --------------------------------------------------------------------------- speed


def _latlong_sphere(n_lat: int, n_lon: int) -> tuple[np.ndarray, np.ndarray]:
    """A closed UV sphere: 2 * n_lon * (n_lat - 1) triangles."""
    theta = np.linspace(0, np.pi, n_lat + 1)[1:-1]
    phi = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)], -1).reshape(-1, 3)
    verts = np.concatenate([ring, [[0, 1, 0], [0, -1, 0]]])
    top, bottom = len(ring), len(ring) + 1
    idx = np.arange(len(ring)).reshape(n_lat - 1, n_lon)
    nxt = np.roll(idx, -1, axis=1)
    a, b, c, d = idx[:-1], nxt[:-1], idx[1:], nxt[1:]
    quads = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)])
    caps = np.concatenate(
        [
            np.stack([np.full(n_lon, top), idx[0], nxt[0]], -1),
            np.stack([np.full(n_lon, bottom), nxt[-1], idx[-1]], -1),
        ]
    )
    return verts, np.concatenate([quads, caps])


def test_render_time_24k_triangles_640x480():
    verts, faces = _latlong_sphere(101, 120)  # 24,000 triangles, 11,882 vertices
    assert len(faces) == 24000
    vc, Kv = look_at_view(verts, (640, 480), fov_deg=30)
    render_mesh(vc, faces, Kv, (640, 480))  # warm-up
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        rgb, mask, _ = render_mesh(vc, faces, Kv, (640, 480))
        times.append(time.perf_counter() - t0)
    print(f"\nrender_mesh: {len(faces)} triangles, 640x480, {mask.sum()} px covered: "
          f"best {min(times) * 1e3:.1f} ms, median {np.median(times) * 1e3:.1f} ms")
    assert mask.sum() > 0.3 * 640 * 480
