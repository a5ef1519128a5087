"""pose2mesh._device.checked_device: a device this machine has, or one ValueError naming it."""
import pytest
import torch

from pose2mesh._device import checked_device


def test_cpu_and_torch_devices_pass():
    assert checked_device("cpu") == torch.device("cpu")
    assert checked_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("device, message", [
    ("gpu", "unknown device 'gpu': use cpu, cuda or cuda:N"),
    ("mps", "unsupported device 'mps'"),
    ("meta", "unsupported device 'meta'"),
    ("cuda:99", "device 'cuda:99' requested, but"),
])
def test_bad_or_absent_devices_are_value_errors(device, message):
    with pytest.raises(ValueError, match=message):
        checked_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_says_so():
    with pytest.raises(ValueError, match="device 'cuda' requested, but this torch .* use cpu"):
        checked_device("cuda")
