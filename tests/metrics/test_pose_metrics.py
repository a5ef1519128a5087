"""Tests of pose2mesh.metrics.pose: MPJPE, Umeyama / PA-MPJPE, MPVPE, per-part errors.

Golden values are computed by hand in the comments next to them (inputs in
metres, errors in millimetres).  Random similarity transforms use roma for the
rotations and a seeded torch.Generator.
"""
import math

import pytest
import roma
import torch

import pose2mesh.metrics as metrics_api
from pose2mesh.joints import get_layout
from pose2mesh.metrics import (
    KEYPOINT_PARTS,
    mpjpe,
    mpvpe,
    pa_mpjpe,
    pa_mpvpe,
    per_part_errors,
    summarize,
    umeyama,
)


@pytest.fixture(params=[torch.float32, torch.float64], ids=["f32", "f64"])
def dtype(request):
    return request.param


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_similarity(batch, dtype, g):
    """Random proper rotations (..., 3, 3), scales in [0.5, 2] (...), translations (..., 3) m."""
    R = roma.rotvec_to_rotmat(torch.randn(*batch, 3, generator=g, dtype=torch.float64) * 2).to(dtype)
    s = (0.5 + 1.5 * torch.rand(batch, generator=g, dtype=torch.float64)).to(dtype)
    t = torch.randn(*batch, 3, generator=g, dtype=torch.float64).to(dtype)
    return R, s, t


def transform(points, R, s, t):
    return s[..., None, None] * points @ R.mT + t[..., None, :]


# ---------------------------------------------------------------------------
# Public surface and units
# ---------------------------------------------------------------------------
def test_public_surface():
    assert sorted(metrics_api.__all__) == sorted([
        "M_TO_MM", "KEYPOINT_PARTS", "mpjpe", "umeyama", "pa_mpjpe", "mpvpe", "pa_mpvpe", "normal_error",
        "per_part_errors", "summarize",
    ])
    for name in metrics_api.__all__:
        assert hasattr(metrics_api, name)


def test_convention_one_metre_shift_is_1000_mm(dtype):
    # Every joint moved by exactly 1 m along x: MPJPE = 1000 mm (metres in, mm out).
    gt = torch.randn(17, 3, generator=gen(), dtype=torch.float64).to(dtype)
    pred = gt + torch.tensor([1.0, 0.0, 0.0], dtype=dtype)
    assert mpjpe(pred, gt).item() == pytest.approx(1000.0, rel=1e-6)


# ---------------------------------------------------------------------------
# MPJPE golden values
# ---------------------------------------------------------------------------
def test_mpjpe_golden_345_triangle():
    gt = torch.zeros(2, 3, dtype=torch.float64)
    # joint 0 off by (3 mm, 4 mm, 0) -> 5 mm (3-4-5 triangle); joint 1 off by 1 mm in z.
    pred = torch.tensor([[0.003, 0.004, 0.0], [0.0, 0.0, 0.001]], dtype=torch.float64)
    # mean(5, 1) = 3 mm
    assert mpjpe(pred, gt).item() == pytest.approx(3.0, abs=1e-12)


def test_mpjpe_golden_two_points():
    gt = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    # offsets 0.3 m and 0.4 m along different axes: mean(300, 400) = 350 mm
    pred = gt + torch.tensor([[0.3, 0.0, 0.0], [0.0, 0.0, -0.4]], dtype=torch.float64)
    assert mpjpe(pred, gt).item() == pytest.approx(350.0, abs=1e-9)


def test_root_relative_invariant_to_global_translation(dtype):
    g = gen(1)
    gt = torch.randn(4, 17, 3, generator=g, dtype=torch.float64).to(dtype)
    pred = gt + 0.05 * torch.randn(4, 17, 3, generator=g, dtype=torch.float64).to(dtype)
    shift = torch.tensor([2.0, -1.0, 5.0], dtype=dtype)
    for root in (0, [4, 1]):  # pelvis, or the mean of both hips (H36M indices)
        a = mpjpe(pred, gt, root=root)
        b = mpjpe(pred + shift, gt, root=root)
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-3)
    # without root alignment the shift is fully counted
    assert (mpjpe(pred + shift, gt) > 5000).all()


