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
from pose2mesh.train.config import parse_overrides

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
        parse_overrides(["steps"])


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
    with pytest.raises(CheckpointError, match="not a readable pose2mesh checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
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
