"""Tests of pose2mesh.joints.convert: conversion matrices, convert, to_superset."""
import itertools

import numpy as np
import pytest
import torch

from pose2mesh.joints import DERIVATIONS, Layout, conversion_matrix, convert, get_layout, list_layouts, to_superset

LAYOUTS = list_layouts()
PAIRS = list(itertools.product(LAYOUTS, LAYOUTS))
NAN = float("nan")


def random_keypoints(rng: np.random.Generator, shape: tuple[int, ...], confidence: bool = True) -> np.ndarray:
    """``shape + (3,)`` (x, y, confidence) keypoints, pixels and confidences in [0.05, 1);
    ``shape + (2,)`` with ``confidence=False``."""
    coords = rng.uniform(0.0, 640.0, size=shape + (2,))
    if not confidence:
        return coords
    conf = rng.uniform(0.05, 1.0, size=shape + (1,))
    return np.concatenate([coords, conf], axis=-1)


def _at(layout: str, name: str) -> int:
    return get_layout(layout).index(name)


# --------------------------------------------------------------------------
# conversion_matrix
# --------------------------------------------------------------------------
@pytest.mark.parametrize("src, dst", PAIRS)
def test_matrix_rows_sum_to_one_or_zero(src, dst):
    w = conversion_matrix(src, dst)
    assert w.shape == (get_layout(dst).num_joints, get_layout(src).num_joints)
    assert w.dtype == np.float64
    assert (w >= 0).all()
    sums = w.sum(axis=1)
    assert np.all(np.isclose(sums, 1.0) | (sums == 0.0))


@pytest.mark.parametrize("name", LAYOUTS)
def test_matrix_identity_and_superset_selection(name):
    np.testing.assert_array_equal(conversion_matrix(name, name), np.eye(get_layout(name).num_joints))
    # superset -> layout is a pure selection (one 1 per row): a body's regressor
    # for a layout is exactly rows of its superset regressor.
    w = conversion_matrix("superset", name)
    assert ((w == 0) | (w == 1)).all() and (w.sum(axis=1) == 1).all()


@pytest.mark.parametrize("src, dst", PAIRS)
def test_matrix_composes_through_superset(src, dst):
    np.testing.assert_allclose(
        conversion_matrix("superset", dst) @ conversion_matrix(src, "superset"),
        conversion_matrix(src, dst), atol=1e-15,
    )


def test_matrix_golden_coco_to_h36m():
    # Hand-written from the derivation table: spine = mean(pelvis, thorax)
    # = 1/4 of each hip and each shoulder; head_top underivable.
    w = conversion_matrix("coco", "h36m")
    spine = np.zeros(17)
    spine[[5, 6, 11, 12]] = 0.25
    np.testing.assert_array_equal(w[_at("h36m", "spine")], spine)
    np.testing.assert_array_equal(w[_at("h36m", "head_top")], np.zeros(17))
    assert w[_at("h36m", "neck_nose"), _at("coco", "nose")] == 1.0


@pytest.mark.parametrize("point", sorted(DERIVATIONS))
def test_each_derivation_from_a_custom_layout(point):
    # A custom layout: the superset without `point`.  The point must then be
    # rebuilt from exactly its derivation's sources (all present directly).
    sup = get_layout("superset")
    names = tuple(n for n in sup.names if n != point)
    custom = Layout(name=f"no_{point}", names=names, edges=(), flip_pairs=(), canonical=names)
    row = conversion_matrix(custom, "superset")[sup.index(point)]
    sources = DERIVATIONS[point].sources
    expected = np.zeros(len(names))
    for s in sources:
        expected[names.index(s)] += 1.0 / len(sources)
    np.testing.assert_array_equal(row, expected)


def test_matrix_is_a_fresh_copy():
    w = conversion_matrix("coco", "h36m")
    w[:] = 7.0
    assert conversion_matrix("coco", "h36m")[0, 0] == 0.0


