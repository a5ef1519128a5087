"""Rendering a lift result: the placed mesh covers the input keypoints in the overlay."""
import numpy as np
import pytest


def test_overlay_mesh_covers_the_input_keypoints(shipped_lifter, example):
    res = shipped_lifter(example.keypoints, image_size=example.image_size)
    w, h = example.image_size
    rgb = res.overlay(keypoints=False, alpha=1.0)  # white background: mesh pixels are shaded, never pure white
    assert rgb.shape == (h, w, 3)
    mesh = (rgb != 255).any(-1)
    # a keypoint is covered when the mesh lies within a few pixels of it (keypoints sit on the body's edge, e.g. wrists)
    r = 4
    covered = [mesh[max(0, int(round(v)) - r): int(round(v)) + r + 1, max(0, int(round(u)) - r): int(round(u)) + r + 1].any()
               for u, v in res.keypoints[0][res.used[0]]]
    assert np.mean(covered) >= 0.8, f"only {np.mean(covered):.0%} of the keypoints fall on the mesh"


def test_overlay_draws_keypoints_over_a_given_image(lifter, example):
    res = lifter(example.keypoints, image_size=example.image_size)
    w, h = example.image_size
    background = np.zeros((h, w, 3), dtype=np.uint8)
    with_kp = res.overlay(background)
    without = res.overlay(background, keypoints=False)
    assert with_kp.shape == (h, w, 3) and (with_kp != without).any()
    assert (background == 0).all()  # not modified
    with pytest.raises(ValueError, match=r"image must be \(H, W, 3\) uint8"):
        res.overlay(np.zeros((h, w), dtype=np.uint8))
