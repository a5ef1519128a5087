"""Training, the network and the evaluation baselines on every available device.

The CUDA cases skip without a GPU (CI never has one); the CPU cases run the
same code, so the tests themselves are checked everywhere.  On a GPU machine:
``python -m pytest tests/train/test_devices.py tests/api/test_lift_devices.py``.
"""
import math

import pytest
import torch

from pose2mesh.body import load_body
from pose2mesh.data import SyntheticBatches, SyntheticConfig
from pose2mesh.graph import load_hierarchy
from pose2mesh.graph.build import DEFAULT_FILE
from pose2mesh._assets import asset_path
from pose2mesh.metrics.evaluate import predict, predict_fitting
from pose2mesh.models import build_model, model_config
from pose2mesh.train import load_config
from pose2mesh.train.checkpoint import load_model

from test_train import TINY, _losses

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"))]


@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "amp"])
@pytest.mark.parametrize("device", DEVICES)
def test_training_runs_on_the_device(tmp_path, device, amp):
    from pose2mesh.train.loop import train

    if amp and device == "cpu":
        pytest.skip("amp is bfloat16 autocast on CUDA only")
    run = train(load_config(overrides=TINY + [f"device={device}", f"amp={amp}", f"out_dir={tmp_path}"]))
    assert sorted(_losses(run)) == list(range(1, 7)) and all(math.isfinite(float(v)) for v in _losses(run).values())
    model, ckpt = load_model(run / "last.pt", device="cpu")  # a GPU checkpoint loads on a CPU
    assert ckpt["step"] == 6 and all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("device", DEVICES)
def test_network_gives_the_cpu_result_on_the_device(device):
    body = load_body("default")
    hierarchy = load_hierarchy(asset_path(DEFAULT_FILE))
    torch.manual_seed(0)
    model = build_model(model_config("default"), hierarchy, body.regressor_superset.float(), device="cpu",
                        template=body.v_template).eval()
    batch = SyntheticBatches(body, config=SyntheticConfig(batch_size=8, corruption="detector+mask"), seed=3).batch(0)
    with torch.no_grad():
        reference = model(batch["superset"], batch["presence"])
        moved = model.to(device)(batch["superset"].to(device), batch["presence"].to(device))
    for key, value in reference.items():
        assert moved[key].device.type == device
        torch.testing.assert_close(moved[key].cpu(), value, atol=1e-4, rtol=0, msg=key)  # 0.1 mm


@pytest.mark.parametrize("device", DEVICES)
def test_evaluation_predictions_on_the_device(tmp_path, device):
    from pose2mesh.train.loop import train

    run = train(load_config(overrides=TINY + ["steps=1", f"out_dir={tmp_path}"]))
    body = load_body("default")
    batch = SyntheticBatches(body, config=SyntheticConfig(batch_size=6, corruption="detector"), seed=5).batch(0)
    keypoints = batch["keypoints"]  # (N, 17, 3) COCO pixels + confidence
    cpu_model, _ = load_model(run / "last.pt", device="cpu")
    model, _ = load_model(run / "last.pt", device=device)
    with torch.no_grad():
        reference, out = predict(cpu_model, keypoints, "coco", batch_size=4), predict(model, keypoints, "coco", batch_size=4)
    for key in ("joints", "vertices"):
        torch.testing.assert_close(out[key], reference[key], atol=1e-4, rtol=0, msg=key)
    fit = predict_fitting(model, keypoints, "coco", load_body("default", device=device), steps=5, progress=False)
    assert fit["vertices"].shape == reference["vertices"].shape and torch.isfinite(fit["vertices"]).all()
