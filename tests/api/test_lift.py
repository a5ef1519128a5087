"""lift / Lifter / LiftResult: shapes, conventions, absence handling, cameras, saving.

Conventions pinned here: outputs are numpy, metres, camera frame (OpenCV axes),
root = superset pelvis = ``translation``; input keypoints in pixels.
"""
import json

import numpy as np
import pytest
import torch
import trimesh

import pose2mesh.api as api
from pose2mesh.api import Lifter, LiftResult, lift, usable_keypoints
from pose2mesh.camera import DEFAULT_FOV_DEG, default_focal_length
from pose2mesh.joints import to_superset


def _batch(example, n):
    kp = np.repeat(example.keypoints[None], n, 0)
    kp[1:, :, :2] += np.arange(1, n)[:, None, None] * 7.0  # shift the others a little
    return kp


def test_shapes_dtypes_and_root_convention(lifter, example):
    res = lifter(_batch(example, 3), layout="coco", image_size=example.image_size)
    assert isinstance(res, LiftResult) and len(res) == 3
    assert res.vertices.shape == (3, 12272, 3) and res.vertices.dtype == np.float32
    assert res.joints.shape == (3, 17, 3) and res.translation.shape == (3, 3) and res.K.shape == (3, 3, 3)
    assert res.faces.shape == (24540, 3) and res.faces.dtype == np.int64
    assert res.used.shape == (3, 17) and res.used.dtype == bool and res.used.all()
    assert res.reprojected.shape == (3, 17, 2) and res.reprojection_error.shape == (3,)
    assert res.joints_superset.shape == (3, 52, 3)
    # root-relative = placed - translation; the root (superset pelvis) sits at the translation
    np.testing.assert_allclose(res.vertices_rel, res.vertices - res.translation[:, None], atol=1e-6)
    np.testing.assert_allclose(res.joints_superset[:, 0], res.translation, atol=1e-4)
    np.testing.assert_allclose(res.joints_rel, res.joints - res.translation[:, None], atol=1e-6)
    assert (res.vertices[..., 2] > 0).all()  # in front of the camera (OpenCV: z forward)


def test_single_person_input_keeps_leading_axis_and_accepts_torch(lifter, example):
    a = lifter(example.keypoints, image_size=example.image_size)
    b = lifter(torch.tensor(example.keypoints[None]), image_size=example.image_size)
    assert len(a) == 1 and a.vertices.shape == (1, 12272, 3)
    np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-5)


def test_batch_equals_one_by_one(lifter, example):
    kp = _batch(example, 3)
    batch = lifter(kp, image_size=example.image_size)
    for i in range(3):
        one = lifter(kp[i], image_size=example.image_size)
        np.testing.assert_allclose(batch.vertices[i], one.vertices[0], atol=1e-4)
        np.testing.assert_allclose(batch.translation[i], one.translation[0], atol=1e-5)


def test_joints_are_regressed_from_the_placed_mesh_and_reprojected(lifter, example):
    res = lifter(example.keypoints, image_size=example.image_size)
    W = lifter.body.keypoint_regressor("coco").double().numpy()
    np.testing.assert_allclose(res.joints[0], W @ res.vertices[0].astype(np.float64), atol=1e-4)
    np.testing.assert_allclose(res.joints_in("coco"), res.joints, atol=1e-6)
    uv = res.joints[0] @ res.K[0].T.astype(np.float64)
    np.testing.assert_allclose(res.reprojected[0], uv[:, :2] / uv[:, 2:], atol=1e-2)
    err = np.linalg.norm(res.reprojected[0] - example.keypoints[:, :2], axis=-1).mean()
    assert res.reprojection_error[0] == pytest.approx(err, rel=1e-4)


def test_joints_in_other_layouts(lifter, example):
    res = lifter(example.keypoints, image_size=example.image_size)
    h36m = res.joints_in("h36m")
    assert h36m.shape == (1, 17, 3)
    # H36M pelvis is the root: the mean of the hips regressed from the same mesh
    np.testing.assert_allclose(h36m[0, 0], res.joints_superset[0, 0], atol=1e-5)
    np.testing.assert_allclose(res.joints_in("h36m", root_relative=True)[0, 0], 0.0, atol=1e-5)
    assert res.joints_in("smpl24").shape == (1, 24, 3)
    with pytest.raises(ValueError, match="unknown joint layout 'cocoo'; choose one of"):
        res.joints_in("cocoo")


