"""Tests of pose2mesh.data.corrupt: every transform's behaviour and its invariants."""
import math

import pytest
import torch

from pose2mesh.data.corrupt import (
    DEFAULT_OKS_SIGMA,
    FACE_POINTS,
    LEFT_HAND_POINTS,
    OKS_SIGMAS,
    RIGHT_HAND_POINTS,
    BoxOccluder,
    Compose,
    DetectorErrors,
    GaussianNoise,
    Keypoints2D,
    RandomMask,
    Sometimes,
    Truncate,
    clean,
    detector_like,
    detector_masked,
    detector_masked_or_clean,
    h3wb_masking,
    oks_sigmas,
    person_scale,
)
from pose2mesh.joints import Layout, get_layout

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
LAYOUTS = ["coco", "openpose25", "blazepose33", "superset"]


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


def _gen(device, seed=0):
    return torch.Generator(device=device).manual_seed(seed)


def _batch(n, layout, device, seed=3, p_absent=0.1, image=True) -> Keypoints2D:
    """Random people: keypoints in a 200x400 px box somewhere in a 640x480 image, some absent."""
    j = get_layout(layout).num_joints
    g = torch.Generator(device=device).manual_seed(seed)
    origin = torch.rand(n, 1, 2, generator=g, device=device) * torch.tensor([500.0, 200.0], device=device)
    xy = origin + torch.rand(n, j, 2, generator=g, device=device) * torch.tensor([200.0, 400.0], device=device)
    conf = 0.5 + 0.5 * torch.rand(n, j, generator=g, device=device)
    conf = torch.where(torch.rand(n, j, generator=g, device=device) < p_absent, torch.zeros_like(conf), conf)
    size = torch.tensor([[640.0, 480.0]], device=device).expand(n, 2) if image else None
    return Keypoints2D.from_xy(xy, layout, conf, size)


ALL_TRANSFORMS = [
    GaussianNoise(),
    DetectorErrors(p_jitter=0.2, p_miss=0.2, p_inversion=0.2, p_swap=0.2),
    RandomMask(),
    BoxOccluder(p=0.8),
    Truncate(),
    detector_like(),
    detector_masked(),
    detector_masked_or_clean(),
    Sometimes(GaussianNoise(sigma=0.05), p=0.5),
    h3wb_masking(),
    clean(),
]


def _clone(kp):
    return Keypoints2D(kp.xy.clone(), kp.confidence.clone(), kp.layout, kp.scale.clone(), kp.image_size.clone())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("transform", ALL_TRANSFORMS, ids=lambda t: type(t).__name__ + str(len(getattr(t, "transforms", []))))
def test_invariants(transform, layout, device):
    kp = _batch(512, layout, device)
    before = _clone(kp)
    a = transform(kp, _gen(device, 5))
    b = transform(kp, _gen(device, 5))
    # deterministic for a fixed generator
    assert torch.equal(a.xy, b.xy) and torch.equal(a.confidence, b.confidence)
    # inputs untouched
    for name in ("xy", "confidence", "scale", "image_size"):
        assert torch.equal(getattr(kp, name), getattr(before, name)), name
    # shapes, ranges, finiteness, no resurrection
    assert a.xy.shape == kp.xy.shape and a.confidence.shape == kp.confidence.shape
    assert a.layout == kp.layout and a.xy.device == kp.xy.device
    assert torch.isfinite(a.xy).all() and torch.isfinite(a.confidence).all()
    assert (a.confidence >= 0).all() and (a.confidence <= 1).all()
    assert (a.confidence[kp.confidence == 0] == 0).all()


@pytest.mark.parametrize("transform", [GaussianNoise(), DetectorErrors(), RandomMask(), BoxOccluder(p=1.0)])
def test_different_seeds_differ(transform, device):
    kp = _batch(256, "superset", device)
    a = transform(kp, _gen(device, 1))
    b = transform(kp, _gen(device, 2))
    assert not (torch.equal(a.xy, b.xy) and torch.equal(a.confidence, b.confidence))


