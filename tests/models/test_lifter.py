"""Pose2MeshNet's input handling: dtypes, presence values and shapes."""
import pytest
import torch

from pose2mesh.models import build_model


@pytest.fixture(scope="module")
def model(hierarchy, regressor):
    torch.manual_seed(0)
    return build_model("smoke", hierarchy, regressor).eval()


def _lift(model, xy, presence):
    with torch.no_grad():
        return model(xy, presence)["vertices"]


def test_any_real_dtype_is_lifted_as_the_model_dtype(model, keypoints):
    xy, presence = keypoints
    presence = presence * 0.8  # confidences, not 0 / 1: an integer cast would make every keypoint absent
    reference = _lift(model, xy, presence)
    assert torch.allclose(_lift(model, xy.double(), presence.double()), reference, atol=1e-6)
    rounded = xy.round()
    assert torch.equal(_lift(model, rounded.long(), presence), _lift(model, rounded, presence))
    assert _lift(model, xy.half(), presence).dtype == torch.float32


def test_presence_is_clamped_to_the_unit_interval(model, keypoints):
    xy, presence = keypoints
    reference = _lift(model, xy, presence)
    marked = torch.where(presence > 0, 1.7, -1.0)  # absent as -1, raw scores above 1
    assert torch.equal(_lift(model, xy, marked), reference)


def test_a_float64_model_lifts(model, keypoints):
    import copy

    xy, presence = keypoints
    double = copy.deepcopy(model).double()
    out = _lift(double, xy, presence)
    assert out.dtype == torch.float64 and torch.allclose(out.float(), _lift(model, xy, presence), atol=1e-5)


@pytest.mark.parametrize("xy_shape, presence_shape, message", [
    ((52, 2), (52,), r"keypoints must have shape \(B, S, 2\), got \(52, 2\)"),
    ((0, 52, 2), (0, 52), "empty batch"),
    ((2, 17, 2), (2, 17), "expected S = 52 superset keypoints, got 17"),
])
def test_bad_shapes_are_named_before_any_work(model, xy_shape, presence_shape, message):
    with pytest.raises(ValueError, match=message):
        model(torch.zeros(xy_shape), torch.ones(presence_shape))
