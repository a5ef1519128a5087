"""Strict reader for CMU's original Acclaim files: ASF skeleton + AMC motion.

Conventions of the Acclaim format (as used by CMU / Vicon BodyLanguage), and
how they map onto a :class:`~pose2mesh.data.motion.Motion`:

* ``:units``: ``length L`` means one file unit is ``1 / L`` inch, so metres =
  value x ``0.0254 / L`` (CMU: ``L = 0.45`` -> 0.056444). ``angle deg|rad``.
  Bone lengths, the root ``position`` and the AMC root translation use it.
  The ASF's ``axis`` / root ``orientation`` angles are in the ASF's ``angle``
  unit; the AMC values are in the AMC header's unit (``:DEGREES`` / ``:RADIANS``;
  the ASF's when the AMC names none).
* Bone ``direction`` (unit vector) and ``axis`` are given in the **global**
  rest frame (+Y up). ``axis ax ay az ORDER``: the bone's local frame
  ``C = euler(ax, ay, az)``; a bone's AMC ``dof`` values give ``L = euler(...)``
  in that local frame, and the bone's rotation expressed in world-aligned axes
  is ``Q = C @ L @ C.T``. Euler ``ORDER`` ``XYZ`` means X is applied first
  (extrinsic), i.e. ``R = Rz @ Ry @ Rx`` -- the mocapPlayer / AMCParser reading.
  Missing dofs are zero. The root uses its ``axis`` order and ``orientation``.
* Joints: ``root`` plus one joint per bone, placed at the bone's *start* (its
  parent's end), so ``offsets[b] = length[parent] * direction[parent]`` (zero for
  bones hanging off the root), the same layout as the cgspeed BVH (e.g. lhipjoint
  at the root, lfemur at the hip). The far ends of leaf bones are not joints.
* AMC frames are numbered consecutively from 1; CMU's rate is 120 fps (the
  file does not store it).

Errors are :class:`ASFError` / :class:`AMCError` (both :class:`~pose2mesh.data.bvh.BVHError`,
hence ``ValueError``) with ``'<file>:<line>: ...'`` messages.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from pose2mesh.data.bvh import BVHError, read_text
from pose2mesh.data.motion import ASF_SKELETON, Motion

CMU_AMC_FPS = 120.0


class ASFError(BVHError):
    """A malformed ASF file (``'<file>:<line>: ...'``)."""


class AMCError(BVHError):
    """A malformed AMC file (``'<file>:<line>: ...'``)."""


@dataclass
class AsfBone:
    """One ASF bone: unit ``direction`` (3,), ``length`` (file units), ``axis`` angles
    (3,) in the file's angle unit with Euler ``axis_order``, and its ``dof`` names."""

    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    axis_order: str
    dof: tuple[str, ...]


@dataclass
class AsfSkeleton:
    """A parsed ASF file.

    Attributes:
        metres_per_unit: ``0.0254 / length`` from ``:units``.
        degrees: angles in degrees (``angle deg``) or radians.
        root_order: AMC value order of the root, e.g. ``('tx','ty','tz','rx','ry','rz')``.
        root_axis: Euler order of the root rotation, e.g. ``'XYZ'``.
        root_position, root_orientation: (3,) each, file units / angle unit.
        bones: name -> :class:`AsfBone`, in file order.
        parents: bone name -> parent name (``'root'`` for top-level bones).
    """

    name: str
    metres_per_unit: float
    degrees: bool
    root_order: tuple[str, ...]
    root_axis: str
    root_position: np.ndarray
    root_orientation: np.ndarray
    bones: dict[str, AsfBone] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def joint_order(self) -> list[str]:
        """``['root', ...bones]`` with every parent before its children (depth first, file order)."""
        children: dict[str, list[str]] = {}
        for b, p in self.parents.items():
            children.setdefault(p, []).append(b)
        order, stack = [], ["root"]
        while stack:
            n = stack.pop()
            order.append(n)
            stack.extend(reversed(children.get(n, [])))
        return order


def _euler(order: str, angles: np.ndarray, degrees: bool) -> np.ndarray:
    """ASF Euler: ``order`` 'XYZ' = X applied first (extrinsic) -> ``Rz @ Ry @ Rx``; (..., 3, 3)."""
    return Rotation.from_euler(order.lower(), angles, degrees=degrees).as_matrix()


