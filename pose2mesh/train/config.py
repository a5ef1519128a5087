"""Training configuration: dataclasses with defaults; YAML is merged only at the entry point.

A YAML file (``experiments/*.yaml``) holds a nested mapping whose keys mirror
:class:`TrainConfig`'s fields; ``--set a.b=value`` overrides are applied after
it (values parsed as YAML scalars).  Unknown keys raise a ``ValueError`` that
lists the valid ones.  There is no global configuration object: the loaded
:class:`TrainConfig` is passed explicitly.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class DataConfig:
    """Synthetic training data.

    Attributes:
        layouts: detector layouts cycled through, one per step (one model serves them all).
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
            :class:`pose2mesh.models.ModelConfig` fields.
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

    model: Any = "default"
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
    init: str | list | None = None

    def to_dict(self) -> dict:
        """Plain nested dict (for checkpoints and logs)."""
        return dataclasses.asdict(self)


def _merge(obj, values: dict, path: str = ""):
    """Return a copy of dataclass ``obj`` with ``values`` (nested dict) merged in."""
    if not isinstance(values, dict):
        raise ValueError(f"config section '{path or 'root'}' must be a mapping, got {values!r}")
    names = {f.name: f for f in dataclasses.fields(obj)}
    changes = {}
    for key, value in values.items():
        if key not in names:
            raise ValueError(f"unknown config key '{path}{key}'; valid: {', '.join(sorted(names))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            changes[key] = _merge(current, value, f"{path}{key}.")
        else:
            changes[key] = _coerce(current, value, f"{path}{key}")
    return dataclasses.replace(obj, **changes)


def _coerce(default, value, name: str):
    """Convert ``value`` to the type of a numeric ``default`` (YAML reads ``3e-4`` as a string)."""
    try:
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValueError
        elif isinstance(default, float) and isinstance(value, (int, str)):
            return float(value)
        elif isinstance(default, int) and isinstance(value, str):
            return int(value)
    except ValueError:
        raise ValueError(f"config key '{name}' expects a {type(default).__name__}, got {value!r}") from None
    return value


def parse_overrides(overrides: list[str]) -> dict:
    """``["optim.lr=3e-4", "steps=10"]`` -> nested dict with YAML-parsed values."""
    out: dict = {}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override '{item}' must look like key.sub=value")
        key, raw = item.split("=", 1)
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(raw)
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Build a :class:`TrainConfig` from defaults, a YAML file and ``key=value`` overrides."""
    config = TrainConfig()
    if path is not None:
        with open(path) as f:
            config = _merge(config, yaml.safe_load(f) or {})
    if overrides:
        config = _merge(config, parse_overrides(overrides))
    return config


def config_from_dict(values: dict) -> TrainConfig:
    """Inverse of :meth:`TrainConfig.to_dict` (as stored in checkpoints)."""
    return _merge(TrainConfig(), values)
