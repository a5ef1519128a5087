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

import os
from pathlib import Path

import torch

from pose2mesh._version import __version__

__all__ = ["FORMAT", "CheckpointError", "save_checkpoint", "load_checkpoint", "load_model", "export_model",
           "checked_model_config"]

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
        if not isinstance(err, RuntimeError):  # a text file gives a KeyError or IndexError, an unsafe pickle
            # an UnpicklingError advising weights_only=False (not for us); RuntimeErrors name a broken archive
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
        FileNotFoundError / CheckpointError: as :func:`load_checkpoint`; also a
            CheckpointError for a ``model_config`` with unknown keys or values of the
            wrong type (:func:`checked_model_config`), weights that do not fit it, or
            non-finite weights.
    """
    from pose2mesh._assets import asset_path
    from pose2mesh.body.open_body import OpenBody
    from pose2mesh.graph import load_hierarchy
    from pose2mesh.graph.build import DEFAULT_FILE
    from pose2mesh.models.lifter import build_model

    body = OpenBody.load(device=device) if body is None else body
    hierarchy = load_hierarchy(asset_path(DEFAULT_FILE))
    ckpt = load_checkpoint(path, hierarchy.content_hash(), body.content_hash, map_location=device or "cpu")
    config = checked_model_config(ckpt, path)
    bad = [k for k, v in ckpt["model"].items()
           if torch.is_tensor(v) and v.is_floating_point() and not v.isfinite().all()]
    if bad:
        raise CheckpointError(f"'{path}' holds non-finite weights (NaN or inf in {', '.join(bad[:3])}"
                              f"{' ...' if len(bad) > 3 else ''}): saved by a diverged training run?")
    try:
        model = build_model(config, hierarchy, body.regressor_superset.float(), device=device,
                            template=body.v_template)
    except ValueError as err:  # a config these assets cannot build
        raise CheckpointError(f"'{path}': its model_config cannot be built here: {err}") from None
    own, state = model.state_dict(), ckpt["model"]
    problems = ([f"no {k}" for k in own if k not in state] + [f"unknown {k}" for k in state if k not in own]
                + [f"{k} is {tuple(state[k].shape)}, the config makes {tuple(own[k].shape)}"
                   for k in own if k in state and state[k].shape != own[k].shape])
    if problems:
        raise CheckpointError(f"'{path}': its weights do not fit its model_config ({len(problems)} problem(s): "
                              f"{'; '.join(problems[:3])}{' ...' if len(problems) > 3 else ''})")
    model.load_state_dict(state)
    return model.float().eval(), ckpt


def checked_model_config(ckpt: dict, path: str | Path):
    """The :class:`~pose2mesh.models.ModelConfig` of a loaded model checkpoint, every key and value checked.

    The stored fields are merged over the defaults (a field a checkpoint
    predates keeps its default); an unknown key or a value of the wrong type
    is an error, as in the training configuration.

    Raises:
        CheckpointError: no ``model`` / ``model_config`` entry, an unknown key,
            a value of the wrong type or out of range.
    """
    from pose2mesh._config_check import merge_checked
    from pose2mesh.models.lifter import ModelConfig

    for key in ("model_config", "model"):
        if not isinstance(ckpt.get(key), dict):
            raise CheckpointError(f"'{path}' has no '{key}' entry: not a model checkpoint")
    try:
        return merge_checked(ModelConfig(), ckpt["model_config"], "model_config.")
    except ValueError as err:
        raise CheckpointError(f"'{path}': {err} (a checkpoint of another pose2mesh version?)") from None


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
        CheckpointError: ``src`` is not a model checkpoint (:func:`checked_model_config`).
        ValueError: ``anchor`` not a number in ``[0, 1]``, ``smooth`` not an int >= 0.
    """
    from pose2mesh._config_check import merge_checked

    ckpt = load_checkpoint(src)
    config = checked_model_config(ckpt, src)
    out = {k: ckpt[k] for k in EXPORT_KEYS if k in ckpt}
    changes = {}
    if anchor is not None:
        changes["anchor"] = anchor
    if smooth is not None:
        changes["meshnet"] = {"smooth": smooth}
    if changes:
        out["model_config"] = merge_checked(config, changes).to_dict()  # type- and range-checked
    save_checkpoint(dst, out)
    return Path(dst)