def test_gaussian_noise_std(device):
    kp = _batch(20000, "coco", device, p_absent=0.0)
    out = GaussianNoise(sigma=0.02)(kp, _gen(device))
    normalized = (out.xy - kp.xy) / kp.scale[:, None, None]
    std = normalized.std()
    assert abs(std.item() - 0.02) < 0.002
    assert normalized.mean().abs() < 0.001
    # confidence drops with the displacement
    d = (out.xy - kp.xy).norm(dim=-1) / kp.scale[:, None]
    ratio = out.confidence / kp.confidence
    torch.testing.assert_close(ratio, torch.exp(-(d**2) / (2 * 0.05**2)), atol=1e-4, rtol=1e-4)


def test_gaussian_noise_leaves_absent_points(device):
    kp = _batch(256, "coco", device, p_absent=0.5)
    out = GaussianNoise(sigma=0.1)(kp, _gen(device))
    absent = kp.confidence == 0
    assert torch.equal(out.xy[absent], kp.xy[absent])
    assert (out.xy[~absent] != kp.xy[~absent]).any()


def test_random_mask_rate_matches_expectation(device):
    layout = "superset"
    n = 20000
    kp = _batch(n, layout, device, p_absent=0.0)
    t = RandomMask(p_sample=0.4, p_keypoint=0.25, p_part=0.2)
    out = t(kp, _gen(device))
    canonical = get_layout(layout).canonical
    in_part = torch.tensor([c in FACE_POINTS | LEFT_HAND_POINTS | RIGHT_HAND_POINTS for c in canonical], device=device)
    p_single = 0.4 * 0.25
    expect_part = 1 - (1 - p_single) * (1 - 0.2)
    masked = (out.confidence == 0).float()
    assert abs(masked[:, ~in_part].mean().item() - p_single) < 0.005
    assert abs(masked[:, in_part].mean().item() - expect_part) < 0.005
    n_part = int(in_part.sum())
    expect_all = (p_single * (len(canonical) - n_part) + expect_part * n_part) / len(canonical)
    assert abs(masked.mean().item() - expect_all) < 0.005


@pytest.mark.parametrize("layout", ["superset", "blazepose33"])
def test_part_masking_masks_whole_parts(layout, device):
    kp = _batch(2000, layout, device, p_absent=0.0)
    out = RandomMask(p_sample=0.0, p_keypoint=0.0, p_part=0.5)(kp, _gen(device))
    names = get_layout(layout).canonical
    masked = out.confidence == 0
    hit_parts = 0
    for part in (FACE_POINTS, LEFT_HAND_POINTS, RIGHT_HAND_POINTS):
        idx = torch.tensor([i for i, c in enumerate(names) if c in part], device=device)
        sub = masked[:, idx]
        # each part is all-or-nothing
        assert (sub.all(1) | ~sub.any(1)).all()
        frac = sub.all(1).float().mean().item()
        assert abs(frac - 0.5) < 0.05
        hit_parts += 1
    others = torch.tensor(
        [i for i, c in enumerate(names) if c not in FACE_POINTS | LEFT_HAND_POINTS | RIGHT_HAND_POINTS], device=device
    )
    assert not masked[:, others].any()  # wrists, body points are never part-masked
    assert "left_wrist" not in LEFT_HAND_POINTS


def test_box_occluder_hides_exactly_the_points_inside(device):
    kp = _batch(1000, "superset", device)
    occluder = BoxOccluder(p=0.7, size=(0.3, 0.8))
    boxes, active = occluder.sample_boxes(kp, _gen(device, 11))
    out = occluder(kp, _gen(device, 11))
    u, v = kp.xy.unbind(-1)
    inside = (u >= boxes[:, None, 0]) & (u <= boxes[:, None, 2]) & (v >= boxes[:, None, 1]) & (v <= boxes[:, None, 3])
    inside &= active[:, None]
    assert torch.equal(out.confidence == 0, inside | (kp.confidence == 0))
    assert torch.equal(out.confidence[~inside], kp.confidence[~inside])
    assert inside.any(1).float().mean() > 0.3  # boxes do land on the person
    assert abs(active.float().mean().item() - 0.7) < 0.05
    w = (boxes[active, 2] - boxes[active, 0]) / kp.scale[active]
    assert w.min() >= 0.3 - 1e-4 and w.max() <= 0.8 + 1e-4


