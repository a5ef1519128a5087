"""Training configuration: dataclasses with defaults; YAML is merged only at the entry point.

A YAML file (``experiments/*.yaml``) holds a nested mapping whose keys mirror
:class:`TrainConfig`'s fields; ``--set a.b=value`` overrides are applied after
it, one at a time and in order (values parsed as YAML).  Every value is
checked against its field's type: an int is accepted for a float field and a
string that YAML leaves unparsed (``3e-4``, YAML 1.1) is converted, anything
else of the wrong type (``steps=2.5``, ``optim.lr=true``, ``data.batch_size=``
(null), ``data.layouts=coco`` instead of ``[coco]``) raises.  Unknown keys
raise a ``ValueError`` that lists the valid ones; malformed YAML raises a
``ValueError`` naming the file or the ``--set``.  There is no global
configuration object: the loaded :class:`TrainConfig` is passed explicitly.

The network (``model``) is a preset name (:data:`pose2mesh.models.PRESETS`) or
a mapping of :class:`pose2mesh.models.ModelConfig` fields over the defaults.
``--set model=NAME`` and ``--set 'model={...}'`` replace it; ``--set
model.a.b=value`` changes one field of the current spec (a mapping value is
merged in recursively); the spec, a preset name or a mapping, is first
expanded into the full mapping of its fields, which is what the run records.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pose2mesh._config_check import merge_checked
from pose2mesh.models import ModelConfig, model_config


@dataclass
class DataConfig:
    """Synthetic training data.

    Attributes:
        layouts: detector layouts cycled through, one per step (one model serves them all); at least one.
        corruption: ``"none"``, ``"detector"``, ``"detector+mask"``, ``"detector+mask+clean"`` or
            ``"h3wb"`` (see :mod:`pose2mesh.data.corrupt`).
        batch_size: samples per step and rank.
        num_betas: body-shape coefficients used.
        mix_limbs: per-limb pose mixing probability.
        pose_noise: std (radians) of axis-angle noise on every local joint rotation.
        shapes: body-shape distribution (``"mixed"``, ``"adults"``, ``"all"``; see
            :class:`pose2mesh.data.SyntheticConfig`); validation always uses adults.
        pair_corruption: corruption of the second layout's samples in layout-consistency
            training (``loss.consistency > 0``); None: ``corruption``. ``"none"``
            compares the noisy first layout's prediction with that of exact keypoints.
        pose_prior: a pose bank file (``.npz``, ``pose2mesh build-pose-prior --out``)
            to draw training poses from; None: the shipped one (``graphs/pose_prior.npz``).
        val_motion: folder of validation motion files (None: the pose prior with a fixed seed).
        val_size: validation samples.
    """

    layouts: list[str] = field(default_factory=lambda: ["coco", "openpose25", "h36m", "blazepose33", "wholebody23"])
    corruption: str = "detector"
    batch_size: int = 64
    num_betas: int = 16
    mix_limbs: float = 0.0
    pose_noise: float = 0.0
    shapes: str = "mixed"
    pair_corruption: str | None = None
    pose_prior: str | None = None
    val_motion: str | None = None
    val_size: int = 256

    def __post_init__(self) -> None:
        if not self.layouts:
            raise ValueError(f"'data.layouts' needs at least one layout, got {self.layouts!r}")


@dataclass
class LossConfig:
    """Loss weights (L1 losses as in Pose2Mesh; 0 disables a term).

    Attributes:
        vertices: mesh vertices (root-relative, metres).
        normals: surface-normal consistency of predicted faces vs ground-truth normals.
        edges: edge-length consistency.
        joints_mesh: superset keypoints regressed from the predicted mesh.
        joints_posenet: PoseNet's lifted keypoints.
        edges_from_step: step from which the edge term is on (Pose2Mesh: from epoch 7).
        consistency: layout consistency. When ``> 0`` every step also draws the
            same samples (same poses, bodies and cameras) in a second layout of
            ``data.layouts`` and adds the mean distance between the two
            predictions (PoseNet keypoints, plus vertices in mesh steps; metres):
            one model should give one body whatever the detector. Doubles the
            samples per step; the other terms average over both halves.
    """

    vertices: float = 1.0
    normals: float = 0.1
    edges: float = 1.0
    joints_mesh: float = 1.0
    joints_posenet: float = 1.0
    edges_from_step: int = 0
    consistency: float = 0.0


@dataclass
class OptimConfig:
    """Optimiser (AdamW) and schedule (linear warm-up, cosine decay).

    Attributes:
        lr: peak learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: linear warm-up length.
        grad_clip: max gradient norm (0: off).
    """

    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    grad_clip: float = 1.0


@dataclass
class TrainConfig:
    """Everything a training run needs.

    Attributes:
        model: a model preset name (see :mod:`pose2mesh.models`) or a mapping of
            :class:`pose2mesh.models.ModelConfig` fields over its defaults (nested
            mappings for ``graph_posenet``, ``mlp_posenet``, ``meshnet``); see
            :func:`resolve_model_config` and, for overrides, the module docstring.
        steps: total optimisation steps.
        posenet_pretrain_steps: first steps train PoseNet alone (0: joint from the start).
        seed: seed of data and initialisation.
        out_dir: run folder (checkpoints, metrics.csv).
        log_every / val_every / ckpt_every: intervals in steps.
        device: ``"cpu"``, ``"cuda"`` ... (None: CUDA if available).
        amp: bfloat16 autocast on CUDA.
        init: checkpoint whose weights start the run (every tensor with a matching
            name and shape; the rest keep their fresh initialisation, listed in the
            log); optimiser, schedule and step start afresh. Ignored when
            resuming. E.g. a run of PoseNet pre-training alone, then a joint run
            from it. Also a list of entries, applied in order (a later one
            overrides an earlier one tensor by tensor), each a path or a mapping
            ``{path: ..., prefix: ...}`` that copies only the tensors whose names
            start with ``prefix`` (e.g. ``posenet.``).
    """

    model: str | dict[str, Any] = "default"
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    steps: int = 1000
    posenet_pretrain_steps: int = 0
    seed: int = 0
    out_dir: str = "runs/default"
    log_every: int = 10
    val_every: int = 200
    ckpt_every: int = 200
    device: str | None = None
    amp: bool = False
    init: str | dict | list[str | dict] | None = None

    def to_dict(self) -> dict:
        """Plain nested dict (for checkpoints and logs)."""
        return dataclasses.asdict(self)


def resolve_model_config(spec: str | dict[str, Any]) -> ModelConfig:
    """The :class:`~pose2mesh.models.ModelConfig` of a model spec (``TrainConfig.model``).

    Args:
        spec: a preset name (``"default"``, ``"smoke"`` ...) or a mapping of
            ``ModelConfig`` fields over the defaults (nested mappings for
            ``graph_posenet``, ``mlp_posenet``, ``meshnet``), as in YAML.

    Raises:
        ValueError: an unknown preset, an unknown key (the message lists the
            valid ones), a value of the wrong type or out of range.
    """
    if isinstance(spec, str):
        return model_config(spec)
    return merge_checked(ModelConfig(), spec, "model.")


def _load_yaml(text: str, source: str):
    """``yaml.safe_load(text)``; malformed YAML raises a one-line ``ValueError`` naming ``source``."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        problem, mark = getattr(err, "problem", None), getattr(err, "problem_mark", None)
        if problem is None:
            reason = " ".join(str(err).split())
        else:
            reason = problem + (f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else "")
        raise ValueError(f"invalid YAML in {source}: {reason}") from None


