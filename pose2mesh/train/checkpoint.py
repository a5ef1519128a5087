"""Checkpoints (re-exported from :mod:`pose2mesh.models.checkpoint`).

The implementation lives in :mod:`pose2mesh.models.checkpoint` so that loading
a model for inference (:func:`pose2mesh.lift`) never imports the training
package; this module keeps the historical import path working.
"""
from pose2mesh.models.checkpoint import (
    FORMAT,
    CheckpointError,
    checked_model_config,
    export_model,
    load_checkpoint,
    load_model,
    save_checkpoint,
)

__all__ = [
    "FORMAT", "CheckpointError", "save_checkpoint", "load_checkpoint", "load_model", "export_model",
    "checked_model_config",
]
