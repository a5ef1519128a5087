"""build_pose_prior's arguments (its output: tests/data/test_synthetic.py)."""
import numpy as np
import pytest

from pose2mesh.body import load_body
from pose2mesh.data.poses import build_pose_prior


@pytest.mark.parametrize("max_poses", [0, -1, 2.5, True, "10"])
def test_max_poses_must_be_a_positive_integer(max_poses, tmp_path):
    with pytest.raises(ValueError, match="max_poses must be an integer >= 1"):
        build_pose_prior(tmp_path, None, max_poses=max_poses)


def test_one_excluded_subject_may_be_a_string(tmp_path):
    (tmp_path / "06_01.bvh").write_text("")  # found by name; excluded before it is read
    body = load_body("default")
    with pytest.raises(ValueError, match="no motion files .* outside the left-out subjects 06 below"):
        build_pose_prior(tmp_path, body, exclude_subjects="06", max_poses=np.int64(8))