# --------------------------------------------------------------------------
# convert: point selection and derivations
# --------------------------------------------------------------------------
def test_coco_superset_coco_round_trip(rng):
    x = random_keypoints(rng, (5, 17))
    x[0, 3] = [NAN, NAN, 0.0]  # an absent keypoint stays absent
    back = convert(convert(x, "coco", "superset"), "superset", "coco")
    np.testing.assert_array_equal(back[1:], x[1:])
    np.testing.assert_array_equal(np.delete(back[0], 3, axis=0), np.delete(x[0], 3, axis=0))
    assert np.isnan(back[0, 3, :2]).all() and back[0, 3, 2] == 0.0


def test_openpose25_to_coco_picks_the_right_points(rng):
    op = random_keypoints(rng, (25,))
    coco = convert(op, "openpose25", "coco")
    # coco index -> openpose BODY_25 index, written by hand from both docs
    expected = {0: 0, 1: 16, 2: 15, 3: 18, 4: 17, 5: 5, 6: 2, 7: 6, 8: 3, 9: 7, 10: 4,
                11: 12, 12: 9, 13: 13, 14: 10, 15: 14, 16: 11}
    for c, o in expected.items():
        np.testing.assert_array_equal(coco[c], op[o])


def test_coco_to_h36m(rng):
    c = random_keypoints(rng, (17,))
    h = convert(c, "coco", "h36m")
    lhip, rhip, lsho, rsho = c[11, :2], c[12, :2], c[5, :2], c[6, :2]
    pelvis, thorax = (lhip + rhip) / 2, (lsho + rsho) / 2
    np.testing.assert_allclose(h[0, :2], pelvis)
    np.testing.assert_allclose(h[8, :2], thorax)
    np.testing.assert_allclose(h[7, :2], (pelvis + thorax) / 2)
    np.testing.assert_array_equal(h[9], c[0])          # neck_nose = nose (mmpose convention)
    np.testing.assert_array_equal(h[1], c[12])         # right_hip
    np.testing.assert_array_equal(h[16], c[10])        # right_wrist
    assert h[0, 2] == min(c[11, 2], c[12, 2])
    assert h[7, 2] == min(c[[5, 6, 11, 12], 2])
    assert np.isnan(h[10, :2]).all() and h[10, 2] == 0.0  # head_top: absent, not zero


def test_direct_match_beats_derivation(rng):
    # OpenPose has a detected MidHip: it is used as is, not the mean of the hips.
    op = random_keypoints(rng, (25,))
    h = convert(op, "openpose25", "h36m")
    np.testing.assert_array_equal(h[0], op[8])
    np.testing.assert_array_equal(h[8], op[1])  # thorax = OpenPose Neck
    assert not np.allclose(h[0, :2], (op[9, :2] + op[12, :2]) / 2)


def test_mpii_to_h36m(rng):
    m = random_keypoints(rng, (16,))
    h = convert(m, "mpii", "h36m")
    np.testing.assert_array_equal(h[10], m[9])                      # head_top
    np.testing.assert_allclose(h[7, :2], (m[6, :2] + m[7, :2]) / 2)  # spine from pelvis, thorax
    assert np.isnan(h[9, :2]).all() and h[9, 2] == 0.0             # no nose in MPII


def test_coco_to_smpl24_derived_and_absent(rng):
    c = random_keypoints(rng, (17,), confidence=False)
    s = convert(c, "coco", "smpl24")
    np.testing.assert_allclose(s[_at("smpl24", "head")], (c[3] + c[4]) / 2)
    np.testing.assert_allclose(s[_at("smpl24", "neck")], (c[5] + c[6]) / 2)
    for name in ("spine1", "spine2", "spine3", "left_foot", "left_collar", "left_hand"):
        assert np.isnan(s[_at("smpl24", name)]).all(), name


def test_blazepose_hand_and_foot(rng):
    b = random_keypoints(rng, (33,), confidence=False)
    s = convert(b, "blazepose33", "smpl24")
    np.testing.assert_allclose(s[_at("smpl24", "left_hand")], (b[19] + b[17]) / 2)
    w = convert(b, "blazepose33", "wholebody23")
    np.testing.assert_array_equal(w[_at("wholebody23", "right_big_toe")], b[32])
    assert np.isnan(w[_at("wholebody23", "right_small_toe")]).all()