@pytest.mark.parametrize("layout", LAYOUTS)
def test_inversion_swaps_exactly_left_right_pairs(layout, device):
    kp = _batch(64, layout, device, p_absent=0.0)
    out = DetectorErrors(p_jitter=0, p_miss=0, p_inversion=1.0, p_swap=0)(kp, _gen(device))
    lay = get_layout(layout)
    perm = list(lay.flip_permutation)
    assert torch.equal(out.xy, kp.xy[:, perm])
    unpaired = [i for i, p in enumerate(perm) if p == i]
    assert torch.equal(out.confidence[:, unpaired], kp.confidence[:, unpaired])
    paired = [i for i, p in enumerate(perm) if p != i]
    ratio = out.confidence[:, paired] / kp.confidence[:, paired]
    assert (ratio >= 0.8 - 1e-6).all() and (ratio <= 1 + 1e-6).all()  # detectors stay confident


def test_inversion_needs_a_present_partner(device):
    kp = _batch(64, "coco", device, p_absent=0.0)
    conf = kp.confidence.clone()
    lw, rw = get_layout("coco").index("left_wrist"), get_layout("coco").index("right_wrist")
    conf[:, rw] = 0
    kp = kp.replace(confidence=conf)
    out = DetectorErrors(p_jitter=0, p_miss=0, p_inversion=1.0, p_swap=0)(kp, _gen(device))
    assert torch.equal(out.xy[:, lw], kp.xy[:, lw]) and (out.confidence[:, rw] == 0).all()


def test_swap_takes_another_keypoint_of_the_same_person(device):
    kp = _batch(256, "coco", device, p_absent=0.2)
    out = DetectorErrors(p_jitter=0, p_miss=0, p_inversion=0, p_swap=1.0)(kp, _gen(device))
    present = kp.confidence > 0
    # every present keypoint now sits on another present keypoint's original position
    dist = (out.xy[:, :, None] - kp.xy[:, None, :]).norm(dim=-1)  # (N, J, J)
    eye = torch.eye(17, dtype=torch.bool, device=device)
    dist = torch.where(present[:, None, :] & ~eye, dist, torch.full_like(dist, float("inf")))
    has_other = present.sum(1, keepdim=True) > 1
    moved = present & has_other
    assert (dist.amin(-1)[moved] == 0).all()
    assert (out.confidence[moved] <= 0.4 * kp.confidence[moved] + 1e-6).all()


def test_jitter_and_miss_distances_follow_oks(device):
    kp = _batch(4000, "coco", device, p_absent=0.0)
    kappa = 2 * oks_sigmas("coco").to(device)
    d_norm = lambda out: (out.xy - kp.xy).norm(dim=-1) / (kappa * kp.scale[:, None])
    jit = DetectorErrors(p_jitter=1.0, p_miss=0, p_inversion=0, p_swap=0)(kp, _gen(device))
    oks = torch.exp(-d_norm(jit) ** 2 / 2)
    assert oks.min() >= 0.5 - 1e-4 and oks.max() <= 0.85 + 1e-4
    miss = DetectorErrors(p_jitter=0, p_miss=1.0, p_inversion=0, p_swap=0, miss_drop=0.3)(kp, _gen(device))
    kept = miss.confidence > 0
    assert abs((~kept).float().mean().item() - 0.3) < 0.02
    oks = torch.exp(-d_norm(miss)[kept] ** 2 / 2)
    assert oks.max() <= 0.5 + 1e-4 and oks.min() >= 0.01 - 1e-4


def test_error_type_rates(device):
    kp = _batch(5000, "superset", device, p_absent=0.0)
    out = DetectorErrors()(kp, _gen(device))
    changed = (out.xy != kp.xy).any(-1) | (out.confidence != kp.confidence)
    # jitter + miss + swap always change a point; inversions of paired points do too
    assert 0.14 < changed.float().mean().item() < 0.18


def test_oks_table_covers_the_superset_and_official_values():
    for name in get_layout("superset").canonical:
        assert name in OKS_SIGMAS, name
    assert OKS_SIGMAS["nose"] == 0.026 and OKS_SIGMAS["left_hip"] == 0.107 and OKS_SIGMAS["right_big_toe"] == 0.068
    coco = oks_sigmas("coco")
    assert coco.shape == (17,) and coco[get_layout("coco").index("left_wrist")].item() == pytest.approx(0.062)