def test_root_list_is_mean_of_joints():
    # pred = gt + a per-joint offset; root [0, 1] removes the mean offset of joints 0 and 1.
    gt = torch.zeros(3, 3, dtype=torch.float64)
    pred = torch.tensor([[0.0, 0.0, 0.0], [0.2, 0.0, 0.0], [0.1, 0.0, 0.0]], dtype=torch.float64)
    # root offset 0.1 m along x -> residuals 0.1, 0.1, 0.0 m -> mean 66.67 mm
    assert mpjpe(pred, gt, root=[0, 1]).item() == pytest.approx(200.0 / 3.0, abs=1e-9)


# ---------------------------------------------------------------------------
# Masks
# ---------------------------------------------------------------------------
def test_mask_excludes_points_exactly_even_nan():
    g = gen(2)
    gt = torch.randn(5, 10, 3, generator=g, dtype=torch.float64)
    pred = gt + 0.1 * torch.randn(5, 10, 3, generator=g, dtype=torch.float64)
    keep = torch.tensor([True] * 7 + [False] * 3)
    gt_nan = gt.clone()
    gt_nan[..., ~keep, :] = float("nan")   # absent ground truth stored as NaN
    pred_far = pred.clone()
    pred_far[..., ~keep, :] = 1e6
    mask = keep.expand(5, 10)
    ref = mpjpe(pred[..., keep, :], gt[..., keep, :])
    # equal up to the order of the float summation (the sum adds zeros for excluded points)
    torch.testing.assert_close(mpjpe(pred_far, gt_nan, mask=mask), ref, rtol=1e-14, atol=0)
    # float mask means the same as bool
    torch.testing.assert_close(mpjpe(pred_far, gt_nan, mask=mask.double()), ref, rtol=1e-14, atol=0)
    torch.testing.assert_close(
        pa_mpjpe(pred_far, gt_nan, mask=mask), pa_mpjpe(pred[..., keep, :], gt[..., keep, :]),
        rtol=1e-12, atol=1e-9,
    )
    # gradients exist and are zero on the excluded points
    pred_far.requires_grad_(True)
    pa_mpjpe(pred_far, gt_nan, mask=mask).sum().backward()
    assert torch.isfinite(pred_far.grad).all()
    assert (pred_far.grad[..., ~keep, :] == 0).all()


def test_mask_with_no_point_gives_nan_and_summarize_skips_it():
    gt = torch.zeros(2, 4, 3)
    pred = torch.ones(2, 4, 3)
    mask = torch.tensor([[True, True, False, False], [False] * 4])
    err = mpjpe(pred, gt, mask=mask)
    assert err[0].item() == pytest.approx(1000.0 * math.sqrt(3.0))
    assert torch.isnan(err[1])
    assert summarize({"mpjpe": err})["mpjpe"] == pytest.approx(1000.0 * math.sqrt(3.0))


# ---------------------------------------------------------------------------
# Umeyama / PA-MPJPE
# ---------------------------------------------------------------------------
def test_pa_mpjpe_zero_for_similarity_copy_f64():
    g = gen(3)
    gt = torch.randn(32, 17, 3, generator=g, dtype=torch.float64)
    R, s, t = random_similarity((32,), torch.float64, g)
    pred = transform(gt, R, s, t)
    assert (pa_mpjpe(pred, gt) < 1e-6).all()
    # and umeyama recovers the inverse transform exactly
    R2, s2, t2 = umeyama(pred, gt)
    torch.testing.assert_close(R2, R.mT, rtol=0, atol=1e-10)
    torch.testing.assert_close(s2, 1.0 / s, rtol=1e-10, atol=0)
    torch.testing.assert_close(transform(pred, R2, s2, t2), gt, rtol=0, atol=1e-10)


def test_pa_mpjpe_small_for_similarity_copy_f32():
    g = gen(4)
    gt = torch.randn(16, 17, 3, generator=g)
    R, s, t = random_similarity((16,), torch.float32, g)
    assert (pa_mpjpe(transform(gt, R, s, t), gt) < 0.05).all()  # float32 rounding, mm


