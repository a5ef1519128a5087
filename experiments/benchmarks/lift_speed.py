"""Lift speed of the model presets, side by side: lifts/s, memory, checkpoint size, parameters, FLOPs.

For the ``default``, ``paper`` and ``mlp`` presets and ``shipped`` (the shipped
model's config: ``default`` with keypoint anchoring) (random weights: speed does
not depend on their values), built with the shipped hierarchy and body regressor:

* lifts/s through the bare network (``torch.inference_mode``, eval) at batch
  1, 16 and 256 (and 4096 on CUDA): warm-up, then the median over repeats;
* lifts/s through the public ``pose2mesh.Lifter`` (when the package has one),
  loaded from a checkpoint of the same random model;
* peak memory of inference (CPU: peak RSS, as ``ru_maxrss``, in a fresh
  subprocess per preset and batch; CUDA: ``torch.cuda.max_memory_allocated``);
* size of the weights-only ``state_dict`` saved with ``torch.save``,
  parameter count, FLOPs per lift;
* ratios to the ``paper`` preset and to the official Pose2Mesh code (timed
  earlier on the 2-core development machine; quoted, see docs/benchmarks.md);
* with ``--train``: one optimiser step of the ``default`` model at the
  training batch of ``experiments/default.yaml``;
* with ``--compile``: the network under ``torch.compile`` too (optional; it
  did not help on the CPU, see docs/benchmarks.md);
* with ``--flip``: the ``Lifter`` with the flip test too (``flip=True``: the
  mirrored keypoints lifted in the same pass, the two results averaged);
* with ``--snap``: the ``Lifter`` snapping its meshes onto the keypoints too
  (``snap=True``, for exact keypoints).

FLOPs: ``torch.utils.flop_counter.FlopCounterMode`` counts matrix products
only (a multiply-add = 2 FLOPs; element-wise operations, normalisation and
gathers are not counted) and would count a sparse ``(V, V) @ (V, N)`` product
as dense; those products are counted analytically instead, as ``2 * nnz * N``,
and in-place ``addmm_`` products (not in its table) are added.

Threads: with 2 threads and another busy process on a 2-core machine, every
parallel operator waits at its barrier for a descheduled thread and a lift
gets 10-100x slower; on a shared machine time with ``--threads 1`` or when it
is otherwise idle.

    python experiments/benchmarks/lift_speed.py --threads 2
    python experiments/benchmarks/lift_speed.py --configs default --batch 1 256 --parts network --train
    python experiments/benchmarks/lift_speed.py --device cuda          # adds batch 4096
    python experiments/benchmarks/lift_speed.py --configs default --profile 256
    python experiments/benchmarks/lift_speed.py --configs shipped --batch 1 --parts lifter --flip --snap
"""
import argparse
import dataclasses
import io
import json
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from pose2mesh._assets import asset_path
from pose2mesh.body.open_body import OpenBody
from pose2mesh.graph import load_hierarchy
from pose2mesh.graph.build import DEFAULT_FILE
from pose2mesh.models import build_model, count_parameters, model_config

#: The official Pose2Mesh code timed on the development machine (2 CPU threads,
#: random weights, COCO-19 input, SMPL mesh): lifts/s. Quoted, not re-measured.
OFFICIAL = {"params": 76.8e6, "batch1": 1 / 0.145, "batch1_range": "135-155 ms", "batched": 2.5, "batched_at": 64}
RECIPE = Path(__file__).resolve().parents[1] / "default.yaml"


def _sync(device: torch.device):
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def _median_time(fn, sync, repeats: int, budget: float) -> float:
    """Median seconds per call of ``fn`` after warm-up.

    Warm-up: two calls (one when a call takes over a second). Each repeat
    times enough back-to-back calls to last >= 50 ms (fast calls are
    otherwise dominated by timer and scheduling noise); repeats stop early
    once ``budget`` seconds are spent, with at least 3.
    """
    start = time.perf_counter()
    fn()
    sync()
    once = time.perf_counter() - start
    if once < 1.0:
        start = time.perf_counter()
        fn()
        sync()
        once = time.perf_counter() - start
    inner = max(1, int(0.05 / max(once, 1e-6)))
    times, spent = [], 0.0
    while len(times) < repeats and (len(times) < 3 or spent < budget):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        elapsed = time.perf_counter() - start
        times.append(elapsed / inner)
        spent += elapsed
    return statistics.median(times)


