"""Training: configuration, losses, checkpoints, exact resume, DDP, the smoke model."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pose2mesh.train import CheckpointError, load_checkpoint, load_config, save_checkpoint
from pose2mesh.train import losses

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "model=smoke", "steps=6", "log_every=1", "val_every=3", "ckpt_every=3", "device=cpu",
    "data.batch_size=4", "data.val_size=8", "data.layouts=[coco, h36m]", "optim.warmup_steps=2",
]


def test_config_yaml_and_overrides(tmp_path):
    cfg = load_config(ROOT / "experiments" / "smoke.yaml", ["optim.lr=3e-4", "data.layouts=[coco]", "steps=7"])
    assert cfg.optim.lr == 3e-4 and cfg.data.layouts == ["coco"] and cfg.steps == 7
    assert cfg.model == "smoke" and cfg.data.batch_size == 48  # from the YAML
    with pytest.raises(ValueError, match="unknown config key 'optim.lrate'; valid: grad_clip, lr"):
        load_config(overrides=["optim.lrate=1"])
    with pytest.raises(ValueError, match="must look like key.sub=value"):
        load_config(overrides=["steps"])


@pytest.mark.parametrize("path", sorted((ROOT / "experiments").rglob("*.yaml")), ids=lambda p: p.stem)
def test_every_experiment_config_is_valid(path):
    from pose2mesh.data.synthetic import SyntheticConfig
    from pose2mesh.train.loop import resolve_model_config

    cfg = load_config(path)
    resolve_model_config(cfg.model)
    for layout in cfg.data.layouts:  # unknown layouts or corruptions raise here
        for corruption in {cfg.data.corruption, cfg.data.pair_corruption or cfg.data.corruption}:
            SyntheticConfig(batch_size=cfg.data.batch_size, layout=layout, corruption=corruption,
                            shapes=cfg.data.shapes)
    assert 0 <= cfg.posenet_pretrain_steps <= cfg.steps


def test_losses_vanish_on_the_target_and_grow_with_error():
    gt = torch.randn(2, 10, 3)
    faces = torch.tensor([[0, 1, 2], [2, 3, 4], [5, 6, 7]])
    assert losses.vertex_loss(gt, gt) == 0 and losses.edge_loss(gt, gt, faces) == 0
    assert losses.normal_loss(gt, gt, faces) < 1e-6
    moved = gt + torch.tensor([0.1, 0.0, 0.0])
    assert torch.isclose(losses.vertex_loss(moved, gt), torch.tensor(0.1 / 3))
    assert losses.edge_loss(moved, gt, faces) < 1e-6  # translation keeps edge lengths
    scaled = gt * 2
    assert losses.edge_loss(scaled, gt, faces) > 0.1
    mask = torch.tensor([1.0] * 5 + [0.0] * 5)
    off = gt.clone()
    off[:, 5:] += 1.0
    assert losses.keypoint_loss(off, gt, mask) == 0 and losses.keypoint_loss(off, gt) > 0


def _face_edges(v, faces):
    """The straightforward formulation the losses were first written in: (B, F, 3 edges, 3)."""
    c = v[:, faces]
    return torch.stack([c[:, :, 1] - c[:, :, 0], c[:, :, 2] - c[:, :, 1], c[:, :, 0] - c[:, :, 2]], 2)


def test_face_losses_equal_the_per_face_formulation():
    # a closed surface (octahedron) plus an open strip: edges shared by 2 faces and boundary edges
    faces = torch.tensor([[0, 1, 2], [0, 2, 3], [0, 3, 4], [0, 4, 1], [5, 2, 1], [5, 3, 2], [5, 4, 3], [5, 1, 4],
                          [6, 7, 8], [7, 9, 8]])
    gen = torch.Generator().manual_seed(0)
    gt = torch.randn(3, 10, 3, generator=gen, dtype=torch.float64)
    pred = (gt + 0.3 * torch.randn(gt.shape, generator=gen, dtype=torch.float64)).requires_grad_()
    e_pred, e_gt = _face_edges(pred, faces), _face_edges(gt, faces)
    n_gt = torch.nn.functional.normalize(torch.linalg.cross(e_gt[:, :, 0], -e_gt[:, :, 2], dim=-1), dim=-1)
    ref_normal = (torch.nn.functional.normalize(e_pred, dim=-1) * n_gt[:, :, None]).sum(-1).abs().mean()
    ref_edge = (e_pred.norm(dim=-1) - e_gt.norm(dim=-1)).abs().mean()
    for ours, ref in ((losses.normal_loss(pred, gt, faces), ref_normal), (losses.edge_loss(pred, gt, faces), ref_edge)):
        torch.testing.assert_close(ours, ref, rtol=1e-12, atol=0)
        g_ours, = torch.autograd.grad(ours, pred)
        g_ref, = torch.autograd.grad(ref, pred, retain_graph=True)
        torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-14)
    collapsed = pred.detach().clone()
    collapsed[:, 1] = collapsed[:, 0]  # a zero-length predicted edge: gradients stay finite
    collapsed.requires_grad_()
    for loss in (losses.normal_loss, losses.edge_loss):
        assert torch.isfinite(torch.autograd.grad(loss(collapsed, gt, faces), collapsed)[0]).all()
    edges, face_edges, uses = losses.mesh_edges(faces)
    assert edges.shape == (12 + 5, 2) and face_edges.shape == (10, 3)
    assert uses.sum() == 30 and uses.max() == 2 and (uses == 1).sum() == 4  # the strip's boundary
    # each face's edges are its own vertex pairs
    for f, fe in zip(faces.tolist(), face_edges.tolist()):
        assert {frozenset(edges[e].tolist()) for e in fe} == {frozenset(p) for p in ([f[0], f[1]], [f[1], f[2]], [f[2], f[0]])}


def test_a_failed_checkpoint_save_leaves_no_temporary_file(tmp_path):
    (tmp_path / "c.pt").mkdir()  # the rename onto a folder fails
    with pytest.raises(OSError):
        save_checkpoint(tmp_path / "c.pt", {"model": {"w": torch.ones(2)}})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]


def test_checkpoint_roundtrip_and_refusals(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(2)}, "hierarchy_hash": "a" * 64, "body_hash": "b" * 64})
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically, no temporary left
    ckpt = load_checkpoint(path, "a" * 64, "b" * 64)
    assert torch.equal(ckpt["model"]["w"], torch.ones(2))
    with pytest.raises(CheckpointError, match="trained against another hierarchy asset"):
        load_checkpoint(path, "c" * 64, "b" * 64)
    torch.save({"format": 1, "pose2mesh_version": "9.9.0"}, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="written by pose2mesh 9.9.0"):
        load_checkpoint(tmp_path / "old.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable pose2mesh checkpoint") as err:
        load_checkpoint(tmp_path / "junk.pt")
    assert "weights_only=False" not in str(err.value)  # torch's advice, unsafe for a file we refuse
    (tmp_path / "truncated.pt").write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="not a readable pose2mesh checkpoint: ") as err:
        load_checkpoint(tmp_path / "truncated.pt")
    assert "\n" not in str(err.value)  # the first line of torch's reason, not its whole essay
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_export_model_keeps_weights_and_drops_training_state(tmp_path):
    from pose2mesh.train import export_model

    state = {"model": {"w": torch.arange(3.0)}, "model_config": {"posenet": "graph"}, "hierarchy_hash": "a" * 64,
             "body_hash": "b" * 64, "optimizer": {"state": {0: torch.ones(100)}}, "scheduler": {}, "rng": torch.zeros(4),
             "step": 7, "best": 1.5}
    save_checkpoint(tmp_path / "train.pt", state)
    export_model(tmp_path / "train.pt", tmp_path / "shipped.pt")
    shipped = load_checkpoint(tmp_path / "shipped.pt", "a" * 64, "b" * 64)
    assert torch.equal(shipped["model"]["w"], torch.arange(3.0)) and shipped["step"] == 7
    assert not {"optimizer", "scheduler", "rng"} & set(shipped)
    assert "anchor" not in shipped["model_config"]  # None: the source's config, untouched
    export_model(tmp_path / "train.pt", tmp_path / "anchored.pt", anchor=0.5)
    anchored = load_checkpoint(tmp_path / "anchored.pt", "a" * 64, "b" * 64)
    assert anchored["model_config"]["anchor"] == 0.5 and anchored["model_config"]["posenet"] == "graph"
    assert torch.equal(anchored["model"]["w"], torch.arange(3.0))
    with pytest.raises(ValueError, match=r"anchor must be in \[0, 1\]"):
        export_model(tmp_path / "train.pt", tmp_path / "bad.pt", anchor=2.0)
    export_model(tmp_path / "anchored.pt", tmp_path / "smoothed.pt", smooth=2)
    smoothed = load_checkpoint(tmp_path / "smoothed.pt", "a" * 64, "b" * 64)
    assert smoothed["model_config"]["meshnet"]["smooth"] == 2 and smoothed["model_config"]["anchor"] == 0.5
    with pytest.raises(ValueError, match="smooth must be a non-negative int"):
        export_model(tmp_path / "train.pt", tmp_path / "bad.pt", smooth=-1)
    assert not (tmp_path / "bad.pt").exists()


def _losses(run: Path) -> dict[int, str]:
    with open(run / "metrics.csv") as f:
        return {int(r["step"]): r["loss"] for r in csv.DictReader(f)}


def test_resume_reproduces_the_uninterrupted_loss_curve(tmp_path):
    from pose2mesh.train.loop import train

    full = train(load_config(overrides=TINY + [f"out_dir={tmp_path / 'full'}"]))
    killed_cfg = load_config(overrides=TINY + [f"out_dir={tmp_path / 'killed'}"])
    train(killed_cfg, stop_after=4)  # "killed" after step 4; the last checkpoint is at step 3
    resumed = train(killed_cfg, resume=True)
    reference, again = _losses(full), _losses(resumed)
    assert sorted(again) == sorted(reference) == list(range(1, 7))
    assert again == reference  # the same losses, digit for digit
    ckpt = load_checkpoint(resumed / "last.pt")
    assert ckpt["step"] == 6 and ckpt["model_config"] and (resumed / "best.pt").exists()
    # a spent time budget ends the call after its first step, with a checkpoint there
    sliced_cfg = load_config(overrides=TINY + [f"out_dir={tmp_path / 'sliced'}"])
    sliced = train(sliced_cfg, max_minutes=0)
    assert load_checkpoint(sliced / "last.pt")["step"] == 1 and sorted(_losses(sliced)) == [1]
    assert _losses(train(sliced_cfg, resume=True)) == reference
    with pytest.raises(ValueError, match="max_minutes must be >= 0"):
        train(sliced_cfg, max_minutes=-1.0)


@pytest.mark.parametrize("times", [1, 2])
def test_ctrl_c_finishes_the_step_and_writes_last_pt(tmp_path, monkeypatch, request, times):
    import signal

    from pose2mesh.train import loop

    # as in a terminal: a job started in the background by a non-interactive shell ignores SIGINT
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))

    compute = loop.compute_losses

    def interrupted(out, batch, config, faces, step):  # Ctrl-C (pressed `times` times) during step 2
        for _ in range(times if step == 1 else 0):
            signal.raise_signal(signal.SIGINT)
        return compute(out, batch, config, faces, step)

    full = loop.train(load_config(overrides=TINY + [f"out_dir={tmp_path / 'full'}"]))
    cfg = load_config(overrides=TINY + [f"out_dir={tmp_path / 'run'}"])
    before = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(loop, "compute_losses", interrupted)
    with pytest.raises(KeyboardInterrupt):
        loop.train(cfg)
    assert signal.getsignal(signal.SIGINT) is before
    if times == 2:  # pressed again: aborted at once, inside step 2, as before
        assert sorted(_losses(tmp_path / "run")) == [1] and not (tmp_path / "run" / "last.pt").exists()
        return
    # once: step 2 is finished, logged and checkpointed (ckpt_every is 3), and the run resumes exactly
    assert sorted(_losses(tmp_path / "run")) == [1, 2] and load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 2
    monkeypatch.setattr(loop, "compute_losses", compute)
    assert _losses(loop.train(cfg, resume=True)) == _losses(full)



def test_a_non_finite_loss_stops_the_run_before_it_reaches_the_weights(tmp_path, monkeypatch, capsys):
    from pose2mesh.models.checkpoint import load_model
    from pose2mesh.train import loop

    compute = loop.compute_losses

    def diverging(out, batch, config, faces, step):  # the loss of step 5 is NaN
        terms = compute(out, batch, config, faces, step)
        return {**terms, "total": terms["total"] * float("nan")} if step == 4 else terms

    monkeypatch.setattr(loop, "compute_losses", diverging)
    cfg = load_config(overrides=TINY + [f"out_dir={tmp_path / 'run'}", "optim.grad_clip=0"])
    with pytest.raises(FloatingPointError, match=r"step 5: the loss \(nan\) or its gradients are not finite"):
        loop.train(cfg)
    assert sorted(_losses(tmp_path / "run")) == [1, 2, 3, 4]
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["step"] == 3 and all(v.isfinite().all() for v in last["model"].values() if v.is_floating_point())
    load_model(tmp_path / "run" / "best.pt")  # finite: nothing non-finite was saved
    from pose2mesh.cli.main import main

    args = [f"--set={o}" for o in TINY + [f"out_dir={tmp_path / 'cli'}", "optim.grad_clip=0"]]
    assert main(["train", str(ROOT / "experiments" / "smoke.yaml"), *args]) == 1  # one line from the CLI
    assert "pose2mesh train: error: step 5: the loss (nan)" in capsys.readouterr().err

def test_more_cuda_processes_than_gpus_is_a_clear_error(monkeypatch):
    from pose2mesh.train import loop

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"2 training processes on this machine but 1 GPU\(s\)"):
        loop._distributed(torch.device("cuda"))


@pytest.mark.skipif(sys.platform != "linux", reason="torchrun test written for Linux")
def test_ranks_agree_on_when_to_stop(tmp_path):
    script = tmp_path / "agree.py"
    script.write_text(
        "import json, os, signal, sys, torch, torch.distributed as dist\n"
        "from pose2mesh.train.loop import _StopRequest\n"
        "dist.init_process_group('gloo'); rank = dist.get_rank()\n"
        "asked = _StopRequest(None, 2)\n"
        "if rank == 0: asked.signum = signal.SIGTERM  # only rank 0 got the signal\n"
        "late = _StopRequest(0.0 if rank == 1 else None, 2)  # only rank 1 is past its budget\n"
        "answers = [asked(), late(), _StopRequest(None, 2)(), _StopRequest(60.0, 2)()]\n"
        "json.dump(answers, open(os.path.join(sys.argv[1], f'rank{rank}.json'), 'w'))\n"
        "dist.barrier(); dist.destroy_process_group()  # no gloo thread left running at exit (it can abort)\n")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29534",
           str(script), str(tmp_path)]
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300, capture_output=True)
    for rank in (0, 1):
        assert json.loads((tmp_path / f"rank{rank}.json").read_text()) == [True, True, False, False]


def test_init_starts_a_joint_run_from_a_pretrained_posenet(tmp_path):
    from pose2mesh.train.loop import train

    pre = train(load_config(overrides=TINY + [f"out_dir={tmp_path / 'pre'}", "steps=2", "posenet_pretrain_steps=2"]))
    val = (pre / "val.csv").read_text().splitlines()
    assert val[0].endswith("val_posenet_mpjpe_mm") and len(val) == 2
    # lr 0: the joint run's single step leaves the weights where init put them
    joint = train(load_config(overrides=TINY + [f"out_dir={tmp_path / 'joint'}", "steps=1", "optim.lr=0",
                                                f"init={pre / 'last.pt'}", "data.batch_size=2"]))
    before, after = load_checkpoint(pre / "last.pt")["model"], load_checkpoint(joint / "last.pt")["model"]
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert load_checkpoint(joint / "last.pt")["step"] == 1  # optimiser, schedule and step start afresh
    hashes = {k: load_checkpoint(pre / "last.pt")[k] for k in ("hierarchy_hash", "body_hash")}
    # a list: later entries override earlier ones, tensor by tensor; a prefix restricts an entry
    save_checkpoint(tmp_path / "zeros.pt", {"model": {k: torch.zeros_like(v) for k, v in before.items()}, **hashes})
    both = train(load_config(overrides=TINY + [f"out_dir={tmp_path / 'both'}", "steps=1", "optim.lr=0",
                                               f"init=[{pre / 'last.pt'}, {{path: {tmp_path / 'zeros.pt'}, prefix: posenet.}}]",
                                               "data.batch_size=2"]))
    merged = load_checkpoint(both / "last.pt")["model"]
    assert any(k.startswith("posenet.") for k in merged) and any(k.startswith("meshnet.") for k in merged)
    for k in merged:
        assert torch.equal(merged[k], torch.zeros_like(before[k]) if k.startswith("posenet.") else before[k]), k
    with pytest.raises(ValueError, match="init entries are a checkpoint path or"):
        train(load_config(overrides=TINY + [f"out_dir={tmp_path / 'bad'}", "init=[{file: x.pt}]"]))
    save_checkpoint(tmp_path / "other.pt", {"model": {"unrelated.weight": torch.ones(1)}, **hashes})
    with pytest.raises(ValueError, match="shares no tensor"):
        train(load_config(overrides=TINY + [f"out_dir={tmp_path / 'bad'}", f"init={tmp_path / 'other.pt'}"]))


def test_training_draws_its_poses_from_the_given_pose_prior_and_augments_them(tmp_path):
    from pose2mesh.data.poses import PosePrior
    from pose2mesh.train.loop import train

    shipped = PosePrior.load()
    PosePrior(shipped.pose[:3], shipped.global_orient[:3], shipped.joint_names, shipped.meta).save(tmp_path / "few.npz")
    short = TINY + ["steps=2", "val_every=2", "ckpt_every=2"]
    reference = _losses(train(load_config(overrides=short + [f"out_dir={tmp_path / 'shipped'}"])))
    few = _losses(train(load_config(overrides=short + [f"out_dir={tmp_path / 'few'}", f"data.pose_prior={tmp_path / 'few.npz'}"])))
    assert sorted(few) == sorted(reference) == [1, 2] and few != reference  # same seed, other poses
    noisy = _losses(train(load_config(overrides=short + [f"out_dir={tmp_path / 'noisy'}", "data.pose_noise=0.2"])))
    assert sorted(noisy) == [1, 2] and noisy != reference
    names = tuple(reversed(shipped.joint_names))
    PosePrior(shipped.pose[:3], shipped.global_orient[:3], names, shipped.meta).save(tmp_path / "other_rig.npz")
    with pytest.raises(ValueError, match="rig does not match"):  # refused before the run's logs are touched
        train(load_config(overrides=short + [f"out_dir={tmp_path / 'few'}", f"data.pose_prior={tmp_path / 'other_rig.npz'}"]))
    assert _losses(tmp_path / "few") == few


def test_a_camera_model_learns_from_the_batch_cameras(tmp_path):
    from pose2mesh.train.loop import train

    short = TINY + ["model=default", "steps=1", "posenet_pretrain_steps=1"]
    pre = train(load_config(overrides=short + [f"out_dir={tmp_path / 'pre'}"]))
    cam = train(load_config(overrides=short + [f"out_dir={tmp_path / 'cam'}", f"init={pre / 'last.pt'}",
                                               "model={camera: true, camera_dropout: 0}"]))
    before, after = load_checkpoint(pre / "last.pt")["model"], load_checkpoint(cam / "last.pt")["model"]
    assert set(after) - set(before) == {"posenet.camera_input.weight"}
    # initialised at zero; the camera features of the batches' K give it a gradient
    assert after["posenet.camera_input.weight"].abs().max() > 0


@pytest.mark.skipif(sys.platform != "linux", reason="torchrun test written for Linux")
def test_two_process_torchrun_stays_in_sync(tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "pose2mesh", "train", str(ROOT / "experiments" / "smoke.yaml")]
    for item in TINY[1:] + [f"out_dir={out}", "steps=3"]:
        cmd += ["--set", item]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(cmd, check=True, env=env, timeout=600, capture_output=True)
    sync = json.loads((out / "ddp_sync.json").read_text())
    assert sync["world_size"] == 2 and sync["param_checksums"][0] == sync["param_checksums"][1]
    assert (out / "last.pt").exists()


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


@pytest.mark.skipif(sys.platform != "linux", reason="torchrun test written for Linux")
@pytest.mark.parametrize("target", ["ctrl_c_to_torchrun", "sigterm_to_one_rank"])
def test_a_signal_stops_a_torchrun_run_cleanly(tmp_path, target):
    import signal
    import time

    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29535",
           "-m", "pose2mesh", "train", str(ROOT / "experiments" / "smoke.yaml")]
    for item in TINY[1:] + [f"out_dir={out}", "steps=100000", "ckpt_every=100000", "val_every=100000"]:
        cmd += ["--set", item]
    proc = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not ((out / "metrics.csv").exists() and len(_losses(out)) >= 2):
            assert proc.poll() is None and time.monotonic() < deadline, "the run did not start"
            time.sleep(0.2)
        if target == "ctrl_c_to_torchrun":  # as a terminal's Ctrl-C: torchrun passes SIGINT on to the ranks
            os.killpg(proc.pid, signal.SIGINT)
        else:  # one rank only (either): the other must stop at the same step
            os.kill(_children(proc.pid)[0], signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0 and "stopped at step" in err and "Traceback" not in err.split("stopped at step")[0]
    step = load_checkpoint(out / "last.pt")["step"]
    assert 2 <= step < 100000 and max(_losses(out)) == step  # the interrupted step finished and was saved
    sync = json.loads((out / "ddp_sync.json").read_text())
    assert sync["param_checksums"][0] == sync["param_checksums"][1]


def test_consistency_loss_is_the_mean_distance_with_finite_gradients():
    a = torch.zeros(1, 2, 3, requires_grad=True)
    b = torch.tensor([[[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]]])
    assert torch.isclose(losses.consistency_loss(a, b), torch.tensor(2.5))  # (5 + 0) / 2
    losses.consistency_loss(a, b).backward()
    assert torch.isfinite(a.grad).all() and a.grad[0, 1].abs().max() == 0  # no NaN where they agree
    assert torch.allclose(a.grad[0, 0], -b[0, 0] / 5 / 2)


def test_paired_layouts_cover_every_ordered_pair():
    from pose2mesh.train.loop import paired_layout

    layouts = ["coco", "h36m", "mpii"]
    pairs = [(layouts[s % 3], paired_layout(layouts, s)) for s in range(6)]
    assert sorted(pairs) == sorted((a, b) for a in layouts for b in layouts if a != b)
    with pytest.raises(ValueError, match="at least 2 layouts"):
        paired_layout(["coco"], 0)


def test_consistency_training_pairs_the_same_samples_in_two_layouts(tmp_path):
    from pose2mesh.body.open_body import OpenBody
    from pose2mesh.data.synthetic import SyntheticBatches, SyntheticConfig
    from pose2mesh.train.loop import pair_batches, train

    body = OpenBody.load()
    a, b, c = (SyntheticBatches(body, config=SyntheticConfig(batch_size=3, layout=layout, corruption=corruption), seed=5)
               for layout, corruption in (("coco", "detector"), ("h36m", "none"), ("coco", "detector")))
    paired = pair_batches(a.batch(2, mesh=False), b.batch(2, mesh=False))
    assert paired["paired"] and paired["superset"].shape == (6, 52, 2) and "vertices" not in paired
    assert torch.equal(paired["superset3d"][:3], paired["superset3d"][3:])
    assert not torch.equal(paired["presence"][:3], paired["presence"][3:])  # two layouts' keypoints
    with pytest.raises(ValueError, match="same samples in both layouts"):
        pair_batches(a.batch(2, mesh=False), c.batch(3, mesh=False))

    run = train(load_config(overrides=TINY + [f"out_dir={tmp_path / 'pair'}", "steps=2", "loss.consistency=0.5",
                                              "data.pair_corruption=none"]))
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["layout"] for r in rows] == ["coco+h36m", "h36m+coco"] and all(float(r["consistency"]) > 0 for r in rows)
    with pytest.raises(ValueError, match="at least 2 layouts"):
        train(load_config(overrides=TINY + [f"out_dir={tmp_path / 'one'}", "loss.consistency=1", "data.layouts=[coco]"]))


def test_consistency_term_compares_the_halves_of_a_paired_batch():
    from pose2mesh.train.loop import compute_losses

    cfg = load_config(overrides=["loss.consistency=2.0"])
    gt = {"superset3d": torch.randn(2, 52, 3).repeat(2, 1, 1), "vertices": torch.randn(2, 5, 3).repeat(2, 1, 1)}
    out = {"joints_posenet": gt["superset3d"].clone(), "joints_mesh": gt["superset3d"].clone(),
           "vertices": gt["vertices"].clone()}
    out["vertices"][2:, :, 0] += 0.1  # the second layout's meshes 10 cm off, its keypoints equal
    faces = torch.tensor([[0, 1, 2], [2, 3, 4]])
    paired = compute_losses(out, {**gt, "paired": True}, cfg, faces, step=5)
    single = compute_losses(out, gt, cfg, faces, step=5)
    assert torch.isclose(paired["consistency"], torch.tensor(0.1)) and "consistency" not in single
    assert torch.isclose(paired["total"] - single["total"], torch.tensor(2.0 * 0.1))
    keypoints_only = compute_losses({"joints_posenet": out["joints_posenet"]}, {**gt, "paired": True},
                                    load_config(overrides=["loss.consistency=1", "posenet_pretrain_steps=10"]), faces, 5)
    assert keypoints_only["consistency"] < 1e-6  # PoseNet steps compare the PoseNet's keypoints only
