"""Loading and exporting model checkpoints: every unusable file is a one-line CheckpointError."""
import math

import pytest
import torch

from pose2mesh._assets import asset_path
from pose2mesh.graph import load_hierarchy
from pose2mesh.graph.build import DEFAULT_FILE
from pose2mesh.models.checkpoint import CheckpointError, export_model, load_checkpoint, load_model, save_checkpoint
from pose2mesh.models.lifter import build_model


@pytest.fixture(scope="module")
def smoke_checkpoint(tmp_path_factory, hierarchy, regressor):
    """A saved untrained smoke model: ``(path, payload)``."""
    from pose2mesh.body import load_body

    torch.manual_seed(0)
    model = build_model("smoke", hierarchy, regressor)
    payload = {"model_config": model.config.to_dict(), "model": model.state_dict(),
               "hierarchy_hash": load_hierarchy(asset_path(DEFAULT_FILE)).content_hash(),
               "body_hash": load_body("default").content_hash, "step": 3}
    path = tmp_path_factory.mktemp("ckpt") / "smoke.pt"
    save_checkpoint(path, payload)
    return path, payload


def _edited(tmp_path, payload, **changes):
    path = tmp_path / "edited.pt"
    save_checkpoint(path, {**payload, **changes})
    return path


def _config(payload, **changes):
    config = {**payload["model_config"], **changes}
    return config


def test_a_saved_model_loads_with_its_weights(smoke_checkpoint):
    path, payload = smoke_checkpoint
    model, ckpt = load_model(path)
    assert ckpt["step"] == 3 and not model.training
    for name, value in payload["model"].items():
        assert torch.equal(model.state_dict()[name], value)


@pytest.mark.parametrize("change, message", [
    ({"model_config": None}, "has no 'model_config' entry"),
    ({"model": None}, "has no 'model' entry"),
])
def test_a_checkpoint_without_a_model_is_refused(tmp_path, smoke_checkpoint, change, message):
    payload = {k: v for k, v in smoke_checkpoint[1].items() if change.get(k, 0) is not None}
    path = tmp_path / "partial.pt"
    save_checkpoint(path, payload)
    with pytest.raises(CheckpointError, match=message):
        load_model(path)
    with pytest.raises(CheckpointError, match=message):  # nor exported as a model nothing could load
        export_model(path, tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()


@pytest.mark.parametrize("config, message", [
    ({"new_option": 1}, r"unknown config key 'model_config.new_option'; valid: anchor"),
    ({"meshnet": {"new_option": 1}}, r"unknown config key 'model_config.meshnet.new_option'"),
    ({"graph_posenet": {"channels": "wide"}}, r"'model_config.graph_posenet.channels' expects int, got 'wide'"),
    ({"meshnet": {"smooth": True}}, r"'model_config.meshnet.smooth' expects int, got True"),
    ({"anchor": "0.5x"}, r"'model_config.anchor' expects float"),
    ({"meshnet": None}, r"'model_config.meshnet' must be a mapping"),
    ({"anchor": 1.5}, r"anchor must be in \[0, 1\]"),
])
def test_a_model_config_of_unknown_keys_or_wrong_types_is_refused(tmp_path, smoke_checkpoint, config, message):
    payload = smoke_checkpoint[1]
    stored = dict(payload["model_config"])
    for key, value in config.items():  # nested mappings merge into the stored section
        stored[key] = {**stored[key], **value} if isinstance(value, dict) else value
    with pytest.raises(CheckpointError, match=message) as err:
        load_model(_edited(tmp_path, payload, model_config=stored))
    assert "\n" not in str(err.value)


def test_a_config_that_does_not_fit_the_weights_is_refused(tmp_path, smoke_checkpoint):
    payload = smoke_checkpoint[1]
    path = _edited(tmp_path, payload, model_config=_config(payload, camera=True))
    with pytest.raises(CheckpointError, match=r"do not fit its model_config \(1 problem\(s\): no posenet.camera_input.weight\)$"):
        load_model(path)
    wider = _config(payload, graph_posenet={**payload["model_config"]["graph_posenet"], "channels": 24})
    with pytest.raises(CheckpointError, match=r"problem\(s\): posenet.keypoint_embedding is \(52, 16\), the config "
                                              r"makes \(52, 24\);.* \.\.\.\)$"):
        load_model(_edited(tmp_path, payload, model_config=wider))


def test_a_field_the_checkpoint_predates_keeps_its_default(tmp_path, smoke_checkpoint):
    payload = smoke_checkpoint[1]
    older = {k: v for k, v in payload["model_config"].items() if k != "camera_dropout"}
    model, _ = load_model(_edited(tmp_path, payload, model_config=older))
    assert model.camera_dropout == payload["model_config"]["camera_dropout"]


def test_non_finite_weights_are_refused(tmp_path, smoke_checkpoint):
    payload = smoke_checkpoint[1]
    weights = dict(payload["model"])
    name = next(k for k, v in weights.items() if v.is_floating_point() and v.dim() == 2)
    weights[name] = torch.full_like(weights[name], math.nan)
    with pytest.raises(CheckpointError, match=f"non-finite weights \\(NaN or inf in {name}\\).*diverged"):
        load_model(_edited(tmp_path, payload, model=weights))


def test_a_text_file_is_not_a_torch_file(tmp_path):
    (tmp_path / "notes.pt").write_text("experiment notes\n")
    with pytest.raises(CheckpointError, match=r"refused it \(not a torch file"):
        load_checkpoint(tmp_path / "notes.pt")


@pytest.mark.parametrize("smooth, message", [(2.7, "expects int, got 2.7"), (True, "expects int, got True")])
def test_export_refuses_a_smoothing_that_is_not_an_int(tmp_path, smoke_checkpoint, smooth, message):
    with pytest.raises(ValueError, match=message):
        export_model(smoke_checkpoint[0], tmp_path / "out.pt", smooth=smooth)
    assert not (tmp_path / "out.pt").exists()


def test_a_model_built_in_float64_loads_in_float32(smoke_checkpoint):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model, _ = load_model(smoke_checkpoint[0])
    finally:
        torch.set_default_dtype(previous)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