def load_assets(device: torch.device):
    """The shipped hierarchy and the default body (its superset regressor is the model's)."""
    hierarchy = load_hierarchy(asset_path(DEFAULT_FILE))
    body = OpenBody.load(device=device)
    return hierarchy, body


def config_of(name: str):
    """The :class:`ModelConfig` of a preset, or of the shipped model (``"shipped"``: the
    ``default`` preset with keypoint anchoring, as stored in ``graphs/model_default.pt``)."""
    if name != "shipped":
        return model_config(name)
    from pose2mesh.models import ModelConfig

    ckpt = torch.load(asset_path("model_default.pt"), map_location="cpu", weights_only=True)
    return ModelConfig(**ckpt["model_config"])


def build(name: str, hierarchy, body, device: torch.device):
    """A random-weight model of :func:`config_of` ``name``."""
    return build_model(config_of(name), hierarchy, body.regressor_superset.float(), device=device,
                       template=body.v_template)


def random_keypoints(batch: int, device: torch.device, seed: int = 0):
    """Pixel superset keypoints ``(B, 52, 2)`` in a 500 px box and presence ``(B, 52)`` (~10 % absent)."""
    g = torch.Generator().manual_seed(seed)
    xy = 100.0 + 400.0 * torch.rand(batch, 52, 2, generator=g)
    presence = (torch.rand(batch, 52, generator=g) > 0.1).float()
    presence[:, 0] = 1.0
    return xy.to(device), presence.to(device)


class _FlopCorrections(TorchDispatchMode):
    """What ``FlopCounterMode`` gets wrong for this network, recorded alongside it.

    * ``dense``: what it adds for sparse ``(V, V) @ (V, N)`` products (it
      counts them as dense, ``2 * V * V * N``); ``sparse``: their true count,
      ``2 * nnz * N``.
    * ``missing``: in-place ``addmm_`` products, absent from its table
      (the node-major convolution accumulates its K weight products with them).

    A sparse CSR ``(V, V) @ (V, N)`` (the output smoothing, the anchoring
    weights) reaches the dispatcher as ``aten.matmul`` with the CSR operand
    first: counted the same way.
    """

    def __init__(self) -> None:
        super().__init__()
        self.dense = 0
        self.sparse = 0
        self.missing = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        aten = torch.ops.aten
        if func in (aten.mm.default, aten.addmm.default, aten.addmm_.default, aten.matmul.default):
            a, b = args[-2], args[-1]
            if a.layout != torch.strided:
                true = 2 * a._nnz() * b.shape[1]
                if func is aten.addmm_.default:
                    self.missing += true
                else:
                    self.dense += 2 * a.shape[0] * a.shape[1] * b.shape[1]
                    self.sparse += true
            elif func is aten.addmm_.default:
                self.missing += 2 * a.shape[0] * a.shape[1] * b.shape[1]
        return func(*args, **(kwargs or {}))


def flops_per_lift(model, device: torch.device) -> int:
    """Matrix-product FLOPs of one lift (batch 1), sparse products counted as ``2 * nnz * N``."""
    xy, presence = random_keypoints(1, device)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter, _FlopCorrections() as fix:
        model(xy, presence)
    return counter.get_total_flops() - fix.dense + fix.sparse + fix.missing


