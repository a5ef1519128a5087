"""Headless CPU rendering for overlays and small 3D views (numpy + pillow).

* :func:`render_mesh` -- z-buffered, Lambert-shaded triangle rasteriser.
* :func:`draw_keypoints` -- 2D keypoints and skeleton edges with pillow.
* :func:`look_at_view` -- an orbiting camera that frames a whole body.
* :func:`save_png` -- write an image with pillow.

No OpenGL, no display and no GPU are needed (``pyrender`` would need an
OpenGL / EGL / OSMesa context); see :mod:`pose2mesh.render.raster`.
Camera convention: OpenCV (x right, y down, z forward), pixels, metres.
"""
from pose2mesh.render.raster import SHADING_MODES, draw_keypoints, look_at_view, render_mesh, save_png

__all__ = ["render_mesh", "draw_keypoints", "look_at_view", "save_png", "SHADING_MODES"]