def test_truncate(device):
    kp = _batch(8, "coco", device, p_absent=0.0)
    xy = kp.xy.clone()
    xy[:, 0] = torch.tensor([-1.0, 10.0], device=device)
    xy[:, 1] = torch.tensor([639.4, 479.4], device=device)
    xy[:, 2] = torch.tensor([100.0, 480.0], device=device)
    kp = kp.replace(xy=xy)
    out = Truncate()(kp, _gen(device))
    assert (out.confidence[:, 0] == 0).all() and (out.confidence[:, 2] == 0).all()
    assert torch.equal(out.confidence[:, 1], kp.confidence[:, 1])
    with pytest.raises(ValueError, match="image_size"):
        Truncate()(kp.replace(image_size=None), _gen(device))


def test_compose_applies_in_order(device):
    calls = []

    def tag(name, dx):
        def t(kp, g):
            calls.append(name)
            return kp.replace(xy=kp.xy * 2 if dx == "double" else kp.xy + 1)
        return t

    kp = _batch(4, "coco", device)
    out = Compose([tag("a", "double"), tag("b", "plus")])(kp, _gen(device))
    assert calls == ["a", "b"]
    torch.testing.assert_close(out.xy, kp.xy * 2 + 1)
    out2 = Compose([tag("b", "plus"), tag("a", "double")])(kp, _gen(device))
    torch.testing.assert_close(out2.xy, (kp.xy + 1) * 2)
    assert torch.equal(clean()(kp, _gen(device)).xy, kp.xy)


def test_detector_like_corrupts(device):
    kp = _batch(2000, "superset", device, p_absent=0.0)
    out = detector_like()(kp, _gen(device))
    assert (out.confidence == 0).float().mean() > 0.02
    # every keypoint still present has been moved by the pixel noise at least
    assert (out.xy != kp.xy).any(-1)[out.confidence > 0].all()
    # some keypoints fall outside the 640x480 image and are truncated
    outside = (kp.xy[..., 1] > 479.5)
    assert outside.any() and (out.confidence[outside] == 0).all()


def test_detector_masked_adds_sparse_samples(device):
    kp = _batch(4000, "coco", device, p_absent=0.0)
    base, masked = detector_like()(kp, _gen(device)), detector_masked()(kp, _gen(device))
    # same draws for the detector part: masking only ever removes keypoints
    assert not ((masked.confidence > 0) & (base.confidence == 0)).any()
    lost = ((base.confidence > 0) & (masked.confidence == 0)).float()
    # 30 % of the samples lose each keypoint with probability 0.3: 9 % of the points
    assert 0.07 < lost.mean().item() < 0.11
    hit = lost.sum(-1) > 0
    assert 0.25 < hit.float().mean().item() < 0.35


def test_sometimes_applies_per_sample():
    kp = _batch(4000, "coco", "cpu", p_absent=0.0)
    out = Sometimes(GaussianNoise(sigma=0.05), p=0.3)(kp, _gen("cpu"))
    moved = (out.xy != kp.xy).any(-1)  # (N, J)
    # a sample is moved as a whole or not at all, ~30 % of them
    assert (moved.all(-1) | ~moved.any(-1)).all()
    assert 0.27 < moved.all(-1).float().mean().item() < 0.33
    assert (Sometimes(GaussianNoise(), p=0.0)(kp, _gen("cpu")).xy == kp.xy).all()
    with pytest.raises(ValueError, match="p must be in"):
        Sometimes(GaussianNoise(), p=1.5)


def test_detector_masked_or_clean_keeps_a_fraction_exact():
    kp = _batch(4000, "coco", "cpu", p_absent=0.0)
    kp = kp.replace(xy=kp.xy * 0.5 + 50)  # inside the image: truncation removes nothing
    out = detector_masked_or_clean(p_clean=0.3)(kp, _gen("cpu"))
    exact = (out.xy == kp.xy).all(-1).all(-1)
    assert 0.27 < exact.float().mean().item() < 0.33
    # the exact samples are still masked like the others: 30 % x 30 % of their points
    lost = (out.confidence[exact] == 0).float().mean().item()
    assert 0.06 < lost < 0.12
    assert not (detector_masked_or_clean(p_clean=0.0)(kp, _gen("cpu")).xy == kp.xy).all(-1).all(-1).any()