def checkpoint_bytes(model) -> int:
    """Bytes of the weights-only ``state_dict`` written by ``torch.save``."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getbuffer().nbytes


def _maxrss_bytes() -> int:
    """Peak RSS of the process: ``VmHWM`` where /proc has it, else ``ru_maxrss``.

    ``VmHWM`` is the peak that ``ru_maxrss`` reports, minus one catch:
    ``ru_maxrss`` is also raised to the peak of the moment any thread of the
    process exited, so a thread that ends after the assets are loaded pins it
    to the loading peak and :func:`_reset_maxrss` cannot lower it.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _reset_maxrss() -> bool:
    """Reset the peak RSS (``VmHWM``; Linux >= 4.0: ``/proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_child(name: str, batch: int, threads: int) -> None:
    """(Subprocess) print the RSS before the first forward pass at ``batch`` and the peak RSS during it.

    A fresh process per batch size, and the first forward pass of the
    process: memory that the allocator keeps after an earlier call would
    otherwise be reused and hidden. The figure therefore includes one-time
    set-up of the first call (thread pools, kernels), which is most of the
    batch-1 figure.
    """
    torch.set_num_threads(threads)
    device = torch.device("cpu")
    hierarchy, body = load_assets(device)
    model = build(name, hierarchy, body, device).eval()
    with torch.inference_mode():
        xy, presence = random_keypoints(batch, device)
        before = _rss_bytes()
        _reset_maxrss()
        model(xy, presence)
    print(json.dumps({"before": before, "peak": _maxrss_bytes()}))


def peak_memory(name: str, model, batches, device: torch.device, threads: int) -> dict:
    """Peak memory of inference (bytes): ``{batch: (working memory, whole process or None)}``.

    CPU: a fresh subprocess per preset and batch (torch's allocations are
    invisible to tracemalloc): working memory = peak RSS during the forward
    pass minus the RSS just before it; whole process = that peak (torch,
    assets, model and activations).
    CUDA: ``torch.cuda.max_memory_allocated`` minus the memory held before the call.
    """
    out = {}
    for b in batches:
        if device.type == "cuda":
            xy, presence = random_keypoints(b, device)
            torch.cuda.synchronize(device)
            base = torch.cuda.memory_allocated(device)
            torch.cuda.reset_peak_memory_stats(device)
            with torch.inference_mode():
                model(xy, presence)
            torch.cuda.synchronize(device)
            out[b] = (torch.cuda.max_memory_allocated(device) - base, None)
        else:
            cmd = [sys.executable, __file__, "--memory-child", name, "--threads", str(threads), "--batch", str(b)]
            res = subprocess.run(cmd, check=True, capture_output=True, text=True)
            rss = json.loads(res.stdout.strip().splitlines()[-1])
            out[b] = (rss["peak"] - rss["before"], rss["peak"])
    return out


def lifter_timer(name: str, model, hierarchy, body, device: torch.device, tmp: Path):
    """A ``fn(batch) -> callable`` timing the public ``pose2mesh.Lifter`` on this model, or ``None``.

    The random model is saved with :func:`pose2mesh.train.checkpoint.save_checkpoint`
    and loaded with ``Lifter.from_checkpoint``; the input is a numpy array of
    COCO-17 pixel keypoints with confidences, as a detector gives them, and the
    time includes everything ``Lifter`` does (layout conversion, camera
    placement, reprojection error, copies back to numpy).
    """
    import pose2mesh

    if not hasattr(pose2mesh, "Lifter"):
        return None
    from pose2mesh.train.checkpoint import save_checkpoint

    path = tmp / f"{name}.pt"
    save_checkpoint(path, {"model_config": config_of(name).to_dict(), "hierarchy_hash": hierarchy.content_hash(),
                           "body_hash": body.content_hash, "model": model.state_dict()})
    lifter = pose2mesh.Lifter.from_checkpoint(path, device=device)

    def make(batch: int, flip: bool = False, snap: bool = False):
        g = torch.Generator().manual_seed(1)
        xy = 100.0 + 400.0 * torch.rand(batch, 17, 2, generator=g)
        confidence = 0.5 + 0.5 * torch.rand(batch, 17, 1, generator=g)
        keypoints = torch.cat([xy, confidence], dim=-1).numpy()  # (N, 17, 3) as a detector gives them
        return lambda: lifter(keypoints, layout="coco", image_size=(600, 600), focal_length=1000.0, flip=flip,
                                snap=snap)

    return make


def _network_call(net, batch: int, device: torch.device):
    xy, presence = random_keypoints(batch, device)

    def call():
        with torch.inference_mode():
            net(xy, presence)

    return call


def bench_config(name: str, args, device: torch.device, hierarchy, body, tmp: Path) -> dict:
    sync = _sync(device)
    torch.manual_seed(0)
    model = build(name, hierarchy, body, device).eval()
    row = {"name": name, "params": count_parameters(model), "ckpt": checkpoint_bytes(model),
           "flops": flops_per_lift(model, device), "bare": {}, "lifter": {}, "lifter_flip": {},
           "lifter_snap": {}}
    nets = {"bare": model} if "network" in args.parts else {}
    if args.compile:
        nets["compiled"] = torch.compile(model)  # optional; compiles once per batch size (in the warm-up)
    for path, net in nets.items():
        row[path] = {b: b / _median_time(_network_call(net, b, device), sync, args.repeats, args.budget)
                     for b in args.batch}
    try:
        make = lifter_timer(name, model, hierarchy, body, device, tmp) if "lifter" in args.parts else None
    except Exception as err:  # an API still being written must not stop the benchmark
        print(f"note: pose2mesh.Lifter could not be timed ({type(err).__name__}: {err})", file=sys.stderr)
        make = None
    if make is not None:
        for b in args.batch:
            row["lifter"][b] = b / _median_time(make(b), sync, args.repeats, args.budget)
            if args.flip:
                row["lifter_flip"][b] = b / _median_time(make(b, flip=True), sync, args.repeats, args.budget)
            if args.snap:
                row["lifter_snap"][b] = b / _median_time(make(b, snap=True), sync, args.repeats, args.budget)
    if "memory" in args.parts:
        row["memory"] = peak_memory(name, model, args.batch, device, args.threads)
    return row


def train_step(device: torch.device, hierarchy, body, args) -> dict:
    """Seconds per optimiser step of the default model at the recipe's batch, and per data batch."""
    from pose2mesh.data.poses import PosePrior
    from pose2mesh.data.synthetic import SyntheticBatches, SyntheticConfig
    from pose2mesh.train.config import load_config
    from pose2mesh.train.loop import compute_losses, resolve_model_config

    config = load_config(RECIPE)
    sync = _sync(device)
    torch.manual_seed(0)
    model = build_model(resolve_model_config(config.model), hierarchy, body.regressor_superset.float(), device=device,
                        template=body.v_template)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.optim.lr, weight_decay=config.optim.weight_decay)
    # the recipe's data settings, as the training loop passes them (the fields both dataclasses have)
    names = {f.name for f in dataclasses.fields(SyntheticConfig)}
    data = {k: v for k, v in dataclasses.asdict(config.data).items() if k in names}
    stream = SyntheticBatches(body, PosePrior.load(device=device),
                              SyntheticConfig(**data, layout=config.data.layouts[0]), seed=0)
    batch = stream.batch(0)
    step = max(config.posenet_pretrain_steps, config.loss.edges_from_step)  # every loss term on

    def one_step():
        out = model(batch["superset"], batch["presence"])
        terms = compute_losses(out, batch, config, body.faces, step)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.grad_clip)
        optimizer.step()

    def forward_only():
        with torch.no_grad():
            compute_losses(model(batch["superset"], batch["presence"]), batch, config, body.faces, step)

    counter = iter(range(1, 10**9))
    return {"batch": config.data.batch_size,
            "step": _median_time(one_step, sync, args.repeats, args.budget),
            "forward": _median_time(forward_only, sync, args.repeats, args.budget),
            "data": _median_time(lambda: stream.batch(next(counter)), sync, args.repeats, args.budget)}


