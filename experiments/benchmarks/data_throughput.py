"""Throughput of the synthetic data engine (samples/s at full mesh resolution).

Times ``SyntheticBatches.batch`` (pose prior -> body shape -> skeleton -> camera
-> skinned 12,272-vertex mesh in camera coordinates -> keypoints -> projection
-> detector-like corruption -> superset input) with warm-up and the median over
repeats, on the CPU with ``--threads`` threads and on the GPU when one is
available.  Also times the parts: skeleton only, and the skinned mesh alone.

    python experiments/benchmarks/data_throughput.py --threads 2
"""
import argparse
import statistics
import time

import torch

from pose2mesh.body import load_body
from pose2mesh.data import SyntheticBatches, SyntheticConfig


def _median_time(fn, repeats: int, sync) -> float:
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(device: str, batch_sizes, repeats: int, corruption: str) -> None:
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    body = load_body("default", device=device)
    for bs in batch_sizes:
        stream = SyntheticBatches(body, config=SyntheticConfig(batch_size=bs, corruption=corruption))
        step = iter(range(1, 10**9))
        full = _median_time(lambda: stream.batch(next(step)), repeats, sync)
        batch = stream.batch(0)
        pose, orient, betas = batch["pose"], batch["global_orient"], batch["betas"]
        with torch.no_grad():
            skel = _median_time(lambda: body(pose=pose, betas=betas, global_orient=orient, skin=False), repeats, sync)
            mesh = _median_time(lambda: body(pose=pose, betas=betas, global_orient=orient), repeats, sync)
        print(f"{device:5s} batch {bs:5d}: full batches {bs / full:9.0f} samples/s | body mesh only {bs / mesh:9.0f}/s"
              f" | skeleton only {bs / skel:10.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default: %(default)s)")
    parser.add_argument("--batch", type=int, nargs="+", default=[256, 1024], help="batch sizes (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--corruption", default="detector", choices=["none", "detector", "h3wb"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} CPU threads, corruption={args.corruption}")
    run("cpu", args.batch, args.repeats, args.corruption)
    if torch.cuda.is_available():
        run("cuda", sorted(set(args.batch) | {4096, 16384}), args.repeats, args.corruption)


if __name__ == "__main__":
    main()
