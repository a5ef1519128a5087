"""Bad input to lift: one clear exception per class of mistake, naming what is wrong."""
import numpy as np
import pytest

from pose2mesh.api import liftable, usable_keypoints

SIZE = (1280, 720)


def _kp(n=None, j=17, d=3):
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(100, 600, (j, 2)), np.ones((j, 1))], 1)[:, :d]
    return kp if n is None else np.repeat(kp[None], n, 0)


def _coinciding(n=2, at=1):
    """``n`` samples; sample ``at`` has only its two eyes, both at one pixel."""
    kp = _kp(n=n)
    kp[at] = np.nan
    kp[at, 1:3] = [600.0, 300.0, 0.9]
    return kp


def _only_one_confident():
    kp = _kp(n=2)
    kp[1, 1:, 2] = 0.0  # sample 1: only keypoint 0 is confident
    return kp


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        # shapes
        (dict(keypoints=np.zeros((2, 3, 17, 3))), ValueError, r"keypoints must have shape \(J, 2\|3\) or \(N, J, 2\|3\)"),
        (dict(keypoints=np.zeros((17, 4))), ValueError, r"keypoints must have shape .* got \(1, 17, 4\)"),
        (dict(keypoints=np.zeros(17)), ValueError, r"keypoints must have shape"),
        (dict(keypoints=np.zeros((0, 17, 3))), ValueError, r"no person / frame \(N = 0\)"),
        (dict(keypoints=[["a", "b", "c"]] * 17), TypeError, "keypoints must be a numeric"),
        # layouts
        (dict(layout="cocoo"), ValueError, "unknown joint layout 'cocoo'; choose one of: blazepose33, coco"),
        (dict(keypoints=_kp(j=25)), ValueError,
         r"layout 'coco' has 17 keypoints but keypoints have 25 .*layouts with 25 keypoints: openpose25"),
        (dict(layout="openpose25"), ValueError, "layout 'openpose25' has 25 keypoints but keypoints have 17"),
        # absence
        (dict(keypoints=_kp() * [np.nan, np.nan, 1.0]), ValueError,
         r"all keypoints are absent in sample\(s\) \[0\]"),
        (dict(keypoints=_kp(n=3) * np.array([1, 1, 0.1])), ValueError,
         r"all keypoints are absent in sample\(s\) \[0, 1, 2\] .*min_confidence=0.3"),
        (dict(keypoints=_only_one_confident()), ValueError, r"only 1 keypoint is usable in sample\(s\) \[1\]"),
        (dict(keypoints=_kp() + [5000.0, 0, 0]), ValueError, r"all keypoints are absent .*outside the image"),
        (dict(keypoints=_coinciding(1, 0)), ValueError, r"sample\(s\) \[0\] all lie at one image position"),
        (dict(keypoints=_coinciding(2, 1)), ValueError, r"sample\(s\) \[1\] all lie at one image position"),
        (dict(keypoints=_coinciding(2, 0)), ValueError, r"sample\(s\) \[0\] all lie at one image position"),
        # image size
        (dict(image_size=(1280, float("nan"))), ValueError, "image_size must be finite and positive"),
        (dict(image_size=(0, 720)), ValueError, "image_size must be finite and positive"),
        (dict(image_size=(1280,)), ValueError, r"image_size must be \(width, height\)"),
        (dict(image_size=None), ValueError, r"image_size=\(width, height\) in pixels is required unless K is given"),
        # focal length and K
        (dict(focal_length=-500.0), ValueError, "focal_length must be a finite positive number of pixels"),
        (dict(focal_length=float("inf")), ValueError, "focal_length must be a finite positive"),
        (dict(K=np.eye(4)), ValueError, r"K must be a 3x3 intrinsic matrix .* got shape \(4, 4\)"),
        (dict(K=np.ones((2, 3, 3))), ValueError, r"K must be a 3x3 intrinsic matrix \(or \(1, 3, 3\)"),
        (dict(K=np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 0]])), ValueError, "upper-triangular pinhole"),
        (dict(K=np.diag([-500.0, 500.0, 1.0])), ValueError, "positive focal lengths"),
        (dict(K=np.diag([np.nan, 500.0, 1.0])), ValueError, "K must be finite"),
        (dict(K=np.diag([500.0, 500.0, 1.0]), focal_length=500.0), ValueError, "either focal_length or K, not both"),
        # confidence
        (dict(confidence=np.ones(17)), ValueError, "confidence was given twice"),
        (dict(keypoints=_kp(d=2), confidence=np.ones(16)), ValueError, r"confidence must have shape \(17,\) or \(1, 17\)"),
        (dict(min_confidence=-0.1), ValueError, "min_confidence must be a finite number >= 0"),
        (dict(min_confidence=None), ValueError, "min_confidence must be a finite number >= 0, got None"),
    ],
)
def test_bad_input_message(lifter, kwargs, error, message):
    args = dict(keypoints=_kp(), layout="coco", image_size=SIZE)
    args.update(kwargs)
    with pytest.raises(error, match=message):
        lifter(args.pop("keypoints"), **args)


def test_usable_keypoints_validates_like_lift():
    with pytest.raises(ValueError, match="has 17 keypoints but keypoints have 25"):
        usable_keypoints(_kp(j=25), "coco")
    assert usable_keypoints(_kp(), "coco").shape == (1, 17)


def test_liftable_rows_are_exactly_those_lift_accepts(lifter):
    kp = np.concatenate([_coinciding(3, 1), _only_one_confident()[1:], _kp(n=1) * [np.nan, np.nan, 1.0]])
    ok = liftable(kp, "coco", SIZE)
    assert ok.tolist() == [True, False, True, False, False]
    assert len(lifter(kp[ok], image_size=SIZE)) == 2
    for row in np.flatnonzero(~ok):
        with pytest.raises(ValueError):
            lifter(kp[row], image_size=SIZE)