def _profile_groups(model) -> dict:
    """Module name -> row label of the profile summary (PoseNet, MeshNet parts per level)."""
    groups = {"posenet": "PoseNet", "meshnet.joint_convs": "MeshNet: keypoint-graph convolutions",
              "meshnet.head": "MeshNet: xyz head (ChebConv)"}
    mesh = getattr(model, "meshnet", None)
    for i, level in enumerate(getattr(mesh, "levels", ())):
        lap = getattr(mesh, f"laplacian_{level}")
        widths = [blk.conv.out_channels if hasattr(blk, "conv") else blk.conv1.out_channels for blk in mesh.stages[i]]
        groups[f"meshnet.stages.{i}"] = (f"MeshNet: level {level} ({lap.shape[0]} nodes, {len(widths)} block(s), "
                                         f"width {widths[0]})")
    return groups


def profile(name: str, batch: int, device: torch.device, hierarchy, body, rows: int = 12) -> None:
    """Print where a forward pass spends its time: per part of the network, and per operator (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile as tprofile, record_function

    model = build(name, hierarchy, body, device).eval()
    xy, presence = random_keypoints(batch, device)
    groups = _profile_groups(model)
    handles = []
    for mod_name, mod in model.named_modules():
        # one hook per unit: posenet, meshnet.head, meshnet.joint_convs.<i>, meshnet.stages.<i>.<j>
        if not re.fullmatch(r"posenet|meshnet|meshnet\.head|meshnet\.joint_convs\.\d+|meshnet\.stages\.\d+\.\d+",
                            mod_name):
            continue
        label = "meshnet" if mod_name == "meshnet" else \
            next(v for k, v in groups.items() if mod_name == k or mod_name.startswith(k + "."))

        def pre(m, a, n=label):
            m._bench_rf = record_function(f"## {n}")
            m._bench_rf.__enter__()

        def post(m, a, o):
            m._bench_rf.__exit__(None, None, None)

        handles += [mod.register_forward_pre_hook(pre), mod.register_forward_hook(post)]
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    calls = 5
    with torch.inference_mode():
        for _ in range(3):
            model(xy, presence)
        _sync(device)()
        with tprofile(activities=activities) as prof:
            for _ in range(calls):
                with record_function("## forward"):
                    model(xy, presence)
            _sync(device)()
    for h in handles:
        h.remove()
    events = prof.key_averages()
    parts = {e.key[3:]: e.cpu_time_total / calls / 1e3 for e in events if e.key.startswith("## ")}
    total, mesh = parts.pop("forward"), parts.pop("meshnet", 0.0)
    parts["MeshNet: the rest (lift to the coarse level, unpooling to the mesh, per-vertex refinement)"] = \
        mesh - sum(v for k, v in parts.items() if k.startswith("MeshNet"))
    parts["Pose2MeshNet: the rest (normalisation, root, keypoint regression)"] = \
        total - mesh - parts.get("PoseNet", 0.0)
    print(f"\n### Profile: `{name}`, batch {batch}, {device}, {torch.get_num_threads()} thread(s) "
          f"({total:.2f} ms per forward pass under the profiler, {total / batch:.3f} ms per lift)\n")
    print("| part | ms per forward | share |\n|---|---|---|")
    for label, ms in parts.items():
        print(f"| {label} | {ms:.2f} | {100 * ms / total:.0f} % |")
    ops = [e for e in events if not e.key.startswith("## ")]
    key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    op_total = sum(getattr(e, key) for e in ops)
    print(f"\n| operator | self {'GPU' if device.type == 'cuda' else 'CPU'} % | calls per forward |\n|---|---|---|")
    for e in sorted(ops, key=lambda e: -getattr(e, key))[:rows]:
        print(f"| `{e.key}` | {100 * getattr(e, key) / op_total:.1f} | {e.count / calls:g} |")


def _fmt_rate(x) -> str:
    return "-" if x is None else (f"{x:,.0f}" if x >= 10 else f"{x:.1f}")


def report(rows: list[dict], args, device: torch.device) -> None:
    batches = args.batch
    print("\n### Size and cost\n")
    print("| preset | parameters | checkpoint (MB) | MFLOP per lift | vs official params |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| `{r['name']}` | {r['params']:,} | {r['ckpt'] / 1e6:.1f} | {r['flops'] / 1e6:,.0f} | "
              f"{r['params'] / OFFICIAL['params']:.3f}x |")
    print(f"| official Pose2Mesh (reference) | {OFFICIAL['params'] / 1e6:.1f}M | ~309 | - | 1x |")

    head = " | ".join(f"batch {b}" for b in batches)
    if any(r.get(path) for r in rows for path in ("bare", "compiled", "lifter", "lifter_flip", "lifter_snap")):
        _report_speed(rows, args, device, head)
    if any("memory" in r for r in rows):
        _report_memory(rows, device, batches, head)
    if all(r.get("bare") for r in rows):
        _report_ratios(rows, device, batches)


def _report_speed(rows: list[dict], args, device: torch.device, head: str) -> None:
    batches = args.batch
    print(f"\n### Lifts per second ({device}, {args.threads} threads, median)\n")
    print(f"| preset | path | {head} | ms per lift at batch {batches[0]} |")
    print("|---|---|" + "---|" * (len(batches) + 1))
    for r in rows:
        for path, label in (("bare", "network (inference_mode)"), ("compiled", "network, `torch.compile`"),
                            ("lifter", "`pose2mesh.Lifter`"), ("lifter_flip", "`pose2mesh.Lifter`, `flip=True`"),
                            ("lifter_snap", "`pose2mesh.Lifter`, `snap=True`")):
            if not r.get(path):
                continue
            rates = " | ".join(_fmt_rate(r[path].get(b)) for b in batches)
            print(f"| `{r['name']}` | {label} | {rates} | {1e3 / r[path][batches[0]]:.2f} |")
    print(f"\nReference, not re-measured: the official Pose2Mesh code on the 2-core development CPU, 2 threads: "
          f"{OFFICIAL['batch1_range']} per lift at batch 1 (~{OFFICIAL['batch1']:.0f} lifts/s), "
          f"{OFFICIAL['batched']} lifts/s at batch {OFFICIAL['batched_at']}.")



def _report_memory(rows: list[dict], device: torch.device, batches, head: str) -> None:
    what = ("peak RSS during a forward pass minus RSS before it; in brackets the whole process's peak"
            if device.type == "cpu" else "max_memory_allocated minus the memory held before the call")
    print(f"\n### Peak inference memory (MiB; {what})\n")
    print(f"| preset | {head} |\n|---|" + "---|" * len(batches))
    for r in rows:
        if "memory" in r:
            cells = [f"{w / 2**20:,.1f}" + (f" ({p / 2**20:,.0f})" if p else "") for w, p in
                     (r["memory"][b] for b in batches)]
            print(f"| `{r['name']}` | " + " | ".join(cells) + " |")


def _report_ratios(rows: list[dict], device: torch.device, batches) -> None:
    big = max(batches)
    ref = next((r for r in rows if r["name"] == "paper"), None)
    print("\n### Ratios (speed-up; > 1 = faster)\n")
    cols = [f"vs `paper` at batch {batches[0]}", f"vs `paper` at batch {big}"] if ref else []
    if device.type == "cpu":
        cols += ["vs official at batch 1 (7 lifts/s)", f"vs official batched ({OFFICIAL['batched']} lifts/s)"]
    print("| preset | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols))
    for r in rows:
        cells = []
        if ref:
            cells += [f"{r['bare'][batches[0]] / ref['bare'][batches[0]]:.1f}x", f"{r['bare'][big] / ref['bare'][big]:.1f}x"]
        if device.type == "cpu":
            cells += [f"{r['bare'][1] / OFFICIAL['batch1']:.0f}x" if 1 in r["bare"] else "-",
                      f"{r['bare'][big] / OFFICIAL['batched']:.0f}x"]
        print(f"| `{r['name']}` | " + " | ".join(cells) + " |")


def report_train(t: dict, device: torch.device, threads: int) -> None:
    print(f"\n### Training step (`default`, batch {t['batch']} of experiments/default.yaml, {device}, {threads} threads)\n")
    print("| part | ms | samples/s |\n|---|---|---|")
    for key, label in (("data", "synthetic batch (`SyntheticBatches.batch`)"),
                       ("forward", "forward + losses, no grad"),
                       ("step", "forward + `compute_losses` + backward + clip + AdamW step")):
        print(f"| {label} | {t[key] * 1e3:,.0f} | {t['batch'] / t[key]:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default: %(default)s)")
    parser.add_argument("--configs", nargs="+", default=["default", "paper", "mlp"],
                        help="presets, or 'shipped' (the shipped model's config) (default: %(default)s)")
    parser.add_argument("--batch", type=int, nargs="+", default=None,
                        help="batch sizes (default: 1 16 256, plus 4096 on CUDA)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per cell, at most (default: %(default)s)")
    parser.add_argument("--budget", type=float, default=3.0,
                        help="seconds per cell after which repeats stop (at least 3 are taken; default: %(default)s)")
    parser.add_argument("--parts", nargs="+", choices=["network", "lifter", "memory"],
                        default=["network", "lifter", "memory"],
                        help="what to measure besides size and FLOPs (default: all); memory runs in subprocesses")
    parser.add_argument("--train", action="store_true", help="also time one training step of the default model")
    parser.add_argument("--compile", action="store_true", help="also time the network under torch.compile")
    parser.add_argument("--flip", action="store_true", help="also time the Lifter with the flip test (flip=True)")
    parser.add_argument("--snap", action="store_true", help="also time the Lifter snapping onto the keypoints (snap=True)")
    parser.add_argument("--profile", type=int, metavar="BATCH", default=None,
                        help="only profile the given presets at this batch size (torch.profiler)")
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from pose2mesh._device import checked_device

    try:
        device = checked_device(args.device)
    except ValueError as err:  # CUDA asked on a machine without it: one line, not torch's assertion
        parser.error(str(err))
    if args.batch is None:
        args.batch = [1, 16, 256] + ([4096] if device.type == "cuda" else [])
    args.batch = sorted(set(args.batch))
    if args.memory_child:
        memory_child(args.memory_child, args.batch[0], args.threads)
        return
    torch.set_num_threads(args.threads)
    hierarchy, body = load_assets(device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "no GPU"
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {args.threads} CPU threads, "
          f"device {device} ({gpu})")
    if args.profile is not None:
        for name in args.configs:
            profile(name, args.profile, device, hierarchy, body)
        return
    with tempfile.TemporaryDirectory() as tmp:
        rows = [bench_config(name, args, device, hierarchy, body, Path(tmp)) for name in args.configs]
    report(rows, args, device)
    if args.train:
        report_train(train_step(device, hierarchy, body, args), device, args.threads)


if __name__ == "__main__":
    main()
