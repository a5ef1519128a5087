"""Throughput of the synthetic data engine (samples/s at full mesh resolution).

Times ``SyntheticBatches.batch`` (pose prior -> body shape -> skeleton -> camera
-> skinned 12,272-vertex mesh in camera coordinates -> keypoints -> projection
-> detector-like corruption -> superset input) with warm-up and the median over
repeats, on the CPU with ``--threads`` threads and on the GPU when one is
available (synchronised before every clock reading).  The previous batch is
kept alive while the next one is made, as in a training loop.  Also times the
parts: keypoint-only batches (``mesh=False``), the skinned mesh alone
(``OpenBody`` forward) and the skeleton alone.

    python experiments/benchmarks/data_throughput.py --threads 2
    python experiments/benchmarks/data_throughput.py --threads 1 --workers 2
    python experiments/benchmarks/data_throughput.py --profile 256

``--workers N`` first times N processes of one thread each, started together,
each drawing its own stream (rank of N): the way to use several cores that no
other job can stall (with threads, OpenMP's spin-waiting makes a batch wait
whenever one thread is descheduled; see docs/data.md, "Throughput").
``--profile B`` prints a ``torch.profiler`` table of full CPU batches of size
``B`` instead.
"""
import argparse
import statistics
import time

import torch

from pose2mesh.body import load_body
from pose2mesh.data import SyntheticBatches, SyntheticConfig


def _timings(fn, repeats: int, sync) -> tuple[float, float]:
    """(median, best) seconds of ``fn`` over ``repeats`` runs after one warm-up run."""
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def run(device: str, batch_sizes, repeats: int, corruption: str) -> None:
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    body = load_body("default", device=device)
    for bs in batch_sizes:
        stream = SyntheticBatches(body, config=SyntheticConfig(batch_size=bs, corruption=corruption))
        step = iter(range(1, 10**9))
        held = [None]  # the batch a training step would still hold

        def full(mesh: bool = True) -> None:
            held[0] = stream.batch(next(step), mesh=mesh)

        full_median, full_best = _timings(full, repeats, sync)
        keypoints_median, _ = _timings(lambda: full(False), repeats, sync)
        held[0] = None
        batch = stream.batch(0)
        pose, orient, betas = batch["pose"], batch["global_orient"], batch["betas"]
        with torch.no_grad():
            skel, _ = _timings(lambda: body(pose=pose, betas=betas, global_orient=orient, skin=False), repeats, sync)
            mesh, _ = _timings(lambda: held.__setitem__(0, body(pose=pose, betas=betas, global_orient=orient)),
                               repeats, sync)
        print(f"{device:5s} batch {bs:5d}: full batches {bs / full_median:7.0f} samples/s (best {bs / full_best:6.0f})"
              f" | keypoint-only {bs / keypoints_median:7.0f}/s | body mesh only {bs / mesh:7.0f}/s"
              f" | skeleton only {bs / skel:8.0f}/s", flush=True)


def _worker(rank: int, world_size: int, batch_size: int, corruption: str, rounds: int, per_round: int,
            barrier, results) -> None:
    """One data process: one thread, its own DDP-style stream (rank of world_size); times ``rounds`` rounds."""
    torch.set_num_threads(1)
    config = SyntheticConfig(batch_size=batch_size, corruption=corruption)
    stream = SyntheticBatches(load_body("default"), config=config, rank=rank, world_size=world_size)
    held = stream.batch(0)  # warm-up
    step = 1
    for _ in range(rounds):
        barrier.wait()  # every process starts the round together
        start = time.perf_counter()
        for _ in range(per_round):
            held = stream.batch(step)
            step += 1
        results.put((rank, time.perf_counter() - start))
    del held


def run_workers(workers: int, batch_sizes, repeats: int, corruption: str) -> None:
    """Aggregate CPU throughput of ``workers`` processes of one thread each (as DataLoader workers would run)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    per_round = 2
    for bs in batch_sizes:
        barrier, results = ctx.Barrier(workers), ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(r, workers, bs, corruption, repeats, per_round, barrier, results))
                 for r in range(workers)]
        for proc in procs:
            proc.start()
        elapsed = [results.get() for _ in range(workers * repeats)]
        for proc in procs:
            proc.join()
        # results arrive round by round per process: the k-th time of each rank is round k
        per_rank = {r: [t for rank, t in elapsed if rank == r] for r in range(workers)}
        rates = [workers * per_round * bs / max(per_rank[r][k] for r in range(workers)) for k in range(repeats)]
        print(f"cpu   batch {bs:5d}: full batches {statistics.median(rates):7.0f} samples/s (best {max(rates):6.0f})"
              f" from {workers} processes x 1 thread", flush=True)


def profile(batch_size: int, corruption: str) -> None:
    """Print where a full CPU batch spends its time (torch.profiler, 3 batches after warm-up)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    config = SyntheticConfig(batch_size=batch_size, corruption=corruption)
    stream = SyntheticBatches(load_body("default"), config=config)
    stream.batch(0)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(3):
            stream.batch(1 + i)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default: %(default)s)")
    parser.add_argument("--batch", type=int, nargs="+", default=[128, 256, 512, 1024],
                        help="batch sizes (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--corruption", default="detector", choices=["none", "detector", "h3wb"])
    parser.add_argument("--profile", type=int, metavar="B", help="profile CPU batches of size B instead")
    parser.add_argument("--workers", type=int, default=0,
                        help="also time this many data processes of one thread each, together (CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} CPU threads, corruption={args.corruption}")
    if args.profile:
        profile(args.profile, args.corruption)
        return
    if args.workers:
        run_workers(args.workers, args.batch, args.repeats, args.corruption)
    run("cpu", args.batch, args.repeats, args.corruption)
    if torch.cuda.is_available():
        run("cuda", sorted(set(args.batch) | {4096, 16384}), args.repeats, args.corruption)


if __name__ == "__main__":
    main()