def test_umeyama_recovers_known_transform(dtype):
    g = gen(5)
    src = torch.randn(8, 20, 3, generator=g, dtype=torch.float64).to(dtype)
    R, s, t = random_similarity((8,), dtype, g)
    dst = transform(src, R, s, t)
    tol = 1e-9 if dtype == torch.float64 else 1e-4
    R2, s2, t2 = umeyama(src, dst)
    assert R2.dtype == dtype and R2.shape == (8, 3, 3) and s2.shape == (8,) and t2.shape == (8, 3)
    torch.testing.assert_close(R2, R, rtol=0, atol=tol)
    torch.testing.assert_close(s2, s, rtol=tol, atol=0)
    torch.testing.assert_close(t2, t, rtol=0, atol=10 * tol)
    # rigid fit: scale fixed at 1, rotation unchanged
    R3, s3, _ = umeyama(src, dst, scale=False)
    assert (s3 == 1).all()
    torch.testing.assert_close(R3, R, rtol=0, atol=tol)


def test_scale_is_folded_into_translation():
    # src away from the origin and s = 2: the naive t = mu_dst - R mu_src (the old
    # Pose2Mesh / I2L-MeshNet bug) misses by (s - 1) R mu_src; ours is exact.
    g = gen(6)
    src = torch.randn(12, 3, generator=g, dtype=torch.float64) + torch.tensor([3.0, 1.0, 2.0], dtype=torch.float64)
    R = roma.rotvec_to_rotmat(torch.tensor([0.3, -0.5, 0.2], dtype=torch.float64))
    s = torch.tensor(2.0, dtype=torch.float64)
    t = torch.tensor([0.1, 0.2, -0.3], dtype=torch.float64)
    dst = transform(src, R, s, t)
    R2, s2, t2 = umeyama(src, dst)
    torch.testing.assert_close(t2, t, rtol=0, atol=1e-10)
    mu_src, mu_dst = src.mean(0), dst.mean(0)
    t_naive = mu_dst - R2 @ mu_src
    naive_error = mpjpe(transform(src, R2, s2, t_naive), dst)
    ours_error = mpjpe(transform(src, R2, s2, t2), dst)
    # naive misses every point by |(s - 1) R mu_src| = |mu_src|
    assert naive_error.item() == pytest.approx(1000.0 * mu_src.norm().item(), rel=1e-9)
    assert ours_error.item() < 1e-6


def test_reflection_fix_never_returns_reflection(dtype):
    g = gen(7)
    src = torch.randn(10, 15, 3, generator=g, dtype=torch.float64).to(dtype)
    mirror = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=dtype))
    dst = src @ mirror  # a mirrored copy: the best orthogonal map is a reflection
    R, s, t = umeyama(src, dst)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(10, dtype=dtype), rtol=0, atol=1e-4)
    assert (pa_mpjpe(src, dst) > 1.0).all()  # a proper rotation cannot undo a mirror
    # the unfixed solution would be the reflection itself, with zero error
    U, _, Vh = torch.linalg.svd((dst - dst.mean(-2, keepdim=True)).mT @ (src - src.mean(-2, keepdim=True)))
    assert (torch.linalg.det(U @ Vh) < 0).all()


def test_pa_not_larger_than_mpjpe_on_random_data(dtype):
    g = gen(8)
    gt = torch.randn(64, 17, 3, generator=g, dtype=torch.float64).to(dtype)
    pred = gt + 0.3 * torch.randn(64, 17, 3, generator=g, dtype=torch.float64).to(dtype)
    pred = pred + torch.randn(64, 1, 3, generator=g, dtype=torch.float64).to(dtype)
    assert (pa_mpjpe(pred, gt) <= mpjpe(pred, gt) + 1e-3).all()
    # the theorem is for the squared error: RMS after alignment <= RMS before
    R, s, t = umeyama(pred, gt)
    rms = lambda a, b: (a - b).square().sum(-1).mean(-1).sqrt()  # noqa: E731
    assert (rms(transform(pred, R, s, t), gt) <= rms(pred, gt) * (1 + 1e-5)).all()


def test_batched_shapes_match_per_sample():
    g = gen(9)
    A, B, J = 2, 3, 14
    gt = torch.randn(A, B, J, 3, generator=g, dtype=torch.float64)
    pred = gt + 0.1 * torch.randn(A, B, J, 3, generator=g, dtype=torch.float64)
    mask = torch.rand(A, B, J, generator=g) > 0.2
    for fn in (mpjpe, pa_mpjpe):
        out4 = fn(pred, gt, mask=mask)
        out3 = fn(pred.reshape(A * B, J, 3), gt.reshape(A * B, J, 3), mask=mask.reshape(A * B, J))
        assert out4.shape == (A, B) and out3.shape == (A * B,)
        for a in range(A):
            for b in range(B):
                single = fn(pred[a, b], gt[a, b], mask=mask[a, b])
                assert single.shape == ()
                torch.testing.assert_close(out4[a, b], single, rtol=1e-12, atol=1e-9)
        torch.testing.assert_close(out4.reshape(-1), out3, rtol=1e-12, atol=1e-9)
    R, s, t = umeyama(pred, gt, mask=mask)
    assert R.shape == (A, B, 3, 3) and s.shape == (A, B) and t.shape == (A, B, 3)


