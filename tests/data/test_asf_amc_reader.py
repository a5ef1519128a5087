"""ASF/AMC reader: golden FK on a tiny hand-made skeleton, the bone-axis convention, strict errors."""
import gzip

import numpy as np
import pytest

from pose2mesh.data import BVHError, read_amc, read_asf
from pose2mesh.data.asf_amc import AMCError, ASFError

TINY_ASF = """# tiny test skeleton
:version 1.10
:name tiny
:units
  mass 1.0
  length 0.45
  angle deg
:documentation
  three bones, the tibia with a rotated local frame
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name femur
     direction 0 -1 0
     length 9
     axis 0 0 0 XYZ
    dof rx
    limits (-160.0 20.0)
  end
  begin
     id 2
     name tibia
     direction 0 -1 0
     length 9
     axis 0 0 90 XYZ
    dof rx
    limits (-10.0 170.0)
  end
  begin
     id 3
     name foot
     direction 0 0 1
     length 4.5
     axis 0 0 0 XYZ
  end
:hierarchy
  begin
    root femur
    femur tibia
    tibia foot
  end
"""

TINY_AMC = """#!OML:ASF tiny.asf
:FULLY-SPECIFIED
:DEGREES
1
root 0 20 0 0 0 0
femur 0
tibia 0
2
root 0 20 0 0 90 0
femur 90
tibia 90
"""

S = 0.0254 / 0.45  # metres per CMU unit (ASF 'length 0.45')
# By hand. Joints sit at bone starts: root, femur (at root), tibia (femur end), foot (tibia end).
# Frame 2: root Ry(90) (+Z -> +X); femur Rx(90) (-Y -> -Z) so the femur points along -X;
# tibia: local frame C = Rz(90), dof rx 90 -> world rotation C Rx(90) C^T = Ry(90), so
# G_tibia @ (0,-1,0) = Ry90 Rx90 Ry90 (0,-1,0) = (-1,0,0).
GOLDEN = S * np.array([
    [[0, 20, 0], [0, 20, 0], [0, 11, 0], [0, 2, 0]],
    [[0, 20, 0], [0, 20, 0], [-9, 20, 0], [-18, 20, 0]],
], dtype=np.float64)


def write(tmp_path, name, text, gz=False):
    p = tmp_path / name
    if gz:
        p.write_bytes(gzip.compress(text.encode()))
    else:
        p.write_text(text)
    return p


def test_tiny_asf_amc_golden(tmp_path):
    sk = read_asf(write(tmp_path, "tiny.asf", TINY_ASF))
    assert sk.metres_per_unit == pytest.approx(0.056444, abs=1e-6)
    assert sk.joint_order() == ["root", "femur", "tibia", "foot"]
    m = read_amc(write(tmp_path, "tiny_01.amc.gz", TINY_AMC, gz=True), sk)
    assert m.skeleton == "cmu_asf" and m.fps == 120.0
    assert m.joint_names == ("root", "femur", "tibia", "foot")
    assert m.parents == (-1, 0, 1, 2)
    np.testing.assert_allclose(m.offsets[2], S * np.array([0, -9, 0]), atol=1e-6)
    np.testing.assert_allclose(m.global_positions(), GOLDEN, atol=1e-5)


@pytest.mark.parametrize("case,edit,needle", [
    ("value_count", lambda t: t.replace("femur 90", "femur 90 1"), "femur 90 1"),
    ("frame_number", lambda t: t.replace("\n2\n", "\n3\n"), "3"),
    ("nan", lambda t: t.replace("tibia 90", "tibia nan"), "tibia nan"),
    ("unknown_bone", lambda t: t.replace("tibia 90", "fibula 90"), "fibula"),
    ("repeated_bone", lambda t: t.replace("tibia 90", "femur 90"), None),
    ("missing_bone", lambda t: t.replace("femur 0\n", ""), "2"),
    ("unknown_keyword", lambda t: t.replace(":DEGREES", ":GRADIANS"), ":GRADIANS"),
])
def test_amc_malformed(tmp_path, case, edit, needle):
    sk = read_asf(write(tmp_path, "tiny.asf", TINY_ASF))
    text = edit(TINY_AMC)
    lines = text.splitlines()
    if case == "repeated_bone":
        line = len(lines)  # the second 'femur' of frame 2 is the last line
    else:
        line = next(i + 1 for i, s in enumerate(lines) if s.strip() == needle or s.startswith(needle + " ")
                    or (needle in s and len(needle) > 1))
    with pytest.raises(BVHError) as e:
        read_amc(write(tmp_path, f"bad_{case}.amc", text), sk)
    assert f"bad_{case}.amc:{line}:" in str(e.value)


