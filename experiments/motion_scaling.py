"""Does more training motion help? The PoseNet trained on all of the motion against half of it.

Builds pose priors (``pose2mesh.data.build_pose_prior``) from subsets of the
training subjects in ``--motion`` (the validation subject 06 always left out),
trains the default PoseNet alone on each (keypoint-only batches, from scratch,
same seed, data stream and budget: as ``posenet_comparison.py``) and scores it
on a fixed test set of held-out motion (COCO-17 input, ground-truth 2D and
detector-like noise; mm, keypoints relative to the superset pelvis).

Variants:

* ``all``: every training subject, a bank of 16,384 poses (the shipped prior's recipe);
* ``half-a`` / ``half-b``: the subjects split in two halves of about equal frame
  counts (largest first, each to the smaller half), 16,384 poses from each: the
  same number of poses, from half the motion;
* ``all-frames``: every training subject, every frame at 30 fps in the bank (about
  3.4x the poses of ``all``, from the same motion);
* ``all-balanced``: every training subject, 16,384 poses with an equal share per
  subject (``build-pose-prior --balance subjects``) instead of every frame equally
  likely: the two longest subjects (01 playground, 29 pantomime) fill 46 % of ``all``;
* ``all-mix-0.5`` / ``all-noise-0.1``: ``all`` with more synthetic variety: per-limb
  mixing 0.5 instead of 0.2, or 0.1 rad of rotation noise on every joint;
* ``all+test`` / ``test-only``: upper bounds, not recipes: the held-out subject's own
  motion (the test frames among it) added to ``all``, or alone. They tell how far
  motion that covers the test motion could take this network at this budget.

If halving the motion costs little, more motion of this kind will not close
the accuracy targets either; ``all-frames`` tells whether the bank size limits,
the next two whether augmentation can stand in for more motion.

    python experiments/motion_scaling.py --motion ../shared/mocap --held-out held_out \\
        --steps 10000 --variants all half-a --threads 1     # and so on, two at once on 2 cores

``held_out``: ``mkdir held_out && ln -s $PWD/../shared/mocap/06_*.bvh.gz held_out/``.
Needs ``pip install 'pose2mesh[train]'``.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch

from pose2mesh.body import load_body
from pose2mesh.data import make_test_set
from pose2mesh.data.motion import find_motion_files, load_motion, subject_of
from pose2mesh.data.poses import VALIDATION_SUBJECTS, build_pose_prior
from pose2mesh.models.checkpoint import load_model
from pose2mesh.train import load_config
from pose2mesh.train.loop import train

from posenet_comparison import posenet_errors  # this folder's script (the same scoring)

BANK = 16384
#: variant -> (subjects, poses in the bank (None: every frame), balance, extra training overrides)
VARIANTS = {
    "all": ("all", BANK, "frames", []),
    "half-a": ("half-a", BANK, "frames", []),
    "half-b": ("half-b", BANK, "frames", []),
    "all-frames": ("all", None, "frames", []),
    "all-balanced": ("all", BANK, "subjects", []),
    "all-mix-0.5": ("all", BANK, "frames", ["data.mix_limbs=0.5"]),
    "all-noise-0.1": ("all", BANK, "frames", ["data.pose_noise=0.1"]),
    "all+test": ("all+test", BANK, "frames", []),
    "test-only": ("test", BANK, "frames", []),
}


def subject_frames(motion: Path, cache_dir: Path) -> Counter:
    """Frames at 30 fps per subject below ``motion`` (the validation subjects included)."""
    frames = Counter()
    for path in find_motion_files(motion):
        frames[subject_of(path)] += len(load_motion(path, cache_dir=cache_dir, fps=30.0).root_positions)
    return frames


def halves(frames: Counter) -> tuple[list[str], list[str]]:
    """Two subject lists of about equal frame counts: largest subject first, each to the smaller half."""
    a, b = [], []
    for subject, _ in sorted(frames.items(), key=lambda kv: (-kv[1], kv[0])):
        (a if sum(frames[s] for s in a) <= sum(frames[s] for s in b) else b).append(subject)
    return sorted(a), sorted(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--motion", required=True, help="training motion folder (e.g. ../shared/mocap)")
    parser.add_argument("--held-out", required=True, help="folder of held-out motion (subject 06)")
    parser.add_argument("--steps", type=int, default=10000, help="training steps per variant (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64, help="training batch (default: %(default)s)")
    parser.add_argument("--n", type=int, default=500, help="test samples (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default: %(default)s; the test set is fixed)")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--cache", default=None, help="motion parse cache folder (default: a temporary one)")
    parser.add_argument("--out", default=None, help="JSON file to write the rows to")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a training override for every variant, e.g. data.layouts=[coco] (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    tests = {noise: make_test_set(args.held_out, layout="coco", n=args.n, seed=0, noise=noise)
             for noise in ("none", "detector")}
    body = load_body("default")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(args.cache or Path(tmp) / "cache")
        frames = subject_frames(Path(args.motion), cache)
        training = sorted(s for s in frames if s not in VALIDATION_SUBJECTS)
        half_a, half_b = halves(Counter({s: frames[s] for s in training}))
        test = sorted(s for s in frames if s in VALIDATION_SUBJECTS)
        subjects = {"all": training, "half-a": half_a, "half-b": half_b, "all+test": training + test, "test": test}
        for variant in args.variants:
            which, bank, balance, extra = VARIANTS[variant]
            dropped = sorted(set(frames) - set(subjects[which]))
            prior = build_pose_prior(args.motion, body, max_poses=bank or 10**9, balance=balance,
                                     exclude_subjects=tuple(dropped), cache_dir=cache)
            prior_file = Path(tmp) / f"{variant}.npz"
            digest = prior.save(prior_file)
            overrides = ["model=default", f"steps={args.steps}", f"posenet_pretrain_steps={args.steps}",
                         f"data.batch_size={args.batch_size}", "data.mix_limbs=0.2", "optim.warmup_steps=100",
                         f"val_every={10 * args.steps}", f"ckpt_every={args.steps}", "device=cpu",
                         f"data.pose_prior={prior_file}", f"seed={args.seed}", f"out_dir={tmp}/{variant}", *extra,
                         *args.set]
            tic = time.perf_counter()
            run = train(load_config(Path(__file__).with_name("default.yaml"), overrides))
            model, _ = load_model(run / "last.pt")
            model.eval()
            rows[variant] = {"seed": args.seed, "subjects": subjects[which], "extra": extra + args.set,
                             "frames": sum(frames[s] for s in subjects[which]),
                             "poses": len(prior), "prior_hash": digest,
                             "minutes": (time.perf_counter() - tic) / 60,
                             **{noise: posenet_errors(model, ts) for noise, ts in tests.items()}}
            print(variant, json.dumps(rows[variant]), flush=True)

    print(f"\n{args.steps} steps x {args.batch_size}, PoseNet alone, training seed {args.seed}; test: {args.n} frames of `{args.held_out}`, "
          "COCO-17, seed 0; mm\n")
    print("| training motion | subjects | frames (30 fps) | poses in the bank | GT 2D MPJPE / PA | detector MPJPE / PA |")
    print("|---|---|---|---|---|---|")
    for variant, r in rows.items():
        print(f"| {variant} | {len(r['subjects'])} | {r['frames']:,} | {r['poses']:,} | "
              f"{r['none']['mpjpe']:.1f} / {r['none']['pa_mpjpe']:.1f} | "
              f"{r['detector']['mpjpe']:.1f} / {r['detector']['pa_mpjpe']:.1f} |")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
