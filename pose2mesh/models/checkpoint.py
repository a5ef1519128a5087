"""Checkpoints: written atomically, loaded with ``torch.load(weights_only=True)``.

This module is on the light lift path (:func:`pose2mesh.lift` loads the shipped
model through :func:`load_model`): it imports torch and, inside
:func:`load_model`, the shipped body, hierarchy and networks -- never the
training loop, its configuration or the data engine.
:mod:`pose2mesh.train.checkpoint` re-exports everything here.

A checkpoint is a dict of tensors and plain Python values only:

* ``format`` (int), ``pose2mesh_version`` (str)
* ``model_config`` (dict of :class:`pose2mesh.models.ModelConfig` fields)
* ``hierarchy_hash`` / ``body_hash``: content hashes of the assets the model was
  trained against (``graphs/``); loading against other assets fails clearly.
* ``model`` (state dict), and for resuming: ``optimizer``, ``scheduler``,
  ``step``, ``rng`` (torch CPU RNG state), ``train_config`` (dict), ``best``.
"""
from __future__ import annotations

import copy
import os
import pickle
from pathlib import Path

import torch

from pose2mesh._version import __version__

__all__ = ["FORMAT", "CheckpointError", "save_checkpoint", "load_checkpoint", "load_model", "export_model"]

#: what a shipped model keeps of a training checkpoint (no optimiser, scheduler or RNG state).
EXPORT_KEYS = ("model_config", "hierarchy_hash", "body_hash", "model", "step", "best", "train_config")

FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used here (other assets, other format, corrupt)."""


def existing_checkpoint(path: str | Path) -> Path:
    """``path`` as a Path to an existing file.

    Raises:
        FileNotFoundError: no such file.
        IsADirectoryError: ``path`` is a folder (e.g. a run folder instead of its ``best.pt``).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"checkpoint '{path}' is a folder: give a .pt file in it (e.g. best.pt)")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint '{path}' not found")
    return path


def save_checkpoint(path: str | Path, payload: dict) -> None:
    """Write ``payload`` (plus format/version) to ``path`` atomically (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save({"format": FORMAT, "pose2mesh_version": __version__, **payload}, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # left over only when saving or renaming failed


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def load_checkpoint(path: str | Path, hierarchy_hash: str | None = None, body_hash: str | None = None,
                    map_location="cpu") -> dict:
    """Load a checkpoint safely (``weights_only=True``) and check it fits this installation.

    Args:
        path: the ``.pt`` file.
        hierarchy_hash / body_hash: content hashes of the assets in use; a checkpoint
            trained against other assets raises :class:`CheckpointError`.

    Raises:
        FileNotFoundError: no such file.
        IsADirectoryError: ``path`` is a folder (e.g. a run folder instead of its ``best.pt``).
        CheckpointError: unreadable file, other format, incompatible version or assets.
    """
    path = existing_checkpoint(path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for corrupt / unsafe files
        if isinstance(err, pickle.UnpicklingError):  # torch's text would advise weights_only=False: not for us
            detail = "torch.load(weights_only=True) refused it (not a torch file, or it holds Python objects)"
        else:
            detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"'{path}' is not a readable pose2mesh checkpoint: {detail}") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"'{path}' has checkpoint format {ckpt.get('format') if isinstance(ckpt, dict) else '?'}; "
                              f"this pose2mesh ({__version__}) reads format {FORMAT}")
    version = str(ckpt.get("pose2mesh_version", "?"))
    if _major_minor(version) != _major_minor(__version__):
        raise CheckpointError(f"'{path}' was written by pose2mesh {version}; this is {__version__} "
                              "(major.minor must match)")
    for name, expected in (("hierarchy_hash", hierarchy_hash), ("body_hash", body_hash)):
        if expected is not None and ckpt.get(name) != expected:
            raise CheckpointError(
                f"'{path}' was trained against another {name.split('_')[0]} asset ({str(ckpt.get(name))[:12]}, "
                f"installed {expected[:12]}); use the graphs/ it was trained with or retrain"
            )
    return ckpt


def load_model(path: str | Path, device: torch.device | str | None = None, body=None):
    """Build the network stored in a checkpoint, checked against the shipped assets.

    Args:
        path: the ``.pt`` checkpoint.
        device: where to put the model (default CPU).
        body: the :class:`~pose2mesh.body.OpenBody` to check against and take
            the keypoint regressor from (default: the shipped body, loaded here).

    Returns:
        ``(model, checkpoint)`` with the model in eval mode on ``device``.

    Raises:
        FileNotFoundError / CheckpointError: as :func:`load_checkpoint`.
    """
    from pose2mesh._assets import asset_path
    from pose2mesh.body.open_body import OpenBody
    from pose2mesh.graph import load_hierarchy
    from pose2mesh.graph.build import DEFAULT_FILE
    from pose2mesh.models.lifter import ModelConfig, build_model

    body = OpenBody.load(device=device) if body is None else body
    hierarchy = load_hierarchy(asset_path(DEFAULT_FILE))
    ckpt = load_checkpoint(path, hierarchy.content_hash(), body.content_hash, map_location=device or "cpu")
    model = build_model(ModelConfig(**ckpt["model_config"]), hierarchy, body.regressor_superset.float(), device=device,
                        template=body.v_template)
    model.load_state_dict(ckpt["model"])
    return model.eval(), ckpt


def export_model(src: str | Path, dst: str | Path, anchor: float | None = None, smooth: int | None = None) -> Path:
    """Write the inference part of a training checkpoint (weights, config, asset hashes).

    Drops the optimiser, scheduler and RNG states (two thirds of a training
    checkpoint's size); the result loads with :func:`load_model` but cannot
    resume training.  Returns ``dst``.

    Args:
        src: training (or exported) checkpoint.
        dst: output path.
        anchor: set the model config's keypoint-anchoring strength
            (:class:`pose2mesh.models.ModelConfig`; it has no weights, so a
            model trained without it can lift with it); None keeps the source's.
        smooth: set the MeshNet's output smoothing iterations
            (:class:`pose2mesh.models.MeshNetConfig`, no weights either); None keeps the source's.

    Raises:
        ValueError: ``anchor`` outside ``[0, 1]``, ``smooth`` negative.
    """
    from pose2mesh.models.lifter import ModelConfig

    ckpt = load_checkpoint(src)
    out = {k: ckpt[k] for k in EXPORT_KEYS if k in ckpt}
    if anchor is not None or smooth is not None:
        config = ModelConfig(**copy.deepcopy(out["model_config"]))
        if anchor is not None:
            config.anchor = float(anchor)
        if smooth is not None:
            config.meshnet.smooth = int(smooth)
        out["model_config"] = ModelConfig(**config.to_dict()).to_dict()  # validates
    save_checkpoint(dst, out)
    return Path(dst)
