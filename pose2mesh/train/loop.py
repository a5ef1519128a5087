"""The training loop: synthetic batches -> Pose2MeshNet, checkpoints that resume exactly.

Runs on one device, or on several processes under ``torchrun`` (PyTorch DDP;
gloo on CPU, nccl on GPU), each rank drawing its own synthetic stream.  Batch
``i`` of rank ``r`` is a pure function of ``(seed, r, i)``, the optimiser,
scheduler and RNG states are checkpointed, so ``resume=True`` continues a
killed run with the same losses as an uninterrupted one (same device, same
thread count).  All quantities are metres, root-relative (superset pelvis),
OpenCV camera axes.
"""
from __future__ import annotations

import copy
import csv
import logging
import math
import os
import signal
import threading
import time
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from pose2mesh._assets import asset_path
from pose2mesh._device import checked_device
from pose2mesh.body.open_body import OpenBody
from pose2mesh.data.poses import PosePrior
from pose2mesh.data.synthetic import SyntheticBatches, SyntheticConfig
from pose2mesh.graph import load_hierarchy
from pose2mesh.graph.build import DEFAULT_FILE
from pose2mesh.models import build_model
from pose2mesh.train import losses
from pose2mesh.train.checkpoint import load_checkpoint, save_checkpoint
from pose2mesh.train.config import TrainConfig, resolve_model_config

logger = logging.getLogger(__name__)

LOG_FIELDS = ("step", "layout", "loss", "vertices", "normals", "edges", "joints_mesh", "joints_posenet",
              "consistency", "lr", "samples_per_s")
#: The batch keys the losses use (the layout-independent ones: a paired batch concatenates them).
PAIRED_KEYS = ("superset", "presence", "superset3d", "vertices", "K")
VAL_FIELDS = ("step", "val_mpjpe_mm", "val_pa_mpjpe_mm", "val_mpvpe_mm", "val_posenet_mpjpe_mm")


def _distributed(device: torch.device) -> tuple[int, int, torch.device]:
    """(rank, world size, this rank's device), initialising the process group under torchrun.

    nccl for CUDA (one process per GPU: local rank ``i`` takes ``cuda:i``), gloo
    otherwise (``--set device=cpu`` on a GPU machine included).

    Raises:
        ValueError: more CUDA processes on this machine than GPUs.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device
    if device.type == "cuda":
        gpus, per_node = torch.cuda.device_count(), int(os.environ.get("LOCAL_WORLD_SIZE", "0"))
        if per_node > gpus:
            raise ValueError(f"{per_node} training processes on this machine but {gpus} GPU(s): "
                             f"start one per GPU (torchrun --nproc_per_node {gpus}), "
                             "or train on the CPU (--set device=cpu)")
        # torchrun sets LOCAL_RANK; other launchers may set only RANK
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", os.environ.get("RANK", "0"))) % gpus)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


class _StopRequest:
    """When to stop early and cleanly: on SIGINT / SIGTERM, or once a wall-clock budget is spent.

    A first signal asks the loop to stop at the end of the current step (the
    caller then writes ``last.pt`` and, after the loop, hands the signal on to
    the handler that was there before: :meth:`deliver`); a second one goes to
    that handler at once (Ctrl-C twice aborts).  Handlers are installed only from
    the main thread (Python's rule) and for signals not ignored, and are
    restored on exit.  Under DDP every rank must stop at the same step, so
    :meth:`__call__` takes the maximum of the ranks' answers: one all-reduce of
    a CPU scalar per step (over a gloo group when the run uses nccl, so that it
    never waits for the GPU).

    Args:
        max_minutes: wall-clock budget from construction, in minutes (None: no budget).
        world: number of processes (DDP world size; 1: none).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, max_minutes: float | None, world: int) -> None:
        if max_minutes is not None and not max_minutes >= 0:
            raise ValueError(f"max_minutes must be >= 0, got {max_minutes}")
        self.deadline = None if max_minutes is None else time.monotonic() + 60.0 * max_minutes
        self.world = world
        self.group = dist.new_group(backend="gloo") if world > 1 and dist.get_backend() != "gloo" else None
        self.signum: int | None = None
        self.previous: dict[int, object] = {}

    def __enter__(self) -> "_StopRequest":
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                if signal.getsignal(s) not in (signal.SIG_IGN, None):
                    self.previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        self.previous = {}

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:  # a second signal: the previous handler, now
            self.__exit__()
            signal.raise_signal(signum)
            return
        self.signum = signum
        logger.warning("%s: stopping after this step and writing last.pt (send it again to abort now)",
                       signal.Signals(signum).name)

    @property
    def out_of_time(self) -> bool:
        """This process's budget is spent."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def __call__(self) -> bool:
        """True when this process, or any rank under DDP, should stop now."""
        local = self.signum is not None or self.out_of_time
        if self.world == 1:
            return local
        flag = torch.tensor([float(local)])
        dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=self.group)
        return bool(flag.item())

    def deliver(self) -> None:
        """Send the signal that stopped the run (if any) to the handler that was there before it."""
        if self.signum is not None:
            signal.raise_signal(self.signum)


def _schedule(config: TrainConfig):
    """Linear warm-up then cosine decay to 5 % of the peak learning rate."""
    warm, total = max(config.optim.warmup_steps, 1), max(config.steps, 1)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        progress = min((step - warm) / max(total - warm, 1), 1.0)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def root_relative(batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Ground-truth superset keypoints ``(B, S, 3)`` and vertices ``(B, V, 3)``, minus the superset pelvis (metres)."""
    root = batch["superset3d"][:, :1]
    return batch["superset3d"] - root, batch["vertices"] - root