# ---------------------------------------------------------------------------
# Degenerate inputs
# ---------------------------------------------------------------------------
def test_degenerate_inputs_are_finite(dtype):
    g = gen(10)
    gt = torch.randn(4, 6, 3, generator=g, dtype=torch.float64).to(dtype)
    pred = torch.randn(4, 6, 3, generator=g, dtype=torch.float64).to(dtype)
    pred[0] = torch.tensor([0.1, 0.2, 0.3], dtype=dtype)  # all points identical
    pred[1] = 0.0                                         # all points at the origin
    mask = torch.ones(4, 6, dtype=torch.bool)
    mask[2, 2:] = False                                   # only 2 valid points
    mask[3, 1:] = False                                   # only 1 valid point
    pred.requires_grad_(True)
    R, s, t = umeyama(pred, gt, mask=mask)
    for x in (R, s, t):
        assert torch.isfinite(x).all()
    eye = torch.eye(3, dtype=dtype).expand(4, 3, 3)
    torch.testing.assert_close(R, eye)
    torch.testing.assert_close(s, torch.ones(4, dtype=dtype))
    # fallback translation: the difference of the means of the included points
    w = mask[..., None].to(dtype)
    mu = lambda x: (x * w).sum(-2) / w.sum(-2)  # noqa: E731
    torch.testing.assert_close(t, mu(gt) - mu(pred.detach()))
    err = pa_mpjpe(pred, gt, mask=mask)
    assert torch.isfinite(err).all()
    err.sum().backward()
    assert torch.isfinite(pred.grad).all()


def test_small_point_set_far_from_the_origin_is_aligned_in_float32():
    # 1 cm wide, 100 m away: not coincident, float32 resolves it easily
    g = gen(16)
    R0 = roma.rotvec_to_rotmat(torch.tensor([0.3, -0.5, 0.9], dtype=torch.float64))
    src = 0.01 * torch.randn(17, 3, generator=g, dtype=torch.float64) + torch.tensor([0.0, 0.0, 100.0], dtype=torch.float64)
    dst = (src - src.mean(0)) @ R0.T + src.mean(0)
    assert mpjpe(src.float(), dst.float()).item() > 3.0
    assert pa_mpjpe(src.float(), dst.float()).item() < 0.5


def test_mixed_dtypes_and_integer_like_roots():
    g = gen(17)
    pred, gt = torch.randn(2, 17, 3, generator=g), torch.randn(2, 17, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(pa_mpjpe(pred, gt), pa_mpjpe(pred.double(), gt))  # promoted, as mpjpe
    with pytest.raises(ValueError, match="src dtype torch.float32 != dst dtype torch.float64"):
        umeyama(pred, gt)
    np = pytest.importorskip("numpy")
    for root in (np.int64(3), torch.tensor(3)):
        torch.testing.assert_close(mpjpe(pred.double(), gt, root=root), mpjpe(pred.double(), gt, root=3))


def test_mpvpe_refuses_roots_of_another_shape():
    gt = torch.randn(2, 5, 3, generator=gen(18))
    pred = gt + torch.tensor([[[1.0, 0, 0]], [[0, 2.0, 0]]])
    torch.testing.assert_close(mpvpe(pred, gt, pred[:, 0], gt[:, 0]), torch.zeros(2), rtol=0, atol=1e-3)
    with pytest.raises(ValueError, match=r"root_pred must have shape \(2, 3\) \(one point per mesh\), got \(2, 1, 3\)"):
        mpvpe(pred, gt, pred[:, :1], gt[:, :1])


def test_no_valid_point_and_coincident_targets():
    src = torch.randn(5, 3, generator=gen(11), dtype=torch.float64)
    R, s, t = umeyama(src, src, mask=torch.zeros(5, dtype=torch.bool))
    assert torch.equal(R, torch.eye(3, dtype=torch.float64)) and s.item() == 1 and torch.equal(t, torch.zeros(3, dtype=torch.float64))
    # all targets at one point: best similarity collapses src onto it (s = 0), error 0
    dst = torch.full((5, 3), 0.5, dtype=torch.float64)
    R, s, t = umeyama(src, dst)
    assert torch.isfinite(R).all() and abs(s.item()) < 1e-12
    assert pa_mpjpe(src, dst).item() < 1e-9


def test_gradient_finite_at_perfect_prediction():
    # ||pred - gt|| has a kink at 0; the gradient must be 0, not NaN (roma-style NaN check).
    gt = torch.randn(6, 3, generator=gen(12), dtype=torch.float64)
    pred = gt.clone().requires_grad_(True)
    mpjpe(pred, gt).backward()
    assert torch.isfinite(pred.grad).all()


def test_gradcheck_pa_mpjpe_f64():
    g = gen(13)
    gt = torch.randn(2, 8, 3, generator=g, dtype=torch.float64)
    pred = (gt @ torch.diag(torch.tensor([1.0, 0.7, 1.3], dtype=torch.float64))
            + 0.2 * torch.randn(2, 8, 3, generator=g, dtype=torch.float64))
    pred.requires_grad_(True)
    gt.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p, q: pa_mpjpe(p, q), (pred, gt), eps=1e-6, atol=1e-5)


