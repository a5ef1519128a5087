"""Flip test (pose2mesh.models.flip): mirror permutations and the mirror-averaged lift."""
import pytest
import torch

from pose2mesh.body import load_body
from pose2mesh.joints import get_layout
from pose2mesh.models import build_model, flip_test, mirror_permutation

MIRROR = torch.tensor([-1.0, 1.0, 1.0])


@pytest.fixture(scope="module")
def template():
    return load_body("default").v_template.detach().float()


@pytest.fixture(scope="module")
def model(hierarchy, regressor):
    torch.manual_seed(0)
    return build_model("smoke", hierarchy, regressor).eval()


def test_open_body_vertices_pair_up_left_and_right(template):
    perm = mirror_permutation(template)
    assert perm.shape == (template.shape[0],) and perm.dtype == torch.int64
    assert torch.equal(perm[perm], torch.arange(len(perm)))  # an involution
    assert (template[perm] * MIRROR - template).norm(dim=-1).max() < 1e-3
    assert (perm != torch.arange(len(perm))).float().mean() > 0.9  # all but the midline vertices move


def test_asymmetric_points_are_refused():
    pts = torch.tensor([[0.1, 0.0, 0.0], [-0.1, 0.0, 0.0], [0.3, 0.2, 0.0]])
    assert mirror_permutation(pts[:2]).tolist() == [1, 0]
    with pytest.raises(ValueError, match="not left/right symmetric"):
        mirror_permutation(pts)
    with pytest.raises(ValueError, match=r"shape \(V, 3\)"):
        mirror_permutation(pts[:, :2])


def _mirror_input(xy, presence, K):
    perm = list(get_layout("superset").flip_permutation)
    out = xy.clone()
    out[..., 0] = (2 * K[:, None, 0, 2] if K is not None else 0) - xy[..., 0]
    return out[:, perm], presence[:, perm], perm


@pytest.mark.parametrize("with_camera", [True, False])
def test_flip_test_is_mirror_symmetric(model, template, keypoints, with_camera):
    """Lifting the mirrored keypoints gives exactly the mirror image of the lift: the average is symmetric."""
    xy, p = keypoints
    K = torch.tensor([[800.0, 0, 330.0], [0, 800.0, 250.0], [0, 0, 1]]).expand(len(xy), 3, 3) if with_camera else None
    vm = mirror_permutation(template)
    with torch.no_grad():
        out = flip_test(model, xy, p, K=K, vertex_mirror=vm)
        plain = model(xy, p, K=K)
        xy_m, p_m, perm = _mirror_input(xy, p, K)
        mirrored = flip_test(model, xy_m, p_m, K=K, vertex_mirror=vm)
    assert out.keys() == plain.keys() and all(out[k].shape == plain[k].shape for k in out)
    torch.testing.assert_close(mirrored["joints_posenet"], out["joints_posenet"][:, perm] * MIRROR, atol=1e-5, rtol=0)
    # the mesh too, up to where each is rooted: the body's superset regressors are not left/right
    # symmetric, so the mirror image's regressed pelvis is not quite the mirrored pelvis
    shift = mirrored["vertices"] - out["vertices"][:, vm] * MIRROR
    torch.testing.assert_close(shift, shift.mean(1, keepdim=True).expand_as(shift), atol=1e-5, rtol=0)
    # a different lift from the plain one (the untrained model is not symmetric) ...
    assert (out["vertices"] - plain["vertices"]).norm(dim=-1).mean() > 1e-3
    # ... still root-relative at the mesh's own pelvis, with its keypoints regressed from the mesh
    torch.testing.assert_close(out["joints_mesh"], model.regress(out["vertices"]), atol=1e-6, rtol=0)
    assert out["joints_mesh"][:, 0].abs().max() < 1e-5


def test_flip_test_of_the_posenet_alone_and_bad_arguments(model, template, keypoints):
    xy, p = keypoints
    with torch.no_grad():
        out = flip_test(model, xy, p, mesh=False)
        assert list(out) == ["joints_posenet"] and out["joints_posenet"].shape == (4, 52, 3)
        with pytest.raises(ValueError, match="needs vertex_mirror"):
            flip_test(model, xy, p)
        with pytest.raises(ValueError, match="vertex_mirror must have shape"):
            flip_test(model, xy, p, vertex_mirror=mirror_permutation(template)[:10])