@pytest.mark.parametrize("case,edit,needle", [
    ("unknown_section", lambda t: t.replace(":documentation", ":docs"), ":docs"),
    ("direction", lambda t: t.replace("direction 0 0 1", "direction 0 1"), "direction 0 1"),
    ("axis_order", lambda t: t.replace("axis 0 0 90 XYZ", "axis 0 0 90 XYW"), "XYW"),
    ("bad_dof", lambda t: t.replace("dof rx\n    limits (-10.0", "dof qx\n    limits (-10.0"), "dof qx"),
    ("unknown_child", lambda t: t.replace("tibia foot", "tibia toes"), "tibia toes"),
    ("unknown_entry", lambda t: t.replace("     id 3", "     colour red"), "colour"),
])
def test_asf_malformed(tmp_path, case, edit, needle):
    text = edit(TINY_ASF)
    line = next(i + 1 for i, s in enumerate(text.splitlines()) if needle in s)
    with pytest.raises(BVHError) as e:
        read_asf(write(tmp_path, f"bad_{case}.asf", text))
    assert f"bad_{case}.asf:{line}:" in str(e.value)


def test_amc_radians_against_a_degree_asf(tmp_path):
    # The tibia's ASF axis (0 0 90, degrees) keeps the ASF's unit; only the AMC values are radians.
    sk = read_asf(write(tmp_path, "tiny.asf", TINY_ASF))
    rad = TINY_AMC.replace(":DEGREES", ":RADIANS").replace("90", repr(np.pi / 2))
    m = read_amc(write(tmp_path, "tiny_rad.amc", rad), sk)
    np.testing.assert_allclose(m.global_positions(), GOLDEN, atol=1e-5)


def test_amc_degrees_against_a_radian_asf(tmp_path):
    asf = TINY_ASF.replace("angle deg", "angle rad").replace("axis 0 0 90 XYZ", f"axis 0 0 {np.pi / 2!r} XYZ")
    sk = read_asf(write(tmp_path, "tiny_rad.asf", asf))
    assert not sk.degrees
    m = read_amc(write(tmp_path, "tiny.amc", TINY_AMC), sk)  # :DEGREES
    np.testing.assert_allclose(m.global_positions(), GOLDEN, atol=1e-5)


def test_amc_not_a_number_names_file_line_and_bone(tmp_path):
    sk = read_asf(write(tmp_path, "tiny.asf", TINY_ASF))
    text = TINY_AMC.replace("tibia 90", "tibia abc")
    with pytest.raises(AMCError) as e:
        read_amc(write(tmp_path, "bad.amc", text), sk)
    line = text.splitlines().index("tibia abc") + 1
    assert str(e.value) == f"bad.amc:{line}: bone 'tibia' value 'abc' is not a number"


@pytest.mark.parametrize("kind", ["asf", "amc"])
def test_truncated_gzip_raises_the_readers_error_naming_the_file(tmp_path, kind):
    text = TINY_ASF if kind == "asf" else TINY_AMC
    raw = gzip.compress(text.encode())
    p = tmp_path / f"broken.{kind}.gz"
    p.write_bytes(raw[: len(raw) // 2])
    error = ASFError if kind == "asf" else AMCError
    with pytest.raises(error, match=rf"^broken\.{kind}\.gz: truncated or corrupt gzip file \("):
        if kind == "asf":
            read_asf(p)
        else:
            read_amc(p, read_asf(write(tmp_path, "tiny.asf", TINY_ASF)))