def test_absent_keypoints_are_masked_not_used(lifter, example):
    kp = np.repeat(example.keypoints[None], 4, 0)
    kp[1, 9, 2] = 0.1  # below min_confidence
    kp[2, 10, :2] = np.nan  # non-finite
    kp[3, 15, :2] = (-5.0, 100.0)  # outside the image
    res = lifter(kp, image_size=example.image_size)
    assert res.used.sum(1).tolist() == [17, 16, 16, 16]
    assert not res.used[1, 9] and not res.used[2, 10] and not res.used[3, 15]
    # an absent keypoint's coordinates do not matter
    kp2 = kp.copy()
    kp2[1, 9, :2] = (1.0, 2.0)
    np.testing.assert_allclose(lifter(kp2[1], image_size=example.image_size).vertices[0], res.vertices[1], atol=1e-5)
    # a lower threshold uses the low-confidence one again
    assert lifter(kp[1], image_size=example.image_size, min_confidence=0.05).used.all()
    assert usable_keypoints(kp, "coco", example.image_size).tolist() == res.used.tolist()
    assert any("ignored" in n for n in res.notes)


def test_normalised_coordinates_get_a_note(lifter, example):
    kp = example.keypoints.copy()
    kp[:, :2] /= example.image_size
    assert any("look like normalised" in n for n in lifter(kp, image_size=example.image_size).notes)
    assert not any("normalised" in n for n in lifter(example.keypoints, image_size=example.image_size).notes)


def test_two_columns_with_separate_confidence(lifter, example):
    conf = np.ones(17)
    conf[3] = 0.0
    a = lifter(example.keypoints[:, :2], image_size=example.image_size, confidence=conf)
    kp = example.keypoints.copy()
    kp[3, 2] = 0.0
    b = lifter(kp, image_size=example.image_size)
    assert not a.used[0, 3]
    np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-5)


def test_camera_focal_assumed_focal_and_K(lifter, example, caplog):
    w, h = example.image_size
    assumed = lifter(example.keypoints, image_size=example.image_size)
    assert assumed.focal_assumed and any(f"{DEFAULT_FOV_DEG:g} deg" in n for n in assumed.notes)
    assert assumed.K[0, 0, 0] == pytest.approx(default_focal_length((w, h)))
    assert assumed.K[0, 0, 2] == pytest.approx((w - 1) / 2) and assumed.K[0, 1, 2] == pytest.approx((h - 1) / 2)
    f = float(example.K[0, 0])
    given = lifter(example.keypoints, image_size=example.image_size, focal_length=f)
    assert not given.focal_assumed and not any("deg" in n for n in given.notes)
    viaK = lifter(example.keypoints, K=example.K)
    assert viaK.image_size is None and not viaK.focal_assumed
    np.testing.assert_allclose(viaK.translation, given.translation, atol=1e-5)
    # the network gets the camera only when it is given (a camera model's pose then uses it), never a guess
    superset, presence = to_superset(torch.as_tensor(example.keypoints[None], dtype=torch.float32), "coco")
    with torch.no_grad():
        unknown, known = (lifter.model(superset, presence, K=k)["vertices"][0].numpy()
                          for k in (None, torch.as_tensor(example.K, dtype=torch.float32)))
    np.testing.assert_allclose(assumed.vertices_rel[0], unknown, atol=1e-5)
    np.testing.assert_allclose(given.vertices_rel[0], known, atol=1e-5)
    np.testing.assert_allclose(viaK.vertices_rel, given.vertices_rel, atol=1e-5)
    if lifter.model.camera:
        assert np.abs(known - unknown).max() > 1e-3
    # the depth follows the focal length, roughly in proportion
    ratio = assumed.translation[0, 2] / given.translation[0, 2]
    assert ratio == pytest.approx(assumed.K[0, 0, 0] / f, rel=0.05)


def test_assumed_focal_is_logged(lifter, example, caplog, monkeypatch):
    monkeypatch.setattr(api, "_warned_focal", False)
    with caplog.at_level("WARNING", logger="pose2mesh.api"):
        lifter(example.keypoints, image_size=example.image_size)
    assert "field of view" in caplog.text


def test_save_formats(lifter, example, tmp_path):
    res = lifter(_batch(example, 2), image_size=example.image_size)
    paths = res.save(tmp_path / "people.obj")
    assert [p.name for p in paths] == ["people_000.obj", "people_001.obj"]
    mesh = trimesh.load(paths[1], process=False)
    np.testing.assert_allclose(mesh.vertices, res.vertices[1], atol=1e-5)
    assert mesh.faces.shape == (24540, 3)
    one = res.select(0)
    assert len(one) == 1 and one.save(tmp_path / "one.ply") == [tmp_path / "one.ply"]
    assert trimesh.load(tmp_path / "one.ply", process=False).vertices.shape == (12272, 3)
    glb = trimesh.load(one.save(tmp_path / "one.glb")[0], process=False, force="mesh")
    assert glb.vertices.shape == (12272, 3)
    with np.load(res.save(tmp_path / "all.npz")[0]) as data:
        np.testing.assert_allclose(data["vertices"], res.vertices)
        assert str(data["layout"]) == "coco" and data["used"].shape == (2, 17)
    doc = json.loads(res.save(tmp_path / "all.json")[0].read_text())
    assert doc["layout"] == "coco" and len(doc["people"]) == 2 and "vertices" not in doc["people"][0]
    assert np.allclose(doc["people"][1]["translation"], res.translation[1], atol=1e-5)
    assert doc["keypoint_names"][0] == "nose"
    with pytest.raises(ValueError, match=r"unknown extension '\.stl'; choose one of: \.obj, \.ply, \.glb, \.npz, \.json"):
        res.save(tmp_path / "x.stl")


