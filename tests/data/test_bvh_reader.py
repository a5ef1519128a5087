"""Strict BVH reader: golden FK, convention pins, malformed files (file + line in the error)."""
import gzip

import numpy as np
import pytest

from pose2mesh.data import BVHError, read_bvh

# Hips (root, 6 channels ZYX) -> Spine (ZYX) -> Head (ZXY); Hips -> LeftLeg (ZYX). Units: metres.
TINY_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Spine
  {
    OFFSET 0 1 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    JOINT Head
    {
      OFFSET 0 0.5 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 0.2 0
      }
    }
  }
  JOINT LeftLeg
  {
    OFFSET 0.2 0 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    End Site
    {
      OFFSET 0 -0.5 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.0333333
0 1 0 0 0 0 0 0 0 0 0 0 0 0 0
1 1 0 90 0 0 0 0 0 0 0 0 0 0 0
2 1 0 0 0 0 90 0 0 0 0 90 0 0 0
"""

# Worked by hand from the hierarchy above (p_j = p_parent + G_parent @ offset_j):
# frame 0 identity; frame 1 root at (1,1,0) turned 90 deg about Z (+X -> +Y, +Y -> -X);
# frame 2 root at (2,1,0), Spine turned 90 deg about Z (moves Head only).
GOLDEN = np.array([
    [[0, 1, 0], [0, 2, 0], [0, 2.5, 0], [0.2, 1, 0]],
    [[1, 1, 0], [0, 1, 0], [-0.5, 1, 0], [1, 1.2, 0]],
    [[2, 1, 0], [2, 2, 0], [1.5, 2, 0], [2.2, 1, 0]],
], dtype=np.float32)


def line_of(text: str, needle: str, start: int = 0) -> int:
    """1-based number of the first line (from ``start``) that contains ``needle``."""
    lines = text.splitlines()
    return next(i + 1 for i in range(start, len(lines)) if needle in lines[i])


def write(tmp_path, text: str, name: str = "tiny.bvh"):
    p = tmp_path / name
    p.write_text(text)
    return p


def rz(deg):
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def rx(deg):
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def ry(deg):
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def test_tiny_parses_with_golden_positions(tmp_path):
    m = read_bvh(write(tmp_path, TINY_BVH), scale=1.0)
    assert m.joint_names == ("Hips", "Spine", "Head", "LeftLeg")
    assert m.parents == (-1, 0, 1, 0)
    assert m.skeleton == "unknown"
    assert m.rotations.shape == (3, 4, 3, 3) and m.rotations.dtype == np.float32
    assert m.fps == pytest.approx(30.0, rel=1e-5)
    np.testing.assert_allclose(m.global_positions(), GOLDEN, atol=1e-6)


def test_gzip_and_scale(tmp_path):
    p = tmp_path / "tiny.bvh.gz"
    p.write_bytes(gzip.compress(TINY_BVH.encode()))
    m = read_bvh(p, scale=0.5)
    np.testing.assert_allclose(m.global_positions(), 0.5 * GOLDEN, atol=1e-6)


def test_unknown_skeleton_lists_known_ones(tmp_path):
    with pytest.raises(ValueError, match="cmu_mb2_31joint.*cmu_daz_43joint"):
        read_bvh(write(tmp_path, TINY_BVH))


def one_joint(tmp_path, channels: str, values: str):
    n = len(channels.split())
    text = (f"HIERARCHY\nROOT A\n{{\n OFFSET 0 0 0\n CHANNELS {n} {channels}\n"
            f" End Site\n {{\n  OFFSET 0 1 0\n }}\n}}\nMOTION\nFrames: 1\nFrame Time: 0.01\n{values}\n")
    return read_bvh(write(tmp_path, text, "one.bvh"), scale=1.0)


def test_convention_positive_angle_about_z_maps_x_to_y(tmp_path):
    R = one_joint(tmp_path, "Zrotation Yrotation Xrotation", "90 0 0").rotations[0, 0]
    np.testing.assert_allclose(R @ [1, 0, 0], [0, 1, 0], atol=1e-6)


@pytest.mark.parametrize("order", ["ZYX", "ZXY", "XYZ", "YZX", "XZY", "YXZ"])
def test_channel_order_is_intrinsic_product_in_listed_order(tmp_path, order):
    angles = {"X": 30.0, "Y": -50.0, "Z": 70.0}
    mats = {"X": rx, "Y": ry, "Z": rz}
    chans = " ".join(f"{a}rotation" for a in order)
    vals = " ".join(str(angles[a]) for a in order)
    R = one_joint(tmp_path, chans, vals).rotations[0, 0]
    expected = mats[order[0]](angles[order[0]]) @ mats[order[1]](angles[order[1]]) @ mats[order[2]](angles[order[2]])
    np.testing.assert_allclose(R, expected, atol=1e-6)


def test_root_position_channels_any_order_and_partial(tmp_path):
    m = one_joint(tmp_path, "Zposition Xposition Zrotation", "3 1 0")
    np.testing.assert_allclose(m.root_positions[0], [1, 0, 3])


# (name, edit of the fixture text, needle locating the line the error must name)
def _drop_root_close(t):
    i = t.rindex("}")
    return t[:i] + t[i + 1:]


MALFORMED = {
    "missing_brace": (_drop_root_close, "MOTION"),
    "extra_brace": (lambda t: t.replace("}\nMOTION", "}\n}\nMOTION"), None),
    "row_channel_count": (lambda t: t.replace("1 1 0 90 0 0 0 0 0 0 0 0 0 0 0", "1 1 0 90 0 0 0 0 0 0 0 0 0 0"),
                          "1 1 0 90"),
    "frames_mismatch": (lambda t: t.replace("Frames: 3", "Frames: 4"), "Frames:"),
    "nan_value": (lambda t: t.replace("2 1 0 0 0 0 90", "2 1 0 0 0 nan 90"), "2 1 0 0 0 nan"),
    "inf_value": (lambda t: t.replace("2 1 0 0 0 0 90", "2 1 0 0 0 inf 90"), "2 1 0 0 0 inf"),
    "unknown_keyword": (lambda t: t.replace("    JOINT Head", "    ROTATION 0 0 0\n    JOINT Head"), "ROTATION"),
    "channels_count_too_small": (lambda t: t.replace("CHANNELS 3 Zrotation Xrotation", "CHANNELS 2 Zrotation Xrotation"),
                                 "CHANNELS 2"),
    "channels_bad_name": (lambda t: t.replace("CHANNELS 3 Zrotation Xrotation Yrotation",
                                              "CHANNELS 3 Zrotation Xrotation Wrotation"), "Wrotation"),
    "offset_two_numbers": (lambda t: t.replace("OFFSET 0 0.5 0", "OFFSET 0 0.5"), "OFFSET 0 0.5"),
    "offset_not_number": (lambda t: t.replace("OFFSET 0 0.5 0", "OFFSET 0 x 0"), "OFFSET 0 x 0"),
    "bad_value": (lambda t: t.replace("2 1 0 0 0 0 90", "2 1 0 0 0 abc 90"), "abc"),
    "blank_row_inside": (lambda t: t.replace("0 0 0 0 0 0\n1 1 0", "0 0 0 0 0 0\n\n1 1 0"), None),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_raises_with_file_and_line(tmp_path, case):
    edit, needle = MALFORMED[case]
    text = edit(TINY_BVH)
    assert text != TINY_BVH
    if case == "extra_brace":
        line = text.splitlines().index("MOTION")  # the stray '}' just above MOTION
    elif case == "blank_row_inside":
        line = text.splitlines().index("") + 1
    else:
        line = line_of(text, needle)
    with pytest.raises(BVHError) as e:
        read_bvh(write(tmp_path, text, f"bad_{case}.bvh"), scale=1.0)
    assert f"bad_{case}.bvh:{line}:" in str(e.value)
    assert isinstance(e.value, ValueError)


def test_trailing_blank_lines_and_crlf_are_fine(tmp_path):
    p = tmp_path / "crlf.bvh"
    p.write_bytes((TINY_BVH + "\n\n").replace("\n", "\r\n").encode())
    np.testing.assert_allclose(read_bvh(p, scale=1.0).global_positions(), GOLDEN, atol=1e-6)


def test_channels_count_smaller_than_names_says_so(tmp_path):
    text = TINY_BVH.replace("CHANNELS 3 Zrotation Xrotation Yrotation", "CHANNELS 2 Zrotation Xrotation Yrotation")
    with pytest.raises(BVHError) as e:
        read_bvh(write(tmp_path, text, "chan2.bvh"), scale=1.0)
    line = line_of(text, "CHANNELS 2")
    assert str(e.value) == f"chan2.bvh:{line}: CHANNELS 2 lists 3 channels on its line (more than 2)"


@pytest.mark.parametrize("damage", ["truncated", "bad_crc"])
def test_truncated_or_corrupt_gzip_raises_bvh_error_naming_the_file(tmp_path, damage):
    raw = gzip.compress(TINY_BVH.encode())
    raw = raw[: len(raw) // 2] if damage == "truncated" else raw[:-8] + b"\0" * 8  # CRC + size zeroed
    p = tmp_path / "broken.bvh.gz"
    p.write_bytes(raw)
    with pytest.raises(BVHError, match=r"^broken\.bvh\.gz: truncated or corrupt gzip file \("):
        read_bvh(p, scale=1.0)


def test_utf8_byte_order_mark_is_skipped(tmp_path):
    p = tmp_path / "bom.bvh"
    p.write_bytes(b"\xef\xbb\xbf" + TINY_BVH.encode())
    np.testing.assert_allclose(read_bvh(p, scale=1.0).global_positions(), GOLDEN, atol=1e-6)


def test_unknown_skeleton_error_names_the_file_and_the_python_argument(tmp_path):
    with pytest.raises(ValueError) as e:
        read_bvh(write(tmp_path, TINY_BVH, "custom.bvh"))
    msg = str(e.value)
    assert msg.startswith("custom.bvh: no known skeleton for the 4 joints ['Head', 'Hips', 'LeftLeg', 'Spine']")
    assert "read_bvh(..., scale=...)" in msg and "Pass scale=" not in msg


@pytest.mark.parametrize("scale", [0.0, -0.01, float("nan"), float("inf")])
def test_scale_must_be_finite_and_positive(tmp_path, scale):
    with pytest.raises(ValueError, match=r"scale \(metres per file unit\) must be a finite number > 0, got "):
        read_bvh(write(tmp_path, TINY_BVH), scale=scale)
