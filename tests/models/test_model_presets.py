import os
import time

import pytest
import torch

from pose2mesh.models import (
    PRESETS, GraphPoseNet, MLPPoseNet, ModelConfig, build_model, count_parameters, model_config,
)

CHEAP = ["default", "mlp", "smoke"]


@pytest.fixture(scope="module")
def models(hierarchy, regressor):
    torch.manual_seed(0)
    return {name: build_model(name, hierarchy, regressor).eval() for name in CHEAP}


@pytest.mark.parametrize("name", CHEAP)
def test_shapes_root_relative_and_repr(models, regressor, keypoints, name):
    model = models[name]
    xy, p = keypoints
    with torch.no_grad():
        out = model(xy, p)
    v = regressor.shape[1]
    assert out["joints_posenet"].shape == (4, 52, 3)
    assert out["vertices"].shape == (4, v, 3)
    assert out["joints_mesh"].shape == (4, 52, 3)
    pelvis = regressor[0] @ out["vertices"]  # the mesh's own pelvis is the origin
    assert pelvis.abs().max() < 1e-5
    assert out["joints_mesh"][:, 0].abs().max() < 1e-5
    # joints_mesh reads only the vertices the regressor uses: the same as the dense product
    assert torch.allclose(out["joints_mesh"], regressor @ out["vertices"], atol=1e-6)
    assert len(model.regressor_vertices) < v / 5
    assert torch.equal(out["joints_posenet"][:, 0], torch.zeros(4, 3))
    print(f"\n{name}: {count_parameters(model)} parameters "
          f"(PoseNet {count_parameters(model.posenet)}, MeshNet {count_parameters(model.meshnet)})\n{model}")


@pytest.mark.parametrize("name", CHEAP)
def test_absent_keypoints_do_not_matter_present_do(models, keypoints, name):
    model = models[name]
    xy, p = keypoints
    moved = xy.clone()
    absent = p == 0
    moved[absent] = torch.randn(int(absent.sum()), 2) * 1e4
    moved[0, 1] = float("nan")
    with torch.no_grad():
        out = model(xy, p)
        out_moved = model(moved, p)
        for k in out:
            assert torch.equal(out[k], out_moved[k]), k
        nudged = xy.clone()
        nudged[0, 0] += 25.0  # the pelvis is present
        out_nudged = model(nudged, p)
    assert not torch.allclose(out_nudged["vertices"][0], out["vertices"][0])
    assert not torch.allclose(out_nudged["joints_posenet"][0], out["joints_posenet"][0])


@pytest.mark.parametrize("name", CHEAP)
def test_translation_and_scale_of_pixels_do_not_matter(models, keypoints, name):
    model = models[name]
    xy, p = keypoints
    with torch.no_grad():
        out = model(xy, p)
        out2 = model(xy * 2.0 + torch.tensor([-300.0, 125.0]), p)
    for k in out:
        assert torch.allclose(out[k], out2[k], atol=1e-4), k


def test_eval_is_deterministic(models, keypoints):
    xy, p = keypoints
    for model in models.values():
        with torch.no_grad():
            a, b = model(xy, p), model(xy, p)
        for k in a:
            assert torch.equal(a[k], b[k])


def test_gradients_reach_every_parameter(hierarchy, regressor, keypoints):
    torch.manual_seed(0)
    model = build_model("smoke", hierarchy, regressor).train()
    xy, p = keypoints
    out = model(xy, p)
    loss = sum(o.square().mean() for o in out.values())
    loss.backward()
    missing = [n for n, prm in model.named_parameters() if prm.grad is None or not torch.isfinite(prm.grad).all()]
    assert not missing
    zero = [n for n, prm in model.named_parameters() if prm.grad.abs().sum() == 0]
    assert not zero, zero