# ---------------------------------------------------------------------------
# Vertices
# ---------------------------------------------------------------------------
def test_mpvpe_roots_and_pa():
    g = gen(14)
    gt = torch.randn(3, 100, 3, generator=g, dtype=torch.float64)
    pred = gt + torch.tensor([0.0, 0.0, 0.02], dtype=torch.float64)  # 2 cm in z
    torch.testing.assert_close(mpvpe(pred, gt), torch.full((3,), 20.0, dtype=torch.float64))
    # translating each mesh by its own root removes the offset
    root_pred, root_gt = pred[:, 0], gt[:, 0]
    torch.testing.assert_close(mpvpe(pred, gt, root_pred=root_pred, root_gt=root_gt),
                               torch.zeros(3, dtype=torch.float64), rtol=0, atol=1e-9)
    R, s, t = random_similarity((3,), torch.float64, g)
    assert (pa_mpvpe(transform(gt, R, s, t), gt) < 1e-6).all()


# ---------------------------------------------------------------------------
# Per-part errors
# ---------------------------------------------------------------------------
def test_per_part_keys_coco_and_superset():
    for layout, keys in (
        ("coco", ["body", "face"]),
        ("superset", ["body", "hands", "feet", "face"]),
        ("wholebody23", ["body", "feet", "face"]),
        ("blazepose33", ["body", "hands", "feet", "face"]),  # left_foot_index -> feet
        ("openpose25", ["body", "feet", "face"]),            # mid_hip -> body
        ("h36m", ["body"]),
    ):
        names = get_layout(layout).names
        J = len(names)
        out = per_part_errors(torch.zeros(2, J, 3), torch.zeros(2, J, 3), names)
        assert sorted(out) == sorted(keys), layout
        assert all(v.shape == (2,) for v in out.values())


def test_per_part_values_and_mask():
    names = ["left_wrist", "nose", "left_big_toe", "left_thumb", "pelvis"]
    gt = torch.zeros(5, 3, dtype=torch.float64)
    # offsets in m: wrist 0.01, nose 0.02, toe 0.03, thumb 0.04, pelvis 0.05
    pred = torch.tensor([[0.01, 0, 0], [0.02, 0, 0], [0.03, 0, 0], [0.04, 0, 0], [0.05, 0, 0]],
                        dtype=torch.float64)
    out = per_part_errors(pred, gt, names)
    assert out["body"].item() == pytest.approx(30.0)   # mean(10, 50) mm
    assert out["face"].item() == pytest.approx(20.0)
    assert out["feet"].item() == pytest.approx(30.0)
    assert out["hands"].item() == pytest.approx(40.0)
    mask = torch.tensor([True, True, True, True, False])
    assert per_part_errors(pred, gt, names, mask=mask)["body"].item() == pytest.approx(10.0)
    custom = per_part_errors(pred, gt, names, parts={n: "all" for n in names})
    assert list(custom) == ["all"] and custom["all"].item() == pytest.approx(30.0)
    with pytest.raises(ValueError, match="no body part"):
        per_part_errors(pred, gt, names[:-1] + ["pelvisss"])
    with pytest.raises(ValueError, match="4 names for 5"):
        per_part_errors(pred, gt, names[:-1])