def test_from_pretrained_missing_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("POSE2MESH_ASSETS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="model_default.pt' was not found in .*Lifter.from_checkpoint"):
        Lifter.from_pretrained()


def test_lift_caches_the_default_lifter(example, monkeypatch):
    calls = []

    def fake(cls, device=None):
        calls.append(device)
        return Lifter.untrained(device=device)

    monkeypatch.setattr(Lifter, "from_pretrained", classmethod(fake))
    api._default_lifter.cache_clear()
    try:
        a = lift(example.keypoints, image_size=example.image_size)
        b = lift(example.keypoints[None], image_size=example.image_size, device="cpu")
    finally:
        api._default_lifter.cache_clear()
    assert calls == ["cpu"] and a.vertices.shape == b.vertices.shape


def test_checkpoint_roundtrip_and_repr(tmp_path):
    from pose2mesh.graph import load_hierarchy
    from pose2mesh.models.checkpoint import save_checkpoint
    from pose2mesh._assets import asset_path

    untrained = Lifter.untrained(seed=3)
    path = tmp_path / "m.pt"
    save_checkpoint(path, {"model_config": untrained.model.config.to_dict(), "model": untrained.model.state_dict(),
                           "hierarchy_hash": load_hierarchy(asset_path("hierarchy_default.npz")).content_hash(),
                           "body_hash": untrained.body.content_hash, "step": 7})
    loaded = Lifter.from_checkpoint(path)
    assert repr(loaded) == f"Lifter(path='{path}', step=7, device='cpu')"
    for a, b in zip(untrained.model.state_dict().values(), loaded.model.state_dict().values()):
        assert torch.equal(a, b)


def test_flip_test_lifts_the_mirror_image_too(lifter, example):
    plain = lifter(example.keypoints, image_size=example.image_size, K=example.K)
    flip = lifter(example.keypoints, image_size=example.image_size, K=example.K, flip=True)
    gap = np.linalg.norm(flip.vertices_rel - plain.vertices_rel, axis=-1).mean()
    assert 1e-4 < gap < 0.05  # the same body to within centimetres, but a different lift
    assert flip.reprojection_error[0] < 10.0  # still placed onto the keypoints (pixels)


def test_snap_puts_the_keypoints_on_exact_input(lifter, example):
    plain = lifter(example.keypoints, image_size=example.image_size, K=example.K)
    snapped = lifter(example.keypoints, image_size=example.image_size, K=example.K, snap=True)
    assert plain.reprojection_error[0] > 1.0 and snapped.reprojection_error[0] < 0.5  # pixels
    gap = np.linalg.norm(snapped.vertices_rel - plain.vertices_rel, axis=-1)
    assert 1e-4 < gap.mean() and gap.max() < 0.1  # the same body, moved locally (metres)
    # absent keypoints are not snapped and leave no NaN; snapping composes with the flip test
    kp = example.keypoints.copy()
    kp[[0, 5, 9], :2] = np.nan
    both = lifter(kp, image_size=example.image_size, K=example.K, snap=True, flip=True)
    assert np.isfinite(both.vertices).all() and both.reprojection_error[0] < 0.5


def test_a_float64_model_or_default_dtype_lifts(example):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        result = Lifter.untrained(seed=1)(example.keypoints, image_size=example.image_size)
    finally:
        torch.set_default_dtype(previous)
    assert result.vertices.dtype == np.float32 and np.isfinite(result.vertices).all()
    untrained = Lifter.untrained(seed=1)
    reference = untrained(example.keypoints, image_size=example.image_size, snap=True, flip=True)
    untrained.model.double()
    again = untrained(example.keypoints, image_size=example.image_size, snap=True, flip=True)
    assert again.vertices.dtype == np.float32 and np.allclose(again.vertices, reference.vertices, atol=1e-4)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_lifter_batch_size_must_be_a_positive_int(batch_size):
    untrained = Lifter.untrained()
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        Lifter(untrained.model, untrained.body, batch_size=batch_size)