# --------------------------------------------------------------------------
# convert: absence and confidence propagation
# --------------------------------------------------------------------------
def test_averaged_point_gets_minimum_confidence():
    c = np.ones((17, 3))
    c[:, 2] = 0.9
    c[11, 2], c[12, 2] = 0.3, 0.7
    c[5, 2], c[6, 2] = 0.8, 0.2
    h = convert(c, "coco", "h36m")
    assert h[0, 2] == pytest.approx(0.3)   # pelvis
    assert h[8, 2] == pytest.approx(0.2)   # thorax
    assert h[7, 2] == pytest.approx(0.2)   # spine: min over both levels


@pytest.mark.parametrize("absent", ["zero_confidence", "negative_confidence", "nan_confidence", "nan_coordinate", "inf_coordinate"])
def test_absent_source_makes_dependents_absent(rng, absent):
    c = random_keypoints(rng, (17,))
    if absent == "zero_confidence":
        c[11, 2] = 0.0
    elif absent == "negative_confidence":
        c[11, 2] = -1.0
    elif absent == "nan_confidence":
        c[11, 2] = NAN
    elif absent == "nan_coordinate":
        c[11, 0] = NAN
    else:
        c[11, 1] = np.inf
    h = convert(c, "coco", "h36m")
    for name in ("pelvis", "spine", "left_hip"):  # all depend on coco left_hip
        j = _at("h36m", name)
        assert np.isnan(h[j, :2]).all() and h[j, 2] == 0.0, name
    for name in ("thorax", "right_hip", "neck_nose"):
        j = _at("h36m", name)
        assert np.isfinite(h[j]).all() and h[j, 2] > 0, name


def test_absent_without_confidence_column(rng):
    c = random_keypoints(rng, (17,), confidence=False)
    c[5] = NAN
    h = convert(c, "coco", "h36m")
    assert h.shape == (17, 2)
    assert np.isnan(h[_at("h36m", "thorax")]).all()
    assert np.isnan(h[_at("h36m", "spine")]).all()
    assert np.isfinite(h[_at("h36m", "pelvis")]).all()


def test_absent_points_are_never_zero_filled():
    x = np.full((17, 3), NAN)
    out = convert(x, "coco", "superset")
    assert np.isnan(out[..., :2]).all() and (out[..., 2] == 0).all()


def test_3d_points_with_confidence_false(rng):
    x = rng.normal(size=(4, 17, 3))  # metres
    h = convert(x, "coco", "h36m", confidence=False)
    assert h.shape == (4, 17, 3)
    np.testing.assert_allclose(h[:, 0], (x[:, 11] + x[:, 12]) / 2)
    assert np.isnan(h[:, 10]).all()
    # the default reads the third column as a confidence instead
    h_conf = convert(np.abs(x), "coco", "h36m")
    assert h_conf[0, 10, 2] == 0.0


@pytest.mark.parametrize("src, dst", PAIRS)
def test_matrix_product_equals_convert_on_present_data(rng, src, dst):
    x = rng.normal(size=(3, get_layout(src).num_joints, 3))
    w = conversion_matrix(src, dst)
    out = convert(x, src, dst, confidence=False)
    derivable = w.sum(axis=1) > 0
    np.testing.assert_allclose(out[:, derivable], (w @ x)[:, derivable], rtol=1e-12, atol=1e-12)
    assert np.isnan(out[:, ~derivable]).all()


