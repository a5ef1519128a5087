"""The shipped example pose (graphs/example_keypoints.json) is self-consistent."""
import numpy as np
import pytest

from pose2mesh.examples import example_record, load_example
from pose2mesh.joints import get_layout


def test_stored_keypoints_are_the_projection_of_the_stored_body_and_camera():
    stored = load_example("coco")
    posed = load_example("coco", with_mesh=True)
    assert stored.image_size == (1280, 720) and stored.keypoints.shape == (17, 3)
    np.testing.assert_allclose(posed.keypoints, stored.keypoints, atol=0.01)  # rounded to 0.01 px
    assert posed.vertices.shape == (12272, 3) and (posed.vertices[:, 2] > 0).all()
    w, h = stored.image_size
    assert ((stored.keypoints[:, 0] >= 0) & (stored.keypoints[:, 0] < w)).all()
    assert ((stored.keypoints[:, 1] >= 0) & (stored.keypoints[:, 1] < h)).all()
    assert "mocap.cs.cmu.edu" in stored.note and "06_01" in stored.note


@pytest.mark.parametrize("layout", ["openpose25", "h36m", "blazepose33"])
def test_other_layouts(layout):
    ex = load_example(layout)
    assert ex.keypoints.shape == (get_layout(layout).num_joints, 3) and np.isfinite(ex.keypoints).all()


def test_record_is_a_copy():
    record = example_record()
    record["layout"] = "changed"
    assert example_record()["layout"] == "coco"
