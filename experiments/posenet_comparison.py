"""Graph PoseNet vs MLP PoseNet, and per-limb pose mixing on / off, at the same budget.

Trains the PoseNet of each variant alone (``posenet_pretrain_steps = steps``:
keypoint-only batches, no mesh) from the same seed, data stream and step
count, then scores its root-relative superset keypoints on a fixed test set
projected from held-out motion (COCO-17 input), with ground-truth 2D and with
detector-like noise.  Errors are in mm (MPJPE / PA-MPJPE over the COCO-17
joints, each skeleton relative to its superset pelvis).

    python experiments/posenet_comparison.py --motion held_out --steps 3000 --batch-size 64 --n 500 --threads 1
    python experiments/posenet_comparison.py --motion held_out --steps 20000 --batch-size 64 --n 500 \\
        --threads 1 --variants mlp

(the tables of docs/eval/posenet_comparison.md, which is written by hand from
their output; ``--out FILE`` also writes the markdown table to FILE.)

(``--variants`` picks some of them, e.g. to train two at once in two processes.)

``held_out`` is a folder of motion of subjects the prior never saw, e.g.
``mkdir held_out && ln -s $PWD/../shared/mocap/06_*.bvh.gz held_out/``.
Needs ``pip install 'pose2mesh[train]'``.
"""
import argparse
import tempfile
import time
from pathlib import Path

import torch

from pose2mesh import joints as _joints
from pose2mesh.data import make_test_set
from pose2mesh.metrics import mpjpe, pa_mpjpe
from pose2mesh.models.checkpoint import load_model
from pose2mesh.train import load_config
from pose2mesh.train.loop import train

#: key -> (report name, model preset, per-limb mixing probability)
VARIANTS = {
    "graph": ("graph PoseNet (default), mixing 0.2", "default", 0.2),
    "graph-nomix": ("graph PoseNet (default), no mixing", "default", 0.0),
    "mlp": ("MLP PoseNet (Martinez), mixing 0.2", "mlp", 0.2),
}


@torch.no_grad()
def posenet_errors(model, testset) -> dict[str, float]:
    """MPJPE / PA-MPJPE (mm) of the PoseNet's keypoints in the test set's layout."""
    superset, presence = _joints.to_superset(testset.keypoints, testset.layout)
    pred = torch.cat([model(s, p, mesh=False)["joints_posenet"] for s, p in zip(superset.split(256), presence.split(256))])
    mix = torch.as_tensor(_joints.conversion_matrix("superset", testset.layout), dtype=pred.dtype)
    pred = torch.einsum("js,nsc->njc", mix, pred)
    gt = testset.joints3d - testset.superset3d[:, :1]
    return {"mpjpe": mpjpe(pred, gt).mean().item(), "pa_mpjpe": pa_mpjpe(pred, gt).mean().item()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--motion", required=True, help="folder of held-out motion files")
    parser.add_argument("--steps", type=int, default=1500, help="training steps per variant (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64, help="training batch (default: %(default)s)")
    parser.add_argument("--n", type=int, default=1000, help="test samples (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default: %(default)s)")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                        help="variants to train (default: all)")
    parser.add_argument("--out", default=None, help="markdown report to write")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    tests = {noise: make_test_set(args.motion, layout="coco", n=args.n, seed=0, noise=noise)
             for noise in ("none", "detector")}
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, preset, mix in (VARIANTS[key] for key in args.variants):
            overrides = [f"model={preset}", f"steps={args.steps}", f"posenet_pretrain_steps={args.steps}",
                         f"data.batch_size={args.batch_size}", f"data.mix_limbs={mix}", "optim.warmup_steps=100",
                         f"val_every={10 * args.steps}", f"ckpt_every={args.steps}", "device=cpu",
                         f"out_dir={tmp}/{preset}_{mix}"]
            tic = time.perf_counter()
            run = train(load_config(Path(__file__).with_name("default.yaml"), overrides))
            minutes = (time.perf_counter() - tic) / 60
            model, _ = load_model(run / "last.pt")
            model.eval()
            rows[name] = {noise: posenet_errors(model, ts) for noise, ts in tests.items()}
            rows[name]["minutes"] = minutes
            print(name, rows[name], flush=True)

    lines = [f"Same seed, data stream and budget per variant: {args.steps} steps x batch {args.batch_size} "
             f"(keypoint-only PoseNet training, {args.threads} CPU threads); test: {args.n} frames of "
             f"`{args.motion}`, COCO-17 input, adult shapes, seed 0. Errors in mm.", "",
             "| PoseNet | GT 2D MPJPE | GT 2D PA-MPJPE | detector MPJPE | detector PA-MPJPE | train min |",
             "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['none']['mpjpe']:.1f} | {r['none']['pa_mpjpe']:.1f} | "
                     f"{r['detector']['mpjpe']:.1f} | {r['detector']['pa_mpjpe']:.1f} | {r['minutes']:.1f} |")
    report = "\n".join(lines)
    print(report)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(f"# PoseNet comparison\n\n```bash\n{' '.join(['python'] + __import__('sys').argv)}\n```\n\n"
                                  f"{report}\n")


if __name__ == "__main__":
    main()
