"""Checking a requested torch device before anything is built on it.

torch reports an unknown device string with a ``RuntimeError`` and a CUDA
device on a machine without CUDA with an ``AssertionError``, both deep inside
the first tensor operation; :func:`checked_device` turns them into one
``ValueError`` that names the device, at the point where it is requested.
"""
from __future__ import annotations

import torch


def checked_device(device: torch.device | str) -> torch.device:
    """``device`` as a :class:`torch.device` that exists on this machine.

    Args:
        device: e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device``.

    Returns:
        the parsed device.

    Raises:
        ValueError: an unknown device string, a device type other than CPU
            and CUDA (pose2mesh is built and tested on those two), or a CUDA
            device this machine does not have (no CUDA in this torch build,
            no GPU, or an index beyond the GPUs present).
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}: use cpu, cuda or cuda:N") from err
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r}: pose2mesh runs on cpu, cuda or cuda:N")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "has no CUDA support" if torch.version.cuda is None else "finds no GPU"
            raise ValueError(f"device {str(dev)!r} requested, but this torch ({torch.__version__}) {build}; "
                             "use cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(dev)!r} requested, but only {torch.cuda.device_count()} GPU(s) present")
    return dev
