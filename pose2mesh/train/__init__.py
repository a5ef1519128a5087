"""Training: configuration dataclasses, losses, checkpoints and the (DDP-capable) loop.

``pose2mesh train experiments/default.yaml --set optim.lr=3e-4`` is the entry
point; YAML is merged into :class:`TrainConfig` there and nowhere else.
"""
from pose2mesh.train.checkpoint import CheckpointError, export_model, load_checkpoint, save_checkpoint
from pose2mesh.train.config import DataConfig, LossConfig, OptimConfig, TrainConfig, config_from_dict, load_config

__all__ = [
    "TrainConfig", "DataConfig", "LossConfig", "OptimConfig", "load_config", "config_from_dict",
    "save_checkpoint", "load_checkpoint", "export_model", "CheckpointError", "train",
]


def __getattr__(name: str):
    # The loop imports the data engine and the networks: load it on first use.
    if name == "train":
        from pose2mesh.train.loop import train

        return train
    raise AttributeError(f"module 'pose2mesh.train' has no attribute {name!r}")