def test_person_scale():
    xy = torch.tensor([[[0.0, 0.0], [100.0, 400.0], [1000.0, 1000.0]]])
    conf = torch.tensor([[1.0, 1.0, 0.0]])
    assert person_scale(xy, conf).item() == pytest.approx(200.0)
    assert person_scale(xy, torch.zeros(1, 3)).item() == 1.0
    # a vertical line keeps a usable scale
    assert person_scale(torch.tensor([[[0.0, 0.0], [0.0, 100.0]]]), torch.ones(1, 2)).item() == pytest.approx(
        (10 * 100) ** 0.5
    )


def test_from_projection_marks_behind_camera_absent():
    layout = get_layout("coco")
    pixels = torch.zeros(1, 17, 2)
    pixels[0, 1] = float("nan")
    pixels[0, 2] = torch.tensor([700.0, 20.0])
    depth = torch.ones(1, 17)
    depth[0, 1] = -1
    kp = Keypoints2D.from_projection(pixels, depth, layout.name, torch.tensor([[640.0, 480.0]]))
    assert kp.confidence[0, 1] == 0 and torch.isfinite(kp.xy).all() and kp.confidence[0, 2] == 1
    assert Truncate()(kp, _gen("cpu")).confidence[0, 2] == 0


def test_wrong_generator_device_or_layout_is_an_error(device):
    kp = _batch(4, "coco", device)
    with pytest.raises(ValueError, match="joints|keypoints"):
        Keypoints2D(kp.xy, kp.confidence, "superset", kp.scale)
    if device.type == "cuda":
        with pytest.raises(ValueError, match="generator"):
            GaussianNoise()(kp, torch.Generator(device="cpu"))
    with pytest.raises(ValueError, match="probabilities"):
        DetectorErrors(p_jitter=0.9, p_miss=0.2)


def test_gaussian_noise_validates_and_keeps_absent_points_exactly_absent():
    # conf_falloff = 0 used to give exp(-0 / 0) = NaN confidences, also for absent points
    for bad in (0.0, -0.05, float("nan")):
        with pytest.raises(ValueError, match=f"conf_falloff must be > 0, got {bad}"):
            GaussianNoise(conf_falloff=bad)
    for bad in (-0.01, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=f"sigma must be finite and >= 0, got {bad}"):
            GaussianNoise(sigma=bad)
    kp = _batch(8, "coco", "cpu", p_absent=0.3)
    assert (kp.confidence == 0).any()
    # no noise: nothing moves and the confidences are unchanged (factor exp(0) = 1)
    out = GaussianNoise(sigma=0.0)(kp, _gen("cpu"))
    assert torch.equal(out.confidence, kp.confidence) and torch.equal(out.xy, kp.xy)
    # conf_falloff = inf: points move, confidences unchanged
    out = GaussianNoise(sigma=0.05, conf_falloff=math.inf)(kp, _gen("cpu"))
    assert torch.equal(out.confidence, kp.confidence) and not torch.equal(out.xy, kp.xy)


def test_custom_layout_object_goes_through_every_route():
    lay = Layout("mine", ("nose", "my_point", "left_wrist"), ((0, 1), (1, 2)), (), ("nose", "my_point", "left_wrist"))
    xy = torch.rand(64, 3, 2, generator=_gen("cpu")) * 200
    kp = Keypoints2D.from_xy(xy, lay, image_size=torch.tensor([[640.0, 480.0]]).expand(64, 2))
    assert kp.layout is lay
    # known canonical names get their COCO sigma, the unknown one DEFAULT_OKS_SIGMA
    assert oks_sigmas(lay).tolist() == pytest.approx([OKS_SIGMAS["nose"], DEFAULT_OKS_SIGMA, OKS_SIGMAS["left_wrist"]])
    for transform in (DetectorErrors(p_jitter=0.3, p_miss=0.3, p_swap=0.3), RandomMask(), detector_masked_or_clean()):
        out = transform(kp, _gen("cpu"))
        assert out.layout is lay and torch.isfinite(out.xy).all()
        assert ((out.confidence >= 0) & (out.confidence <= 1)).all()
    # the built-in names still resolve and are stored canonically
    assert Keypoints2D.from_xy(torch.rand(1, 17, 2), "COCO").layout == "coco"
    assert torch.equal(oks_sigmas(get_layout("coco")), oks_sigmas("coco"))


def test_detector_masked_or_clean_names_p_clean():
    for bad in (2.0, -0.5, float("nan")):
        with pytest.raises(ValueError, match=rf"p_clean must be in \[0, 1\], got {bad}"):
            detector_masked_or_clean(p_clean=bad)