def test_default_part_table_covers_every_layout():
    for layout in ("blazepose33", "coco", "h36m", "mpii", "openpose18", "openpose25", "smpl24",
                   "superset", "wholebody23"):
        assert set(get_layout(layout).names) <= set(KEYPOINT_PARTS)
    assert KEYPOINT_PARTS["left_wrist"] == "body" and KEYPOINT_PARTS["left_ankle"] == "body"


# ---------------------------------------------------------------------------
# summarize
# ---------------------------------------------------------------------------
def test_summarize_means_over_batches():
    out = summarize({
        "mpjpe": [torch.tensor([1.0, 2.0]), torch.tensor([[3.0], [float("nan")]])],
        "pa_mpjpe": torch.tensor([4.0, 6.0]),
        "empty": torch.tensor([float("nan")]),
    })
    assert out["mpjpe"] == pytest.approx(2.0)
    assert out["pa_mpjpe"] == pytest.approx(5.0)
    assert math.isnan(out["empty"])
    assert all(isinstance(v, float) for v in out.values())


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        mpjpe(torch.zeros(3, 3), torch.zeros(4, 3))


def test_normal_error_golden_values(dtype):
    from pose2mesh.metrics import normal_error

    tri = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=dtype)  # normal +z
    faces = torch.tensor([[0, 1, 2]])
    # same triangle, translated and scaled: 0 degrees
    assert normal_error(tri * 3 + 1, tri, faces).item() == pytest.approx(0.0, abs=1e-3)
    # rotated 90 degrees about x: normal -> -y (or +y): 90 degrees
    rot = roma.rotvec_to_rotmat(torch.tensor([math.pi / 2, 0.0, 0.0], dtype=dtype))
    assert normal_error(tri @ rot.T, tri, faces).item() == pytest.approx(90.0, abs=1e-3)
    # vertex order reversed (face flipped): 180 degrees
    assert normal_error(tri[[0, 2, 1]], tri, faces).item() == pytest.approx(180.0, abs=1e-2)
    # mean over faces, batched: one face right, one at 90 degrees -> 45
    quad = torch.cat([tri, tri @ rot.T + 5])
    faces2 = torch.tensor([[0, 1, 2], [3, 4, 5]])
    gt = torch.cat([tri, tri + 5])
    out = normal_error(torch.stack([quad, gt]), torch.stack([gt, gt]), faces2)
    assert out.shape == (2,) and out[0].item() == pytest.approx(45.0, abs=1e-3) and out[1].item() == pytest.approx(0.0, abs=1e-3)
    # degenerate predicted face: 90 degrees, not NaN
    assert normal_error(torch.zeros(3, 3, dtype=dtype), tri, faces).item() == pytest.approx(90.0)
    with pytest.raises(ValueError, match=r"faces must have shape \(F, 3\)"):
        normal_error(tri, tri, torch.tensor([0, 1, 2]))


def test_normal_error_sees_surface_noise_that_mpvpe_barely_does():
    from pose2mesh.metrics import normal_error

    g = torch.Generator().manual_seed(0)
    n = 20  # a flat 20 x 20 grid, 1 cm spacing
    u, v = torch.meshgrid(torch.arange(n, dtype=torch.float64), torch.arange(n, dtype=torch.float64), indexing="ij")
    grid = torch.stack([u, v, torch.zeros_like(u)], -1).reshape(-1, 3) * 0.01
    idx = torch.arange(n * n).reshape(n, n)
    faces = torch.cat([torch.stack([idx[:-1, :-1], idx[1:, :-1], idx[:-1, 1:]], -1).reshape(-1, 3),
                       torch.stack([idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]], -1).reshape(-1, 3)])
    noisy = grid + torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64) * 0.002 * torch.randn(n * n, 1, generator=g, dtype=torch.float64)
    assert mpvpe(noisy, grid).item() < 2.0  # 2 mm of depth noise: under 2 mm MPVPE
    assert normal_error(noisy, grid, faces).item() > 15.0  # but the normals tilt by tens of degrees
