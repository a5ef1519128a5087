"""The Lifter on every available device gives the CPU's result.

The CUDA case skips without a GPU (CI never has one); the CPU case runs the
same code.  See also ``tests/train/test_devices.py``.
"""
import numpy as np
import pytest
import torch

from pose2mesh.api import DEFAULT_MODEL, Lifter
from pose2mesh._assets import assets_dir

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"))]


@pytest.mark.parametrize("device", DEVICES)
def test_lifter_gives_the_cpu_result_on_the_device(lifter, example, device):
    path = assets_dir() / DEFAULT_MODEL
    moved = Lifter.from_checkpoint(path, device=device) if path.is_file() else Lifter.untrained(device=device)
    assert moved.device.type == device
    kp = np.stack([example.keypoints, example.keypoints])  # 2 people
    kp[1, :, 0] += 40.0  # the second one 40 px to the right
    ref = lifter(kp, image_size=example.image_size)
    out = moved(kp, image_size=example.image_size)
    assert out.vertices.shape == ref.vertices.shape and out.vertices.dtype == np.float32
    np.testing.assert_allclose(out.vertices, ref.vertices, atol=1e-3)  # 1 mm, placement included
    np.testing.assert_allclose(out.joints, ref.joints, atol=1e-3)
    np.testing.assert_allclose(out.reprojection_error, ref.reprojection_error, atol=1e-2)  # pixels
    np.testing.assert_array_equal(out.used, ref.used)
