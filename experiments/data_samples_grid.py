"""A PNG grid of random synthetic training samples, for docs/data.md.

Each cell shows one sample of ``SyntheticBatches`` as the networks see it: the
posed body mesh rendered with the sample's own camera (intrinsics, image size),
and the corrupted 2D keypoints drawn over it (absent keypoints are not drawn;
marker colour fades with confidence).  Blank background, images scaled to a
common cell height.

    python experiments/data_samples_grid.py --out docs/images/data_samples.png
"""
import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from pose2mesh.body import load_body
from pose2mesh.data import SyntheticBatches, SyntheticConfig
from pose2mesh.joints import get_layout
from pose2mesh.render import draw_keypoints, render_mesh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/images/data_samples.png")
    parser.add_argument("--rows", type=int, default=3)
    parser.add_argument("--cols", type=int, default=4)
    parser.add_argument("--cell", type=int, default=300, help="cell height in pixels")
    parser.add_argument("--layout", default="coco")
    parser.add_argument("--corruption", default="detector")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    body = load_body("default")
    n = args.rows * args.cols
    batch = SyntheticBatches(body, config=SyntheticConfig(batch_size=n, layout=args.layout,
                                                          corruption=args.corruption), seed=args.seed).batch(0)
    edges = get_layout(args.layout).edges
    faces = body.faces.numpy()
    cells = []
    for i in range(n):
        w, h = batch["image_size"][i].tolist()
        s = args.cell / h
        k = batch["K"][i].numpy().copy()
        k[:2] *= s
        k[:2, 2] += (s - 1) * 0.5  # pixel centres stay on integers
        size = (max(int(round(w * s)), 1), args.cell)
        rgb, _, _ = render_mesh(batch["vertices"][i].numpy(), faces, k, size)
        kp = batch["keypoints"][i].numpy()
        xy = kp[:, :2] * s + (s - 1) * 0.5
        conf = kp[:, 2]
        colors = [(int(255 * (1 - c)), int(60 + 140 * c), int(255 * c)) for c in conf]
        rgb = draw_keypoints(rgb, xy, conf, edges=edges, radius=3, color=colors)
        frame = Image.fromarray(rgb)
        canvas = Image.new("RGB", (int(args.cell * 16 / 9), args.cell), (235, 235, 235))
        canvas.paste(frame.crop((0, 0, min(frame.width, canvas.width), args.cell)),
                     (max((canvas.width - frame.width) // 2, 0), 0))
        cells.append(np.asarray(canvas))
    cw, ch = cells[0].shape[1], cells[0].shape[0]
    grid = Image.new("RGB", (args.cols * (cw + 4), args.rows * (ch + 4)), (255, 255, 255))
    for i, cell in enumerate(cells):
        grid.paste(Image.fromarray(cell), ((i % args.cols) * (cw + 4), (i // args.cols) * (ch + 4)))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(out)
    print(f"wrote {out} ({n} samples, layout {args.layout}, corruption {args.corruption})")


if __name__ == "__main__":
    main()