def paired_layout(layouts: list[str], step: int) -> str:
    """The second layout of ``step`` in consistency training (``loss.consistency > 0``).

    Step ``s`` trains ``layouts[s % n]``; its partner cycles through the other
    ``n - 1`` layouts in turn, so every ordered pair comes up once in ``n (n - 1)`` steps.
    """
    n = len(layouts)
    if n < 2:
        raise ValueError(f"layout consistency needs at least 2 layouts in data.layouts, got {layouts}")
    return layouts[(step + 1 + (step // n) % (n - 1)) % n]


def pair_batches(a: dict, b: dict) -> dict:
    """One batch of ``2 B`` samples: ``a`` then ``b`` (the same samples in two layouts), marked ``paired``.

    Only the layout-independent keys (:data:`PAIRED_KEYS`) are kept.
    """
    if not torch.equal(a["superset3d"], b["superset3d"]):
        raise ValueError("a paired batch needs the same samples in both layouts (same stream index and seed)")
    out = {k: torch.cat([a[k], b[k]]) for k in PAIRED_KEYS if k in a}
    out["paired"] = True
    return out


def compute_losses(out: dict, batch: dict, config: TrainConfig, faces: torch.Tensor, step: int) -> dict:
    """Weighted loss terms (see :class:`pose2mesh.train.config.LossConfig`); ``total`` is their sum.

    A batch made by :func:`pair_batches` (``batch["paired"]``) adds the
    ``consistency`` term between its two halves when ``loss.consistency > 0``.
    """
    w = config.loss
    root = batch["superset3d"][:, :1]
    gt_joints = batch["superset3d"] - root
    terms = {"joints_posenet": losses.keypoint_loss(out["joints_posenet"], gt_joints)}
    if step >= config.posenet_pretrain_steps:  # mesh terms (pre-training batches have no vertices)
        gt_vertices = batch["vertices"] - root
        terms["vertices"] = losses.vertex_loss(out["vertices"], gt_vertices)
        terms["joints_mesh"] = losses.keypoint_loss(out["joints_mesh"], gt_joints)
        if w.normals:
            terms["normals"] = losses.normal_loss(out["vertices"], gt_vertices, faces)
        if w.edges and step >= w.edges_from_step:
            terms["edges"] = losses.edge_loss(out["vertices"], gt_vertices, faces)
    if w.consistency and batch.get("paired"):
        terms["consistency"] = sum(losses.consistency_loss(*out[k].chunk(2)) for k in ("joints_posenet", "vertices")
                                   if k in out)
    terms["total"] = sum(getattr(w, k) * v for k, v in terms.items())
    return terms


def make_validation(body: OpenBody, prior: PosePrior, config: TrainConfig) -> list[dict]:
    """The fixed-seed held-out set: real motion if ``data.val_motion`` is set, else prior samples (seed + 10^6).

    Generated on the CPU (a CUDA generator draws other numbers from the same
    seed), so validation figures compare across devices; returned on ``body``'s device.
    """
    val, device = config.data, body.v_template.device
    if device.type != "cpu":
        body, prior = copy.deepcopy(body).cpu(), prior.to("cpu")
    if val.val_motion:
        from pose2mesh.data.testset import make_test_set
        from pose2mesh.joints import to_superset

        ts = make_test_set(val.val_motion, layout="coco", n=val.val_size, seed=12345, noise="detector", body=body)
        superset, presence = to_superset(ts.keypoints, "coco")
        batches = [{"superset": superset, "presence": presence, "superset3d": ts.superset3d, "vertices": ts.vertices,
                    "K": ts.K}]
    else:
        cfg = SyntheticConfig(batch_size=min(val.val_size, 256), layout="coco", corruption=val.corruption,
                              num_betas=val.num_betas, shapes="adults")
        stream = SyntheticBatches(body, prior, cfg, seed=config.seed + 10**6)
        batches = [stream.batch(i) for i in range(math.ceil(val.val_size / cfg.batch_size))]
    return [{k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in b.items()} for b in batches]


@torch.no_grad()
def validate(model, batches: list[dict]) -> dict[str, float]:
    """MPJPE / PA-MPJPE of the keypoints regressed from the mesh, MPVPE and the PoseNet's MPJPE (mm) over ``batches``."""
    from pose2mesh.metrics import mpjpe, mpvpe, pa_mpjpe

    was_training = model.training
    model.eval()
    sums, count = {k: 0.0 for k in VAL_FIELDS[1:]}, 0
    for batch in batches:
        out = model(batch["superset"], batch["presence"], K=batch["K"])
        gt_joints, gt_vertices = root_relative(batch)
        n = gt_joints.shape[0]
        sums["val_mpjpe_mm"] += float(mpjpe(out["joints_mesh"], gt_joints).sum())
        sums["val_pa_mpjpe_mm"] += float(pa_mpjpe(out["joints_mesh"], gt_joints).sum())
        sums["val_mpvpe_mm"] += float(mpvpe(out["vertices"], gt_vertices).sum())
        sums["val_posenet_mpjpe_mm"] += float(mpjpe(out["joints_posenet"], gt_joints).sum())
        count += n
    model.train(was_training)
    return {k: v / count for k, v in sums.items()}


def _append_csv(path: Path, fields, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def _tensorboard(out_dir: Path):
    """A TensorBoard ``SummaryWriter`` on ``out_dir/tb`` when tensorboard is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional: the CSV logs hold the same numbers
        return None
    return SummaryWriter(str(out_dir / "tb"))


def _truncate_csv(path: Path, step: int, fields) -> None:
    """Drop rows logged after ``step`` (written after the checkpoint a run resumes from).

    The file is rewritten with ``fields`` as its header, so a run logged by an
    older version (fewer columns) goes on with the current columns.
    """
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(r for r in rows if int(r["step"]) <= step)


def _init_entries(init) -> list[tuple[str, str]]:
    """``TrainConfig.init`` as a list of ``(path, prefix)``."""
    entries = []
    for item in [init] if isinstance(init, (str, dict)) else init:
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict) or set(item) - {"path", "prefix"} or "path" not in item:
            raise ValueError(f"init entries are a checkpoint path or {{path: ..., prefix: ...}}, got {item!r}")
        entries.append((str(item["path"]), str(item.get("prefix", ""))))
    return entries


def _initialise(model, path: str, prefix: str, hierarchy_hash: str, body_hash: str, device) -> None:
    """Copy every tensor of the checkpoint at ``path`` whose name (starting with ``prefix``) and shape match into ``model``."""
    state = load_checkpoint(path, hierarchy_hash, body_hash, map_location=device)["model"]
    own = model.state_dict()
    matched = {k: v for k, v in state.items() if k.startswith(prefix) and k in own and own[k].shape == v.shape}
    if not matched:
        raise ValueError(f"init checkpoint {path} shares no tensor (name{f' starting with {prefix!r}' if prefix else ''}"
                         " and shape) with this model")
    model.load_state_dict(matched, strict=False)
    left = sorted(set(own) - set(matched))
    logger.info("initialised %d of %d tensors from %s%s", len(matched), len(own), path,
                f"; not from it: {', '.join(left)}" if left else "")


def train(config: TrainConfig, resume: bool = False, stop_after: int | None = None,
          max_minutes: float | None = None) -> Path:
    """Train a model; returns the run folder (``last.pt``, ``best.pt``, ``metrics.csv``, ``val.csv``).

    No work is lost to an interruption: on SIGINT (Ctrl-C) or SIGTERM (``kill``,
    a scheduler's time-out, torchrun passing either on) the step in progress is
    finished, ``last.pt`` is written, and the signal is then handled as it would
    have been (``KeyboardInterrupt`` for SIGINT).  ``resume=True`` continues
    from there with the losses of an uninterrupted run.

    Args:
        config: the run's configuration.
        resume: continue from ``out_dir/last.pt`` (model, optimiser, scheduler, RNG, step).
            Without that file the run starts from step 0 (``init`` applies) and a
            warning says that nothing was resumed.
        stop_after: stop once this many steps are done in total, without a final
            checkpoint, as a killed run would; used to test resuming.
        max_minutes: wall-clock budget of this call, setup included, in minutes:
            the first step that ends past it is the last, ``last.pt`` is written
            and the function returns normally (a warning names the step); call
            again with ``resume=True`` to go on.  Lets a long recipe run in
            slices on machines that limit a command's time.  None: no budget.
    """
    if config.loss.consistency:
        paired_layout(config.data.layouts, 0)  # raises with fewer than 2 layouts
    device = checked_device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    rank, world, device = _distributed(device)
    stop = _StopRequest(max_minutes, world)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(config.seed)
    body = OpenBody.load(device=device)
    hierarchy = load_hierarchy(asset_path(DEFAULT_FILE))
    mcfg = resolve_model_config(config.model)
    model = build_model(mcfg, hierarchy, body.regressor_superset.float(), device=device, template=body.v_template)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.optim.lr, weight_decay=config.optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config))
    # Data first, so that a bad prior or data setting fails before out_dir's logs are touched;
    # the streams have generators of their own and leave the global RNG alone.
    prior = PosePrior.load(config.data.pose_prior, device=device)
    def make_streams(corruption: str) -> dict[str, SyntheticBatches]:
        return {layout: SyntheticBatches(body, prior, SyntheticConfig(
                    batch_size=config.data.batch_size, layout=layout, corruption=corruption,
                    num_betas=config.data.num_betas, mix_limbs=config.data.mix_limbs,
                    pose_noise=config.data.pose_noise, shapes=config.data.shapes),
                    seed=config.seed, rank=rank, world_size=world)
                for layout in config.data.layouts}

    streams = make_streams(config.data.corruption)
    pair_corruption = config.data.pair_corruption or config.data.corruption
    pair_streams = streams if pair_corruption == config.data.corruption else make_streams(pair_corruption)
    start, best = 0, float("inf")
    resuming = resume and (out_dir / "last.pt").exists()
    if resume and not resuming and rank == 0:  # kept as a fallback: scripts pass --resume every time
        logger.warning("resume: %s not found, nothing to resume; starting from step 0", out_dir / "last.pt")
    if config.init and not resuming:
        for path, prefix in _init_entries(config.init):
            _initialise(model, path, prefix, hierarchy.content_hash(), body.content_hash, device)
    if resuming:
        # on the CPU: the RNG states must be CPU tensors; load_state_dict moves the rest
        ckpt = load_checkpoint(out_dir / "last.pt", hierarchy.content_hash(), body.content_hash, map_location="cpu")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["rng"])
        if device.type == "cuda" and "cuda_rng" in ckpt:
            torch.cuda.set_rng_state(ckpt["cuda_rng"], device)
        start, best = int(ckpt["step"]), float(ckpt["best"])
        logger.info("resumed from step %d", start)
        if rank == 0:
            _truncate_csv(out_dir / "metrics.csv", start, LOG_FIELDS)
            _truncate_csv(out_dir / "val.csv", start, VAL_FIELDS)
    elif rank == 0:
        for name in ("metrics.csv", "val.csv"):
            (out_dir / name).unlink(missing_ok=True)
    net = model
    if world > 1:
        # Sparse buffers (the hierarchy's Laplacians and pooling maps) are constants,
        # identical on every rank, and DDP cannot broadcast sparse tensors: skip them.
        sparse = [n for n, b in model.named_buffers() if b.is_sparse or b.layout != torch.strided]
        torch.nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, sparse)
        # PoseNet pre-training leaves the MeshNet without gradients.
        net = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=config.posenet_pretrain_steps > 0)

    val_batches = make_validation(body, prior, config) if rank == 0 else []
    faces = body.faces
    meta = {"model_config": mcfg.to_dict(), "hierarchy_hash": hierarchy.content_hash(),
            "body_hash": body.content_hash, "train_config": config.to_dict()}

    def checkpoint(step: int, name: str = "last.pt") -> None:
        if rank == 0:
            rng = {"rng": torch.get_rng_state()}
            if device.type == "cuda":  # dropout draws on the GPU
                rng["cuda_rng"] = torch.cuda.get_rng_state(device)
            save_checkpoint(out_dir / name, {**meta, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                             "scheduler": scheduler.state_dict(), **rng, "step": step, "best": best})

    end = config.steps if stop_after is None else min(config.steps, stop_after)
    board = _tensorboard(out_dir) if rank == 0 else None
    bar = tqdm(range(start, end), desc="train", disable=rank != 0 or None, initial=start, total=config.steps)
    model.train()
    tic = time.perf_counter()
    with stop:
        for step in bar:
            layout = config.data.layouts[step % len(config.data.layouts)]
            # PoseNet pre-training needs keypoints only: no mesh is generated or predicted.
            mesh = step >= config.posenet_pretrain_steps
            if step == config.posenet_pretrain_steps > 0:
                best = float("inf")  # the best pre-training checkpoint was ranked by the PoseNet alone
            batch = streams[layout].batch(step, mesh=mesh)
            if config.loss.consistency:
                other = paired_layout(config.data.layouts, step)
                batch = pair_batches(batch, pair_streams[other].batch(step, mesh=mesh))
                layout = f"{layout}+{other}"
            autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.amp and device.type == "cuda")
            with autocast:
                out = net(batch["superset"], batch["presence"], mesh=mesh, K=batch["K"])
                terms = compute_losses({k: v.float() for k, v in out.items()}, batch, config, faces, step)
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            # the gradients' norm (clipped to grad_clip; inf: off) is the same on every rank after DDP's
            # all-reduce, so a non-finite one stops every rank at this step, before it reaches the weights
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.grad_clip or math.inf)
            if not torch.isfinite(norm):
                raise FloatingPointError(
                    f"step {step + 1}: the loss ({terms['total'].item():.4g}) or its gradients are not finite; the "
                    f"weights were not updated and {out_dir / 'last.pt'} keeps the last checkpoint (every "
                    f"{config.ckpt_every} steps). Lower optim.lr or set optim.grad_clip, then continue with --resume"
                )
            optimizer.step()
            scheduler.step()
            done = step + 1
            if rank == 0 and (done % config.log_every == 0 or done == end):
                elapsed = time.perf_counter() - tic
                tic = time.perf_counter()
                row = {"step": done, "layout": layout, "loss": f"{terms['total'].item():.6g}",
                       "lr": f"{scheduler.get_last_lr()[0]:.4g}",
                       "samples_per_s": f"{config.log_every * len(batch['superset']) * world / max(elapsed, 1e-9):.1f}"}
                row.update({k: f"{v.item():.6g}" for k, v in terms.items() if k != "total"})
                _append_csv(out_dir / "metrics.csv", LOG_FIELDS, row)
                if board is not None:
                    for key, value in row.items():
                        if key not in ("step", "layout"):
                            board.add_scalar(f"train/{key}", float(value), done)
                bar.set_postfix(loss=row["loss"], sps=row["samples_per_s"])
            if rank == 0 and val_batches and (done % config.val_every == 0 or done == config.steps):
                metrics = validate(model, val_batches)
                _append_csv(out_dir / "val.csv", VAL_FIELDS, {"step": done, **{k: f"{v:.3f}" for k, v in metrics.items()}})
                if board is not None:
                    for key, value in metrics.items():
                        board.add_scalar(f"val/{key}", value, done)
                # while PoseNet pre-trains alone the mesh is untrained: rank by the PoseNet's keypoints
                score = metrics["val_mpjpe_mm" if mesh else "val_posenet_mpjpe_mm"]
                if score < best:
                    best = score
                    checkpoint(done, "best.pt")
            stop_now = done < end and stop()
            if stop_now or done % config.ckpt_every == 0 or done == config.steps:
                checkpoint(done)
            if stop_now:
                if stop.signum is not None:
                    why = signal.Signals(stop.signum).name
                elif stop.out_of_time:
                    why = f"time budget of {max_minutes:g} min spent"
                else:
                    why = "another rank stopped"
                logger.warning("%s: stopped at step %d of %d; last.pt written, continue with --resume",
                               why, done, config.steps)
                break
        bar.close()
        if board is not None:
            board.close()
        if world > 1:
            _check_ranks_in_sync(model, out_dir, rank, world)
    stop.deliver()  # outside `with stop`: to the handler that was there before
    return out_dir


def _check_ranks_in_sync(model, out_dir: Path, rank: int, world: int) -> None:
    """All-gather a checksum of the parameters; write them to ``ddp_sync.json``; raise if ranks diverged."""
    import json

    local = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().reshape(1)
    gathered = [torch.zeros_like(local) for _ in range(world)]
    dist.all_gather(gathered, local)
    sums = [float(g) for g in gathered]
    if rank == 0:
        (out_dir / "ddp_sync.json").write_text(json.dumps({"world_size": world, "param_checksums": sums}))
    dist.barrier()
    if any(s != sums[0] for s in sums):
        raise RuntimeError(f"DDP ranks diverged: parameter checksums {sums}")
