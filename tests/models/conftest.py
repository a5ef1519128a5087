"""Shared fixtures of the model tests: the shipped hierarchy and the default body's regressor."""
import pytest
import torch

from pose2mesh._assets import asset_path
from pose2mesh.body import load_body
from pose2mesh.graph import load_hierarchy
from pose2mesh.graph.build import DEFAULT_FILE


@pytest.fixture(scope="session")
def hierarchy():
    return load_hierarchy(asset_path(DEFAULT_FILE))


@pytest.fixture(scope="session")
def regressor():
    return load_body("default").regressor_superset.detach().clone()


@pytest.fixture(scope="session")
def keypoints():
    """A batch of 4 pixel keypoint sets (B, 52, 2) and a presence mask with some absent points."""
    g = torch.Generator().manual_seed(0)
    xy = 200.0 + 300.0 * torch.rand(4, 52, 2, generator=g)
    presence = (torch.rand(4, 52, generator=g) > 0.3).float()
    presence[:, 0] = 1.0
    presence[:, 1] = 0.0  # at least one absent point in every sample
    return xy, presence
