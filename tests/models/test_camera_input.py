"""Camera input: the features of a crop in its camera, and the networks that take them."""
import math

import pytest
import torch

from pose2mesh.models import CAMERA_FEATURES, GraphPoseNet, MLPPoseNet, ModelConfig, build_model, camera_features
from pose2mesh.models.lifter import model_config
from pose2mesh.models.normalize import normalize_keypoints


def test_features_golden_values_and_unknown_cameras():
    K = torch.tensor([[500.0, 0.0, 320.0], [0.0, 400.0, 240.0], [0.0, 0.0, 1.0]])
    center, scale = torch.tensor([[420.0, 140.0], [320.0, 240.0]]), torch.tensor([100.0, 50.0])
    f = math.sqrt(500 * 400)
    expected = torch.tensor([[0.2, -0.25, 100 / f, 1.0], [0.0, 0.0, 50 / f, 1.0]])
    assert torch.allclose(camera_features(center, scale, K), expected)
    assert torch.allclose(camera_features(center, scale, K.expand(2, 3, 3)), expected)  # one K per sample
    assert torch.equal(camera_features(center, scale, None), torch.zeros(2, CAMERA_FEATURES))
    hidden = camera_features(center, scale, K, known=torch.tensor([True, False]))
    assert torch.allclose(hidden[0], expected[0]) and torch.equal(hidden[1], torch.zeros(4))
    # the crop of normalize_keypoints: centre and half-size of the present keypoints' box, pixels
    xy = torch.tensor([[[320.0, 90.0], [520.0, 190.0], [0.0, 0.0]]])
    _, c, s = normalize_keypoints(xy, torch.tensor([[1.0, 1.0, 0.0]]))
    assert torch.allclose(camera_features(c, s, K), expected[:1])
    with pytest.raises(ValueError, match="K must have shape"):
        camera_features(center, scale, torch.eye(3).expand(3, 3, 3))
    with pytest.raises(ValueError, match="known must have shape"):
        camera_features(center, scale, K, known=torch.ones(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="center must be"):
        camera_features(center[0], scale, K)


@pytest.mark.parametrize("net", [GraphPoseNet, MLPPoseNet], ids=["graph", "mlp"])
def test_posenet_camera_input_starts_as_the_network_without_it(net):
    torch.manual_seed(0)
    plain = net().eval()
    cam = net(camera=True).eval()
    missing, unexpected = cam.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ["camera_input.weight"] and not unexpected
    g = torch.Generator().manual_seed(1)
    xy, p = torch.rand(3, 52, 2, generator=g) * 2 - 1, (torch.rand(3, 52, generator=g) > 0.3).float()
    features = torch.tensor([[0.1, -0.2, 0.3, 1.0], [0.0, 0.0, 0.5, 1.0], [0.0, 0.0, 0.0, 0.0]])
    with torch.no_grad():
        out = plain(xy, p)
        assert torch.equal(cam(xy, p, features), out)  # zero-initialised camera weights
        assert torch.equal(cam(xy, p), out)  # no camera: unknown
        cam.camera_input.weight.normal_()
        moved = cam(xy, p, features)
        assert not torch.allclose(moved[:2], out[:2])  # the known cameras now matter
        assert torch.equal(moved[2], cam(xy, p)[2])  # an unknown camera is all zeros
        assert torch.equal(moved[:, 0], torch.zeros(3, 3))  # still root-relative
    with pytest.raises(ValueError, match="no camera input"):
        plain(xy, p, features)
    with pytest.raises(ValueError, match=r"camera features must have shape \(3, 4\)"):
        cam(xy, p, features[:, :3])
    assert "camera=True" in repr(cam) and "camera=False" in repr(plain)


def test_model_uses_k_hides_it_in_training_and_ignores_it_without_camera_input(hierarchy, regressor, keypoints):
    torch.manual_seed(0)
    config = model_config("smoke")
    config.camera, config.camera_dropout = True, 1.0
    model = build_model(config, hierarchy, regressor)
    with torch.no_grad():
        model.posenet.camera_input.weight.normal_()
    xy, presence = keypoints
    K = torch.tensor([[300.0, 0.0, 320.0], [0.0, 300.0, 240.0], [0.0, 0.0, 1.0]])
    model.eval()
    with torch.no_grad():
        unknown = model(xy, presence, mesh=False)["joints_posenet"]
        known = model(xy, presence, mesh=False, K=K)["joints_posenet"]
        assert not torch.allclose(known, unknown)
        K2 = K.clone()
        K2[0, 0] = K2[1, 1] = 900.0  # a longer lens: the same crop is seen smaller and straighter
        assert not torch.allclose(model(xy, presence, mesh=False, K=K2)["joints_posenet"], known)
        model.train()  # camera_dropout 1: every camera hidden
        assert torch.equal(model(xy, presence, mesh=False, K=K)["joints_posenet"], unknown)
        model.camera_dropout = 0.0
        assert torch.equal(model(xy, presence, mesh=False, K=K)["joints_posenet"], known)
        plain = build_model("smoke", hierarchy, regressor).eval()
        assert torch.equal(plain(xy, presence, K=K)["vertices"], plain(xy, presence)["vertices"])
    with pytest.raises(ValueError, match="camera_dropout must be in"):
        ModelConfig(camera=True, camera_dropout=1.5)
