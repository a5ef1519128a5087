"""Training configuration: model-spec overrides, type checks, YAML errors, the --resume fallback."""
import dataclasses
import logging
from pathlib import Path

import pytest

from pose2mesh.models import model_config
from pose2mesh.train import config_from_dict, load_config
from pose2mesh.train.config import resolve_model_config

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "experiments" / "smoke.yaml"
DEFAULT = ROOT / "experiments" / "default.yaml"  # model: {camera: true}


def _model(path, overrides):
    return resolve_model_config(load_config(path, overrides).model)


# --- --set model.KEY=VALUE merges into the spec; model=... replaces it -----------------------------


def test_dotted_model_override_applies_on_top_of_a_preset():
    assert _model(SMOKE, ["model.anchor=0.5"]) == dataclasses.replace(model_config("smoke"), anchor=0.5)
    smoke = model_config("smoke")
    wide = dataclasses.replace(smoke, graph_posenet=dataclasses.replace(smoke.graph_posenet, channels=24))
    assert _model(SMOKE, ["model.graph_posenet.channels=24"]) == wide


def test_dotted_model_override_merges_into_a_mapping_recursively():
    cfg = _model(DEFAULT, ["model.anchor=0.5"])
    assert cfg.camera and cfg.anchor == 0.5  # the YAML's camera input is kept
    cfg = _model(DEFAULT, ["model.graph_posenet={channels: 128, latent: 512}", "model.graph_posenet.node_latent=32"])
    assert cfg.camera
    assert (cfg.graph_posenet.channels, cfg.graph_posenet.latent, cfg.graph_posenet.node_latent) == (128, 512, 32)
    assert cfg.graph_posenet.K == 3  # the other fields keep their defaults


def test_whole_model_override_replaces_the_spec():
    assert not _model(DEFAULT, ["model={graph_posenet: {channels: 128}}"]).camera
    assert _model(DEFAULT, ["model=smoke"]) == model_config("smoke")
    # in order: a later replacement wins, a later field change applies to what is there then
    assert _model(DEFAULT, ["model.anchor=0.5", "model=smoke"]) == model_config("smoke")
    anchored = dataclasses.replace(model_config("smoke"), anchor=0.5)
    assert _model(DEFAULT, ["model=smoke", "model.anchor=0.5"]) == anchored
    assert load_config(SMOKE).model == "smoke"  # a preset name stays a name when no field is overridden


def test_recorded_train_config_reloads_the_same_model():
    cfg = load_config(SMOKE, ["model.anchor=0.5", "model.meshnet.smooth=2"])
    again = config_from_dict(cfg.to_dict())  # as a checkpoint's train_config is read back
    assert again == cfg
    assert resolve_model_config(again.model) == resolve_model_config(cfg.model)
    assert resolve_model_config(again.model).meshnet.channels == (16, 16, 16, 8)  # still the smoke network


# --- values are checked against the field types --------------------------------------------------


@pytest.mark.parametrize("override, key", [
    ("steps.x=1", "steps"),               # a key below a scalar
    ("steps=2.5", "steps"),
    ("steps=1e3", "steps"),               # YAML 1.1 reads 1e3 as a string
    ("data.batch_size=", "data.batch_size"),  # null
    ("data.layouts=coco", "data.layouts"),    # a string, not a list
    ("data.layouts=[]", "data.layouts"),
    ("data.layouts=[coco, 5]", "data.layouts"),
    ("init=5", "init"),
    ("optim.lr=true", "optim.lr"),
    ("amp=1", "amp"),
    ("device=5", "device"),
    ("model=5", "model"),
    ("model.anchor=abc", "model.anchor"),
    ("model.meshnet.channels=16", "model.meshnet.channels"),
    ("model.meshnet.channels=[16, 8.5]", "model.meshnet.channels"),
    ("model.anchor=2", "model"),          # ModelConfig's own range check, named by its section
])
def test_a_value_of_the_wrong_type_is_a_one_line_error_naming_the_key(override, key):
    with pytest.raises(ValueError, match=f"'{key}'") as err:
        load_config(SMOKE, [override])
    assert "\n" not in str(err.value)