def _parse_override(item: str) -> tuple[list[str], Any]:
    """``"optim.lr=3e-4"`` -> ``(["optim", "lr"], "3e-4")`` (the value parsed as YAML)."""
    if "=" not in item:
        raise ValueError(f"override '{item}' must look like key.sub=value")
    key, raw = item.split("=", 1)
    parts = [part.strip() for part in key.split(".")]
    if not all(parts):
        raise ValueError(f"override '{item}' has an empty key; it must look like key.sub=value")
    return parts, _load_yaml(raw, f"--set '{item}'")


def _nest(parts: list[str], value) -> dict:
    """``(["a", "b"], 1)`` -> ``{"a": {"b": 1}}``."""
    for part in reversed(parts):
        value = {part: value}
    return value


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Build a :class:`TrainConfig` from defaults, a YAML file and ``key=value`` overrides.

    Args:
        path: a YAML file whose nested mapping mirrors :class:`TrainConfig` (None: defaults only).
        overrides: ``"a.b=value"`` strings (the CLI's ``--set``), applied in order;
            ``model=...`` replaces the model spec, ``model.a.b=...`` merges into it
            (module docstring).

    Raises:
        ValueError: malformed YAML, an unknown key, a value of the wrong type, an
            empty ``data.layouts``, or a model spec that does not make a ``ModelConfig``.
        OSError: the file cannot be read.
    """
    config = TrainConfig()
    if path is not None:
        with open(path) as f:
            config = merge_checked(config, _load_yaml(f.read(), f"config file '{path}'") or {})
    for item in overrides or []:
        parts, value = _parse_override(item)
        if len(parts) > 1 and parts[0] == "model":  # one field of the spec: merged into its full mapping
            value = merge_checked(resolve_model_config(config.model), _nest(parts[1:], value), "model.").to_dict()
            parts = ["model"]
        config = merge_checked(config, _nest(parts, value))
    resolve_model_config(config.model)  # a bad model spec fails here, not at the start of training
    return config


def config_from_dict(values: dict) -> TrainConfig:
    """Inverse of :meth:`TrainConfig.to_dict` (as stored in checkpoints)."""
    return merge_checked(TrainConfig(), values)