def _floats(toks: list[str], n: int, err, what: str) -> np.ndarray:
    if len(toks) < n:
        raise err(f"{what} needs {n} numbers, got {len(toks)}")
    try:
        v = np.array([float(t) for t in toks[:n]])
    except ValueError:
        raise err(f"{what} needs {n} numbers, got {' '.join(toks[:n])!r}") from None
    if not np.isfinite(v).all():
        raise err(f"{what} values are not finite: {' '.join(toks[:n])}")
    return v


_AXES = {"".join(p) for p in ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")}
_DOFS = {"rx", "ry", "rz", "tx", "ty", "tz", "l"}


def read_asf(path: str | os.PathLike) -> AsfSkeleton:
    """Read an ASF skeleton (plain or ``.gz``) strictly.

    Returns:
        :class:`AsfSkeleton` (lengths still in file units; :func:`read_amc` converts).

    Raises:
        ASFError: malformed file; message ``'<file>:<line>: ...'``.
    """
    path = Path(path)
    fname = path.name
    lines = read_text(path, ASFError).splitlines()
    units = {"length": 1.0, "angle": "deg"}
    root: dict = {}
    bones: dict[str, AsfBone] = {}
    parents: dict[str, str] = {}
    skel_name = ""
    section = None
    bone: dict | None = None

    for i, raw in enumerate(lines, 1):
        def err(msg: str, _i=i) -> ASFError:
            return ASFError(f"{fname}:{_i}: {msg}")

        toks = raw.split()
        if not toks or toks[0].startswith("#"):
            continue
        key = toks[0]
        if key.startswith(":"):
            section = key
            if key == ":name":
                skel_name = " ".join(toks[1:])
            elif key not in (":version", ":units", ":documentation", ":root", ":bonedata",
                             ":hierarchy"):
                raise err(f"unknown section '{key}'")
            continue
        if section == ":documentation":
            continue
        if section == ":units":
            if key == "length":
                units["length"] = float(_floats(toks[1:], 1, err, "length")[0])
                if units["length"] <= 0:
                    raise err("length unit must be positive")
            elif key == "angle":
                if toks[1:] not in (["deg"], ["rad"]):
                    raise err(f"angle unit must be 'deg' or 'rad', got {' '.join(toks[1:])!r}")
                units["angle"] = toks[1]
            elif key != "mass":
                raise err(f"unknown :units entry '{key}'")
        elif section == ":root":
            if key == "order":
                order = tuple(t.lower() for t in toks[1:])
                if not order or any(t not in _DOFS for t in order) or len(set(order)) != len(order):
                    raise err(f"bad root order {' '.join(toks[1:])!r}")
                root["order"] = order
            elif key == "axis":
                if len(toks) != 2 or toks[1].upper() not in _AXES:
                    raise err(f"root axis must be a permutation of XYZ, got {' '.join(toks[1:])!r}")
                root["axis"] = toks[1].upper()
            elif key in ("position", "orientation"):
                if len(toks) != 4:
                    raise err(f"root {key} needs 3 numbers, got {len(toks) - 1}")
                root[key] = _floats(toks[1:], 3, err, f"root {key}")
            else:
                raise err(f"unknown :root entry '{key}'")
        elif section == ":bonedata":
            if key == "begin":
                if bone is not None:
                    raise err("'begin' inside a bone (missing 'end')")
                bone = {"line": i, "dof": ()}
            elif key == "end":
                if bone is None:
                    raise err("'end' without 'begin'")
                for need in ("name", "direction", "length", "axis"):
                    if need not in bone:
                        raise err(f"bone starting at line {bone['line']} has no '{need}'")
                if bone["name"] in bones or bone["name"] == "root":
                    raise err(f"bone name '{bone['name']}' used twice")
                d = bone["direction"]
                nrm = np.linalg.norm(d)
                bones[bone["name"]] = AsfBone(bone["name"], d / nrm if nrm > 0 else d,
                                              bone["length"], bone["axis"], bone["axis_order"],
                                              bone["dof"])
                bone = None
            elif bone is None:
                raise err(f"'{key}' outside a begin/end bone block")
            elif key == "id":
                pass
            elif key == "name":
                if len(toks) != 2:
                    raise err("bone name must be one word")
                bone["name"] = toks[1]
            elif key == "direction":
                if len(toks) != 4:
                    raise err(f"direction needs 3 numbers, got {len(toks) - 1}")
                bone["direction"] = _floats(toks[1:], 3, err, "direction")
            elif key == "length":
                if len(toks) != 2:
                    raise err(f"length needs 1 number, got {len(toks) - 1}")
                bone["length"] = float(_floats(toks[1:], 1, err, "length")[0])
            elif key == "axis":
                if len(toks) != 5 or toks[4].upper() not in _AXES:
                    raise err("axis needs 3 numbers and an order such as XYZ")
                bone["axis"] = _floats(toks[1:4], 3, err, "axis")
                bone["axis_order"] = toks[4].upper()
            elif key == "dof":
                dof = tuple(t.lower() for t in toks[1:])
                if not dof or any(t not in _DOFS for t in dof) or len(set(dof)) != len(dof):
                    raise err(f"bad dof list {' '.join(toks[1:])!r}")
                bone["dof"] = dof
            elif key == "limits" or key.startswith("("):
                pass  # joint limits: not used for playback
            elif key in ("bodymass", "cofmass"):
                pass
            else:
                raise err(f"unknown bone entry '{key}'")
        elif section == ":hierarchy":
            if key in ("begin", "end"):
                continue
            for child in toks[1:]:
                if key != "root" and key not in bones:
                    raise err(f"hierarchy parent '{key}' is not a bone")
                if child not in bones:
                    raise err(f"hierarchy child '{child}' is not a bone")
                if child in parents:
                    raise err(f"bone '{child}' has two parents")
                parents[child] = key
        else:
            raise err(f"'{key}' outside any section")
    n = len(lines)
    if bone is not None:
        raise ASFError(f"{fname}:{n}: bone starting at line {bone['line']} has no 'end'")
    for need in ("order", "axis"):
        if need not in root:
            raise ASFError(f"{fname}:{n}: ':root' has no '{need}'")
    orphans = [b for b in bones if b not in parents]
    if orphans:
        raise ASFError(f"{fname}:{n}: bones missing from ':hierarchy': {orphans}")
    skel = AsfSkeleton(skel_name, 0.0254 / units["length"], units["angle"] == "deg",
                       root["order"], root["axis"], root.get("position", np.zeros(3)),
                       root.get("orientation", np.zeros(3)), bones, parents, str(path))
    # A cycle would leave bones unreachable from 'root'.
    if len(skel.joint_order()) != len(bones) + 1:
        raise ASFError(f"{fname}:{n}: ':hierarchy' is not a tree rooted at 'root'")
    return skel


def read_amc(path: str | os.PathLike, skeleton: AsfSkeleton, fps: float = CMU_AMC_FPS) -> Motion:
    """Read an AMC motion (plain or ``.gz``) for ``skeleton`` strictly.

    Args:
        path: the AMC file.
        skeleton: from :func:`read_asf` (the subject's own ``NN.asf``).
        fps: frame rate (AMC files store none; CMU captured at 120).

    Returns:
        :class:`Motion` (``skeleton='cmu_asf'``), joints ``root`` + every bone
        (parents first), offsets and root positions in metres, +Y up.

    Raises:
        AMCError: malformed file (frames not numbered 1, 2, ...; a bone missing,
            repeated or unknown; wrong value count; non-finite value).
    """
    path = Path(path)
    fname = path.name
    lines = read_text(path, AMCError).splitlines()
    names = skeleton.joint_order()
    dofs = {b.name: b.dof for b in skeleton.bones.values()}
    dofs["root"] = skeleton.root_order
    moving = [n for n in names if dofs[n]]
    col = {}
    D = 0
    for n in moving:
        col[n] = D
        D += len(dofs[n])
    degrees = skeleton.degrees  # unit of the AMC values; the ASF axes keep the ASF's own

    rows: list[list] = []
    row_lines: list[int] = []
    seen: set = set()
    frame_line = 0

    def close_frame(at: int) -> None:
        missing = [n for n in moving if n not in seen]
        if missing:
            raise AMCError(f"{fname}:{at}: frame {len(rows)} (line {frame_line}) lacks bones {missing}")

    row = None
    for i, raw in enumerate(lines, 1):
        toks = raw.split()
        if not toks or toks[0].startswith("#"):
            continue
        key = toks[0]
        if key.startswith(":"):
            if row is not None:
                raise AMCError(f"{fname}:{i}: header keyword '{key}' after the first frame")
            if key == ":DEGREES":
                degrees = True
            elif key == ":RADIANS":
                degrees = False
            elif key != ":FULLY-SPECIFIED":
                raise AMCError(f"{fname}:{i}: unknown keyword '{key}'")
            continue
        if len(toks) == 1 and key.isdigit():
            if row is not None:
                close_frame(i)
            if int(key) != len(rows) + 1:
                raise AMCError(f"{fname}:{i}: frame number {key}, expected {len(rows) + 1}")
            row = [None] * D
            rows.append(row)
            row_lines.append(i)
            seen = set()
            frame_line = i
            continue
        if row is None:
            raise AMCError(f"{fname}:{i}: '{key}' before the first frame number")
        if key not in dofs:
            raise AMCError(f"{fname}:{i}: unknown bone '{key}' (not in {skeleton.source or 'the ASF'})")
        if key in seen:
            raise AMCError(f"{fname}:{i}: bone '{key}' twice in frame {len(rows)}")
        n = len(dofs[key])
        if len(toks) - 1 != n:
            raise AMCError(f"{fname}:{i}: bone '{key}' has {len(toks) - 1} values, its ASF dof has {n}")
        seen.add(key)
        if n:
            row[col[key]:col[key] + n] = toks[1:]
    if row is None:
        raise AMCError(f"{fname}:{len(lines)}: no frames")
    close_frame(len(lines))

    def bone_at(r: int, c: int) -> tuple[str, int]:
        """The bone of value column ``c`` in frame ``r`` and the 1-based line it is on."""
        bone = next(n for n in moving if col[n] <= c < col[n] + len(dofs[n]))
        start = row_lines[r]
        end = row_lines[r + 1] if r + 1 < len(row_lines) else len(lines) + 1
        return bone, next((k + 1 for k in range(start, end - 1) if lines[k].split()[:1] == [bone]), start)

    try:
        data = np.array(rows, dtype=np.float64).reshape(len(rows), D)
    except ValueError:
        for r, vals in enumerate(rows):
            for c, t in enumerate(vals):
                try:
                    float(t)
                except ValueError:
                    bone, ln = bone_at(r, c)
                    raise AMCError(f"{fname}:{ln}: bone '{bone}' value '{t}' is not a number") from None
        raise
    finite = np.isfinite(data)
    if not finite.all():
        r, c = np.argwhere(~finite)[0]
        bone, ln = bone_at(r, c)
        raise AMCError(f"{fname}:{ln}: bone '{bone}' value {data[r, c]} is not finite")

    T, J = len(rows), len(names)
    s = skeleton.metres_per_unit
    rotations = np.empty((T, J, 3, 3))
    offsets = np.zeros((J, 3))
    root_pos = np.tile(skeleton.root_position * s, (T, 1))
    bone_vec = {b.name: b.length * b.direction * s for b in skeleton.bones.values()}
    for j, n in enumerate(names):
        d = dofs[n]
        vals = data[:, col[n]:col[n] + len(d)] if d else np.zeros((T, 0))
        angles = np.zeros((T, 3))
        for k, dn in enumerate(d):
            if dn[0] == "r":
                angles[:, "xyz".index(dn[1])] = vals[:, k]
            elif dn[0] == "t" and n == "root":
                root_pos[:, "xyz".index(dn[1])] += vals[:, k] * s
        if n == "root":
            order, axis = skeleton.root_axis, skeleton.root_orientation
        else:
            b = skeleton.bones[n]
            order, axis = b.axis_order, b.axis
            p = skeleton.parents[n]
            offsets[j] = bone_vec[p] if p != "root" else 0.0
        # Euler angles are stored in x, y, z slots; the order decides the product.
        idx = ["xyz".index(a) for a in order.lower()]
        L = _euler(order, angles[:, idx], degrees)  # AMC unit (:DEGREES / :RADIANS)
        C = _euler(order, axis[idx], skeleton.degrees)  # ASF unit (angle deg / rad)
        rotations[:, j] = C @ L @ C.T
    parents = tuple(-1 if n == "root" else names.index(skeleton.parents[n]) for n in names)
    return Motion(tuple(names), parents, offsets, rotations, root_pos, fps, str(path), ASF_SKELETON)