def test_wrong_types_in_a_yaml_file_are_errors_too(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("steps: 2.5\n")
    with pytest.raises(ValueError, match=r"config key 'steps' expects int, got 2.5"):
        load_config(path)
    path.write_text("data: {layouts: coco}\n")
    with pytest.raises(ValueError, match=r"'data.layouts' expects list\[str\], got 'coco' \(a list in YAML: "):
        load_config(path)


def test_sensible_values_are_converted():
    cfg = load_config(SMOKE, ["optim.lr=3e-4", "optim.weight_decay=0", "steps='12'", "data.pose_prior=",
                              "amp=true", "init={path: a.pt, prefix: posenet.}", "model.anchor=1"])
    assert cfg.optim.lr == 3e-4 and cfg.optim.weight_decay == 0.0 and isinstance(cfg.optim.weight_decay, float)
    assert cfg.steps == 12 and cfg.data.pose_prior is None and cfg.amp is True
    assert cfg.init == {"path": "a.pt", "prefix": "posenet."}
    assert resolve_model_config(cfg.model).anchor == 1.0


# --- unknown keys in a model mapping --------------------------------------------------------------


@pytest.mark.parametrize("override, key, valid", [
    ("model.foo=1", "model.foo", "anchor, anchor_sigma, camera"),
    ("model={graph_posenet: {chanels: 128}}", "model.graph_posenet.chanels", "K, channels, dec_blocks"),
    ("model.meshnet.chanels=[8]", "model.meshnet.chanels", "K, blocks, channels"),
])
def test_unknown_model_key_lists_the_valid_ones(override, key, valid):
    with pytest.raises(ValueError, match=rf"unknown config key '{key}'; valid: {valid}"):
        load_config(SMOKE, [override])


def test_unknown_model_key_in_a_yaml_file(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("model: {camera: true, graph_posenet: {chanels: 128}}\n")
    with pytest.raises(ValueError, match=r"unknown config key 'model.graph_posenet.chanels'; valid: K, channels"):
        load_config(path)


def test_resolve_model_config_names_the_bad_key():
    with pytest.raises(ValueError, match=r"unknown config key 'model.foo'; valid: anchor"):
        resolve_model_config({"foo": 1})


# --- malformed YAML ---------------------------------------------------------------------------------


def test_malformed_yaml_file_names_the_file_and_the_place(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("steps: [1, 2\nseed: 0\n")
    with pytest.raises(ValueError, match=r"invalid YAML in config file '.*bad.yaml': .*\(line 2, column 5\)"):
        load_config(path)
    path.write_text("data:\n\tbatch_size: 4\n")  # a tab
    with pytest.raises(ValueError, match=r"invalid YAML in config file '.*bad.yaml': .*line 2"):
        load_config(path)


def test_malformed_yaml_in_an_override_names_the_override():
    with pytest.raises(ValueError, match=r"invalid YAML in --set 'data.layouts=\[coco': expected ',' or '\]'"):
        load_config(SMOKE, ["data.layouts=[coco"])


# --- train(resume=True) without last.pt -------------------------------------------------------------


def test_resume_without_last_pt_warns_and_starts_from_step_0(tmp_path, caplog):
    from pose2mesh.train.loop import train

    cfg = load_config(overrides=["model=smoke", "device=cpu", "steps=2", "log_every=1", "data.batch_size=2", "data.val_size=2",
                                 "data.layouts=[coco]", f"out_dir={tmp_path / 'run'}"])
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.csv").write_text("step,loss\n5,0.1\n")  # an old run's log, no last.pt
    with caplog.at_level(logging.WARNING, logger="pose2mesh.train.loop"):
        train(cfg, resume=True, stop_after=1)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("last.pt not found, nothing to resume; starting from step 0" in m for m in warnings), warnings
    steps = [line.split(",")[0] for line in (tmp_path / "run" / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == ["1"]  # a fresh log from the first step; the old one is gone
