"""Lifts/s of checkpoints through ``pose2mesh.Lifter`` at batch 1, in interleaved rounds.

On a shared machine the speed drifts by tens of percent between minutes, so two
separate benchmark runs compare badly; here every round times each checkpoint
in turn (100 lifts of one COCO-17 detection after 10 warm-up lifts), and the
medians over rounds are compared.

    git show 9a39515:graphs/model_default.pt > model_v4.pt
    python experiments/benchmarks/lifter_ab.py graphs/model_default.pt model_v4.pt [--rounds 8] [--threads 2]
"""
import argparse
import statistics
import time

import numpy as np
import torch

import pose2mesh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--lifts", type=int, default=100, help="timed lifts per checkpoint and round")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lifters = {path: pose2mesh.Lifter.from_checkpoint(path) for path in args.checkpoints}
    g = np.random.default_rng(1)
    keypoints = np.concatenate([100 + 400 * g.random((1, 17, 2)), 0.5 + 0.5 * g.random((1, 17, 1))], -1)

    def lift(lifter):
        return lifter(keypoints, layout="coco", image_size=(600, 600), focal_length=1000.0)

    rates = {path: [] for path in lifters}
    for _ in range(args.rounds):
        for path, lifter in lifters.items():
            for _ in range(10):
                lift(lifter)
            start = time.perf_counter()
            for _ in range(args.lifts):
                lift(lifter)
            rates[path].append(args.lifts / (time.perf_counter() - start))
    print(f"lifts/s at batch 1 through pose2mesh.Lifter, {args.threads} threads, {args.rounds} interleaved rounds")
    for path, r in rates.items():
        print(f"{path}: median {statistics.median(r):.0f}, best {max(r):.0f} (rounds: {' '.join(f'{x:.0f}' for x in r)})")


if __name__ == "__main__":
    main()
