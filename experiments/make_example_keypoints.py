"""Build ``graphs/example_keypoints.json``: one realistic COCO-17 2D pose for ``pose2mesh demo``.

A frame of real motion capture (CMU subject 06, trial 01 "walk"; subject 06 is
the validation subject, never in the shipped pose prior) is retargeted onto the
open default body with an adult shape of the shipped shape table, seen by a
1280x720 camera (45 deg vertical field of view, principal point at the image
centre) from the front-right, and its COCO keypoints are projected exactly
(confidence 1).  The file also records the body parameters (body frame: Y up,
metres) and the camera (``x_cam = R x_body + t``, OpenCV axes, ``K`` in pixels),
so tests can project the same pose in any other layout.

    python experiments/make_example_keypoints.py --motion ../shared/mocap

Needs the data engine (``pose2mesh.data``) and the shared motion files; the
demo itself reads only the JSON written here.
"""
from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

import numpy as np
import roma
import torch

from pose2mesh._assets import assets_dir
from pose2mesh.body.open_body import OpenBody
from pose2mesh.data.camera import look_at_rotation
from pose2mesh.data.motion import load_motion
from pose2mesh.data.poses import remove_heading
from pose2mesh.data.retarget import Retargeter
from pose2mesh.data.synthetic import shape_rows

FILE = "06_01.bvh.gz"
IMAGE_SIZE = (1280, 720)
VFOV_DEG = 45.0
AZIMUTH_DEG = -35.0   # about the body's Y axis, from its front (+Z) towards -X (its right)
HEIGHT_FRACTION = 0.75  # body height / image height at the look-at distance
CAMERA_HEIGHT_M = 0.35  # camera above the pelvis


def _dumps(data: dict) -> str:
    """JSON with one line per keypoint / matrix row (readable and diff-friendly)."""
    text = json.dumps(data, indent=1)
    # collapse the innermost lists of numbers onto one line
    return re.sub(r"\[\s+([-0-9.,\se]+?)\s+\]", lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--motion", default="../shared/mocap", help="folder holding %s" % FILE)
    parser.add_argument("--out", default=str(assets_dir() / "example_keypoints.json"))
    args = parser.parse_args()

    body = OpenBody.load()
    adults, _ = shape_rows(body)
    rest, _ = body.shape(body.shape_table_betas[adults])
    heights = rest[..., 1].amax(1) - rest[..., 1].amin(1)
    row = int(adults[(heights - 1.75).abs().argmin()])  # the adult closest to 1.75 m
    betas = body.shape_table_betas[row : row + 1]

    motion = Retargeter.for_body(body, betas)(load_motion(Path(args.motion) / FILE, fps=30.0))
    orient = remove_heading(motion.global_orient)  # face +Z
    with torch.no_grad():
        out = body(pose=motion.pose, global_orient=orient, betas=betas.expand(len(orient), -1))
        ankles = body.regress_keypoints(out.vertices, "coco")[:, [15, 16]]
    frame = int((ankles[:, 0] - ankles[:, 1]).norm(dim=-1).argmax())  # widest stride
    verts = out.vertices[frame]
    pelvis = body.regress_keypoints(verts[None], "superset")[0, 0]
    height = float(verts[:, 1].max() - verts[:, 1].min())

    W, H = IMAGE_SIZE
    f = 0.5 * H / math.tan(math.radians(VFOV_DEG) / 2)
    K = torch.tensor([[f, 0, (W - 1) / 2], [0, f, (H - 1) / 2], [0, 0, 1.0]])
    dist = f * height / (HEIGHT_FRACTION * H)
    az = math.radians(AZIMUTH_DEG)
    position = pelvis + torch.tensor([dist * math.sin(az), CAMERA_HEIGHT_M, dist * math.cos(az)])
    R = look_at_rotation(position[None], pelvis[None])[0]
    t = -R @ position

    kp = body.regress_keypoints(verts[None], "coco")[0] @ R.T + t
    uv = (kp @ K.T)[:, :2] / (kp @ K.T)[:, 2:]
    assert ((uv >= 0) & (uv <= torch.tensor([W - 1, H - 1.0]))).all(), "a keypoint left the image"
    data = {
        "note": (
            f"COCO-17 keypoints (pixels, x right / y down, confidence 1 = exact projection) of frame {frame} "
            f"(30 fps) of CMU mocap {FILE} ('walk', subject 06, the validation subject), retargeted onto the "
            f"open default body (shape-table row {row}, {height:.2f} m) and seen by a {W}x{H} camera with a "
            f"{VFOV_DEG:g} deg vertical field of view. Made by experiments/make_example_keypoints.py. "
            "The data used in this project was obtained from mocap.cs.cmu.edu. The database was created "
            "with funding from NSF EIA-0196217."
        ),
        "layout": "coco",
        "image_size": [W, H],
        "keypoints": np.round(torch.cat([uv, torch.ones(17, 1)], 1).numpy().astype(np.float64), 2).tolist(),
        "body": {
            "frame": "body frame: metres, Y up, X to the body's left, Z forward",
            "pose_rotvec": np.round(roma.rotmat_to_rotvec(motion.pose[frame]).numpy().astype(np.float64), 6).tolist(),
            "global_orient_rotvec": np.round(roma.rotmat_to_rotvec(orient[frame]).numpy().astype(np.float64), 6).tolist(),
            "betas": np.round(betas[0].numpy().astype(np.float64), 6).tolist(),
        },
        "camera": {
            "convention": "x_cam = R x_body + t; OpenCV camera axes (x right, y down, z forward); K in pixels",
            "K": np.round(K.numpy().astype(np.float64), 6).tolist(),
            "R": np.round(R.numpy().astype(np.float64), 8).tolist(),
            "t": np.round(t.numpy().astype(np.float64), 6).tolist(),
        },
    }
    Path(args.out).write_text(_dumps(data) + "\n")
    print(f"wrote {args.out}: frame {frame}, body {height:.2f} m, camera at {dist:.2f} m")


if __name__ == "__main__":
    main()