def test_paper_preset_has_the_published_size(hierarchy, regressor):
    model = build_model("paper", hierarchy, regressor)
    n_pose, n_mesh = count_parameters(model.posenet), count_parameters(model.meshnet)
    print(f"\npaper: {count_parameters(model)} parameters (PoseNet {n_pose}, MeshNet {n_mesh})")
    assert isinstance(model.posenet, MLPPoseNet)
    assert 60e6 < n_pose < 75e6  # published 67.6M (19 COCO joints; here 52 superset keypoints)
    assert model.meshnet.config.output_level == 0 and model.meshnet.config.K == 3


def test_presets_and_resolver_errors(hierarchy, regressor):
    assert set(PRESETS) == {"default", "mlp", "paper", "smoke"}
    assert model_config("default").posenet == "graph" and model_config("mlp").posenet == "mlp"
    assert model_config("default") is not model_config("default")
    with pytest.raises(ValueError, match="choose one of: default, mlp, paper, smoke"):
        model_config("fast")
    with pytest.raises(ValueError, match="choose one of: graph, mlp"):
        ModelConfig(posenet="transformer")
    with pytest.raises(ValueError, match="regressor"):
        build_model("smoke", hierarchy, regressor[:, :100])
    assert isinstance(build_model("default", hierarchy, regressor, device="cpu").posenet, GraphPoseNet)


def test_float64(hierarchy, regressor, keypoints):
    model = build_model("smoke", hierarchy, regressor).double().eval()
    xy, p = keypoints
    with torch.no_grad():
        out = model(xy.double(), p.double())
    assert out["vertices"].dtype == torch.float64


def _time_per_lift(model, batch, repeats):
    xy = 100 + 300 * torch.rand(batch, 52, 2)
    p = torch.ones(batch, 52)
    with torch.no_grad():
        model(xy, p)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            model(xy, p)
            times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2] / batch * 1e3  # median, ms per lift


@pytest.mark.skipif(os.environ.get("POSE2MESH_SKIP_TIMING") == "1", reason="timing disabled")
def test_print_timings(models, hierarchy, regressor):
    """Printed, not asserted (machine dependent): ms per lift on 2 CPU threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        todo = dict(default=models["default"], mlp=models["mlp"], paper=build_model("paper", hierarchy, regressor).eval())
        for name, model in todo.items():
            b1 = _time_per_lift(model, 1, 20 if name != "paper" else 5)
            b64 = _time_per_lift(model, 64, 3 if name != "paper" else 1)
            print(f"\n{name}: {b1:.2f} ms/lift at batch 1 ({1e3 / b1:.0f} lifts/s), "
                  f"{b64:.2f} ms/lift at batch 64 ({1e3 / b64:.0f} lifts/s), 2 threads")
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_config_round_trips_through_a_plain_dict(name):
    import json

    cfg = model_config(name)
    again = ModelConfig(**json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


@pytest.mark.parametrize("name", ["default", "mlp", "shipped"])
def test_bfloat16_autocast_trains(hierarchy, regressor, keypoints, name):
    """Mixed precision (the training option ``amp``): the dense layers run in bfloat16, the
    graph convolutions and the sparse output steps in float32 (no sparse bfloat16 kernels).
    Checked with the CPU's autocast; CUDA's casts the same operators."""
    from pose2mesh.body import load_body

    cfg = ModelConfig(anchor=0.5, meshnet={"smooth": 4}) if name == "shipped" else model_config(name)
    torch.manual_seed(0)
    model = build_model(cfg, hierarchy, regressor, template=load_body("default").v_template).eval()
    xy, p = keypoints
    with torch.no_grad():
        reference = model(xy, p)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(xy, p)
    for key, value in reference.items():
        assert torch.isfinite(out[key]).all(), key
        # bfloat16 keeps ~3 significant digits
        assert (out[key].float() - value).abs().max() <= 0.05 * value.abs().max() + 1e-3, key
    out["vertices"].float().abs().mean().backward()
    assert all(q.grad is not None and torch.isfinite(q.grad).all() for q in model.parameters() if q.requires_grad)
