"""Choose the mesh post-processing of a lifter: keypoint anchoring and smoothing.

Evaluates one checkpoint (whatever its own settings) with every combination of
the grid on test sets built from ``MOTION`` (COCO-17; ground-truth 2D and
detector noise; the test sets of ``experiments/evaluate.sh``), with the same
weights: neither ``ModelConfig.anchor`` (strength; ``anchor_sigma`` its width)
nor ``MeshNetConfig.smooth`` (Laplacian smoothing iterations) has weights of
its own. Choose on motion of a training subject, not on the test subject (the
shipped choice used CMU 05: ``mkdir train_motion && ln -s
$PWD/../shared/mocap/05_*.bvh.gz train_motion/``):

    python experiments/output_grid.py graphs/model_default.pt train_motion \
        [--n 500] [--out docs/eval/default/output_grid.md]

Errors in mm, root-relative (superset pelvis), and the normal error in degrees
(:func:`pose2mesh.metrics.normal_error`: it grows with surface noise as well as
with pose error), as ``pose2mesh evaluate``.
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch

from pose2mesh._assets import asset_path
from pose2mesh.body import load_body
from pose2mesh.data import make_test_set
from pose2mesh.graph import load_hierarchy
from pose2mesh.graph.build import DEFAULT_FILE
from pose2mesh.metrics.evaluate import predict, score
from pose2mesh.models import build_model
from pose2mesh.train.checkpoint import load_model

#: (anchor, anchor_sigma in metres, smoothing iterations)
GRID = [(0.0, 0.03, 0), (0.3, 0.03, 0), (0.5, 0.02, 0), (0.5, 0.03, 0), (0.5, 0.05, 0), (0.5, 0.08, 0), (0.7, 0.03, 0),
        (0.5, 0.03, 1), (0.5, 0.03, 2), (0.5, 0.03, 3), (0.5, 0.03, 4)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("motion")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--out")
    args = parser.parse_args()

    body = load_body("default")
    hierarchy = load_hierarchy(asset_path(DEFAULT_FILE))
    base, _ = load_model(args.checkpoint, device="cpu", body=body)
    sets = {noise: make_test_set(args.motion, layout="coco", n=args.n, seed=0, noise=noise, body=body)
            for noise in ("none", "detector")}
    lines = [f"# Mesh post-processing grid: `{args.checkpoint}` on `{args.motion}`", "",
             f"`python experiments/output_grid.py {args.checkpoint} {args.motion} --n {args.n}`; "
             "MPJPE / PA-MPJPE / MPVPE (mm) / normal error (deg), COCO-17.", "",
             "| anchor | sigma (m) | smooth | ground-truth 2D | detector noise |", "|---|---|---|---|---|"]
    for anchor, sigma, smooth in GRID:
        config = copy.deepcopy(base.config)
        config.anchor, config.anchor_sigma, config.meshnet.smooth = anchor, sigma, smooth
        model = build_model(config, hierarchy, body.regressor_superset.float(), template=body.v_template)
        model.load_state_dict(base.state_dict())
        model.eval()
        cells = []
        for ts in sets.values():
            pred = predict(model, ts.keypoints, ts.layout, K=ts.K)
            r = score(pred["joints"], pred["vertices"], ts, body.faces)
            cells.append(f"{r['mpjpe']:.1f} / {r['pa_mpjpe']:.1f} / {r['mpvpe']:.1f} / {r['normal_deg']:.1f}")
        lines.append(f"| {anchor} | {sigma} | {smooth} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)


if __name__ == "__main__":
    with torch.no_grad():
        main()
