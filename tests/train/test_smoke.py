"""The smoke recipe trains on a CPU in minutes and clearly beats the mean-pose baseline."""
from pathlib import Path

import pytest
import torch

from pose2mesh.body import load_body
from pose2mesh.data import SyntheticBatches, SyntheticConfig
from pose2mesh.metrics import mpjpe, mpvpe
from pose2mesh.train import load_config
from pose2mesh.train.checkpoint import load_model
from pose2mesh.train.loop import root_relative, train

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "graphs" / "model_default.pt"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    return train(load_config(ROOT / "experiments" / "smoke.yaml", [f"out_dir={out}"]))


def test_smoke_model_beats_the_mean_pose(smoke_run):
    model, ckpt = load_model(smoke_run / "last.pt")
    body = load_body("default")
    # held-out synthetic samples (a seed the run never used), clean COCO input
    batch = SyntheticBatches(body, config=SyntheticConfig(batch_size=256, corruption="none"), seed=4242).batch(0)
    reference = SyntheticBatches(body, config=SyntheticConfig(batch_size=256, corruption="none"), seed=77).batch(0)
    gt_joints, gt_vertices = root_relative(batch)
    ref_joints, ref_vertices = root_relative(reference)
    with torch.no_grad():
        out = model(batch["superset"], batch["presence"])
    model_mpjpe = mpjpe(out["joints_mesh"], gt_joints).mean()
    model_mpvpe = mpvpe(out["vertices"], gt_vertices).mean()
    base_mpjpe = mpjpe(ref_joints.mean(0).expand_as(gt_joints), gt_joints).mean()
    base_mpvpe = mpvpe(ref_vertices.mean(0).expand_as(gt_vertices), gt_vertices).mean()
    print(f"smoke: MPJPE {model_mpjpe:.1f} mm (mean pose {base_mpjpe:.1f}), MPVPE {model_mpvpe:.1f} (mean pose {base_mpvpe:.1f})")
    assert model_mpjpe < 0.75 * base_mpjpe
    assert model_mpvpe < 0.75 * base_mpvpe
    assert ckpt["step"] == load_config(ROOT / "experiments" / "smoke.yaml").steps


def test_evaluate_command_writes_a_report(smoke_run, tmp_path):
    from pose2mesh.cli.main import main

    mocap = ROOT.parent / "shared" / "mocap" / "extra_daz_skeleton"
    if not mocap.is_dir():
        pytest.skip("../shared/mocap is absent")
    out = tmp_path / "eval"
    assert main(["evaluate", str(smoke_run / "last.pt"), "--motion", str(mocap), "--n", "64", "--noise", "detector",
                 "--missing", "0.3", "--device", "cpu", "--out", str(out), "--fitting", "--flip", "--snap",
                 "--baseline", f"same model={smoke_run / 'best.pt'}", "--baseline", f"shipped={SHIPPED}"]) == 0
    report = (out / "report.md").read_text()
    assert "| model |" in report and "| mean pose (trivial) |" in report and "| same model |" in report
    assert "| model PoseNet + body fitting (optimisation) |" in report and "| model, flip test |" in report
    assert "| model, snapped to the 2D input |" in report
    # the shipped model takes camera input: lifted with the test cameras, and without them
    assert "| shipped |" in report and "| shipped, camera unknown |" in report
    assert "same model, camera unknown" not in report  # the smoke model has no camera input
    assert (out / "report.json").exists()
