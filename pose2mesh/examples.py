"""The example pose shipped with pose2mesh (``graphs/example_keypoints.json``).

One frame of real motion capture (CMU mocap, a walk of the validation subject
06) on the open default body, seen by a 1280x720 camera; see the file's
``note`` and ``experiments/make_example_keypoints.py`` for its provenance.
``pose2mesh demo`` lifts it.

Conventions: keypoints in pixels (x right, y down, centre of the top-left
pixel at ``(0, 0)``) with a confidence column; the ground-truth mesh in metres
in the camera frame (OpenCV axes: x right, y down, z forward); ``K`` in pixels.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pose2mesh._assets import asset_path

__all__ = ["EXAMPLE_FILE", "Example", "load_example", "example_record"]

#: File name of the example in the assets folder.
EXAMPLE_FILE = "example_keypoints.json"


@dataclass
class Example:
    """The example pose in one layout.

    Attributes:
        keypoints: ``(J, 3)`` float64 pixels + confidence (1 = exact projection).
        layout: the keypoints' layout.
        image_size: ``(W, H)`` pixels.
        K: ``(3, 3)`` float64 intrinsics of the camera that saw it, pixels.
        vertices: ``(V, 3)`` float32 ground-truth mesh, metres, camera frame
            (None unless asked for).
        note: provenance.
    """

    keypoints: np.ndarray
    layout: str
    image_size: tuple[int, int]
    K: np.ndarray
    vertices: np.ndarray | None
    note: str


@lru_cache(maxsize=1)
def _read() -> dict:
    return json.loads(asset_path(EXAMPLE_FILE).read_text())


def example_record() -> dict:
    """The example file's full record (a fresh copy): ``note``, ``layout``, ``image_size``,
    ``keypoints``, ``body`` (pose and shape parameters, body frame) and ``camera`` (``K``, ``R``, ``t``)."""
    return json.loads(json.dumps(_read()))


def load_example(layout: str = "coco", with_mesh: bool = False) -> Example:
    """The shipped example pose, in any keypoint layout.

    In the stored layout (COCO) the keypoints are read from the file; in any
    other layout (or with ``with_mesh``) the stored body parameters are posed
    with the open default body and its keypoints of ``layout`` projected with
    the stored camera (exact, confidence 1).

    Args:
        layout: a layout name of :mod:`pose2mesh.joints` (e.g. ``"openpose25"``).
        with_mesh: also return the ground-truth mesh (camera frame).

    Raises:
        ValueError: unknown layout (the message lists the valid ones).
    """
    from pose2mesh.joints import get_layout

    data = _read()
    layout = get_layout(layout).name
    cam = data["camera"]
    K = np.asarray(cam["K"], dtype=np.float64)
    common = dict(layout=layout, image_size=tuple(data["image_size"]), K=K, note=data["note"])
    if layout == data["layout"] and not with_mesh:
        return Example(keypoints=np.asarray(data["keypoints"], dtype=np.float64), vertices=None, **common)

    import torch

    from pose2mesh.body.open_body import OpenBody

    body = OpenBody.load()
    b = data["body"]
    with torch.no_grad():
        out = body(pose=torch.tensor(b["pose_rotvec"])[None], global_orient=torch.tensor(b["global_orient_rotvec"])[None],
                   betas=torch.tensor(b["betas"])[None])
        R, t = torch.tensor(cam["R"]), torch.tensor(cam["t"])
        verts = out.vertices[0] @ R.T + t  # camera frame
        kp = body.regress_keypoints(verts[None].double(), layout)[0].numpy()
    uv = kp @ K.T
    uv = uv[:, :2] / uv[:, 2:]
    keypoints = np.concatenate([uv, np.ones((len(uv), 1))], 1)
    return Example(keypoints=keypoints, vertices=verts.numpy() if with_mesh else None, **common)
