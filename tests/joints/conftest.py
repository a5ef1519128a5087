"""Fixtures of the joints tests: devices and a seeded generator."""
import numpy as np
import pytest
import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Every available torch device (CPU always, CUDA when present)."""
    return torch.device(request.param)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator: the same keypoints on every run."""
    return np.random.default_rng(0)