@pytest.mark.parametrize("src, dst", PAIRS)
def test_convert_composes_through_superset(rng, src, dst):
    x = random_keypoints(rng, (6, get_layout(src).num_joints))
    x[0, 0, 2] = 0.0
    x[1, -1, 0] = NAN
    direct = convert(x, src, dst)
    via = convert(convert(x, src, "superset"), "superset", dst)
    np.testing.assert_allclose(via, direct, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("src, dst", PAIRS)
def test_convert_commutes_with_flip(rng, src, dst):
    x = random_keypoints(rng, (4, get_layout(src).num_joints))
    x[0, 1, 2] = 0.0
    sp, dp = list(get_layout(src).flip_permutation), list(get_layout(dst).flip_permutation)
    np.testing.assert_allclose(convert(x[:, sp], src, dst), convert(x, src, dst)[:, dp], rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------
# convert: shapes, types, dtypes, devices
# --------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [(), (5,), (2, 3)])
def test_leading_batch_shapes(rng, batch):
    flat = random_keypoints(rng, (6, 17))
    flat[2, 11, 2] = 0.0
    expected = np.stack([convert(f, "coco", "h36m") for f in flat])  # per sample, shape (17, 3)
    x = flat[: int(np.prod(batch))].reshape(batch + (17, 3))
    out = convert(x, "coco", "h36m")
    assert out.shape == batch + (17, 3)
    # equal up to BLAS rounding (a batched GEMM may sum in another order)
    np.testing.assert_allclose(out.reshape(-1, 17, 3), expected[: int(np.prod(batch))], rtol=1e-12)


@pytest.mark.parametrize("src, dst", [("coco", "h36m"), ("openpose25", "smpl24"), ("blazepose33", "superset")])
@pytest.mark.parametrize("d", [2, 3])
def test_numpy_and_torch_agree(rng, src, dst, d):
    x = random_keypoints(rng, (2, 5, get_layout(src).num_joints), confidence=d == 3)
    x[0, 0, 3, 0] = NAN
    x[1, 4, 0, -1] = 0.0
    out_np = convert(x, src, dst)
    out_t = convert(torch.from_numpy(x), src, dst)
    assert isinstance(out_np, np.ndarray) and isinstance(out_t, torch.Tensor)
    np.testing.assert_allclose(out_t.numpy(), out_np, rtol=1e-12, atol=1e-12)  # NaNs in the same places


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_dtype_preserved(rng, dtype):
    x = random_keypoints(rng, (4, 17)).astype(dtype)
    assert convert(x, "coco", "h36m").dtype == dtype
    points, presence = to_superset(x, "coco")
    assert points.dtype == dtype and presence.dtype == dtype


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_dtype_and_device_preserved(rng, device, dtype):
    x = torch.as_tensor(random_keypoints(rng, (4, 17)), dtype=dtype, device=device)
    out = convert(x, "coco", "h36m")
    assert out.dtype == dtype and out.device == x.device
    points, presence = to_superset(x, "coco")
    assert points.dtype == presence.dtype == dtype
    assert points.device == presence.device == x.device
    ref = convert(x.cpu().double().numpy(), "coco", "h36m")
    np.testing.assert_allclose(out.cpu().double().numpy(), ref, rtol=1e-5, atol=1e-3)


def test_integer_and_array_like_input():
    x = [[i, i + 1] for i in range(17)]
    out = convert(x, "coco", "h36m")
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out[0], [11.5, 12.5])
    out_t = convert(torch.tensor(x), "coco", "h36m")
    assert out_t.dtype == torch.get_default_dtype()


@pytest.mark.parametrize("shape, match", [
    ((18, 3), r"expected keypoints of shape \(\.\.\., 17, 2\) or \(\.\.\., 17, 3\) for layout 'coco', got \(18, 3\)"),
    ((4, 17, 4), r"\(\.\.\., 17, 2\) or \(\.\.\., 17, 3\).*got \(4, 17, 4\)"),
    ((17,), r"expected keypoints of shape .*got \(17,\)"),
    ((17, 1), r"got \(17, 1\)"),
])
def test_wrong_shapes(shape, match):
    with pytest.raises(ValueError, match=match):
        convert(np.zeros(shape), "coco", "h36m")
    with pytest.raises(ValueError, match=match):
        to_superset(torch.zeros(shape), "coco")


def test_confidence_true_needs_three_columns():
    with pytest.raises(ValueError, match=r"confidence=True expects .*\(\.\.\., 17, 3\)"):
        convert(np.zeros((17, 2)), "coco", "h36m", confidence=True)


def test_unknown_layout_in_convert():
    with pytest.raises(ValueError, match="unknown joint layout 'cocoo'; choose one of: blazepose33, coco"):
        convert(np.zeros((17, 3)), "cocoo", "h36m")


# --------------------------------------------------------------------------
# to_superset
# --------------------------------------------------------------------------
def test_to_superset_with_confidence(rng):
    c = random_keypoints(rng, (3, 17))
    c[0, 11, 2] = 0.0
    c[1, 0, 2] = 1.5  # an overshooting detector score
    points, presence = to_superset(c, "coco")
    sup = get_layout("superset")
    assert points.shape == (3, 52, 2) and presence.shape == (3, 52)
    assert np.isfinite(points).all()
    assert ((presence >= 0) & (presence <= 1)).all()
    full = convert(c, "coco", "superset")
    np.testing.assert_array_equal(presence, np.minimum(full[..., 2], 1.0))
    absent = full[..., 2] == 0
    assert (points[absent] == 0).all()
    np.testing.assert_array_equal(points[~absent], full[..., :2][~absent])
    # what COCO cannot give is absent everywhere; what it gives is present
    assert (presence[:, sup.index("head_top")] == 0).all()
    assert (presence[:, sup.index("spine1")] == 0).all()
    assert presence[0, sup.index("pelvis")] == 0 and presence[1, sup.index("pelvis")] > 0
    assert presence[1, sup.index("nose")] == 1.0


def test_to_superset_3d_without_confidence(rng):
    x = rng.normal(size=(2, 24, 3))
    x[1, 15] = NAN
    points, presence = to_superset(torch.from_numpy(x), "smpl24", confidence=False)
    assert isinstance(points, torch.Tensor) and points.shape == (2, 52, 3)
    assert set(presence.unique().tolist()) == {0.0, 1.0}
    sup = get_layout("superset")
    assert presence[0, sup.index("head")] == 1 and presence[1, sup.index("head")] == 0
    assert (points[1, sup.index("head")] == 0).all()
    assert presence[0, sup.index("nose")] == 0  # SMPL has no nose


# --------------------------------------------------------------------------
# gradients
# --------------------------------------------------------------------------
def test_to_superset_gradcheck():
    x = torch.rand(2, 17, 3, dtype=torch.float64) + 0.1
    x = x.detach()
    x[0, 11, 2] = 0.0  # absent left hip in the first sample

    def points_and_presence(coords, conf):
        return to_superset(torch.cat([coords, conf], dim=-1), "coco")

    coords = x[..., :2].clone().requires_grad_(True)
    conf = x[..., 2:].clone()
    assert torch.autograd.gradcheck(lambda c: points_and_presence(c, conf)[0], (coords,), fast_mode=True)


def test_convert_gradients_are_finite_with_absent_points():
    x = torch.rand(3, 17, 3, dtype=torch.float64)
    x[0, 11, 0] = NAN
    x[1, 5, 2] = 0.0
    x.requires_grad_(True)
    out = convert(x, "coco", "h36m")
    present = torch.isfinite(out[..., 0])
    out[..., :2][present].sum().backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad[0, 11, 0] == 0 and (x.grad[1, 5, :2] == 0).all()
    # present COCO left shoulder feeds left_shoulder (1), thorax (1/2), spine (1/4)
    assert torch.allclose(x.grad[2, 5, :2], torch.full((2,), 1.75, dtype=torch.float64))


def test_large_batch_is_vectorised(rng):
    # 100k detections in one call; per-element Python loops would take minutes.
    x = random_keypoints(rng, (100_000, 25)).astype(np.float32)
    out = convert(x, "openpose25", "superset")
    assert out.shape == (100_000, 52, 3)
    np.testing.assert_array_equal(out[-1, _at("superset", "pelvis")], x[-1, 8])


def test_tables_made_under_inference_mode_still_train():
    """The per-device tables are cached: a first call under inference mode (as the Lifter's)
    must not leave inference tensors that a later training call cannot save for backward."""
    names = ("left_hip", "right_hip", "nose")
    src = Layout(name="inference_first", names=names, edges=(), flip_pairs=(), canonical=names)  # cached nowhere else
    x = torch.rand(2, 3, 3)
    with torch.inference_mode():
        to_superset(x, src)
    x.requires_grad_(True)
    superset, _ = to_superset(x, src)
    superset.nan_to_num().sum().backward()
    assert torch.isfinite(x.grad).all()
