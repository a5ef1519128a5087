"""Strict BVH reader (plain or gzip) returning a :class:`~pose2mesh.data.motion.Motion`.

Why our own reader and not ``bvhio`` & co.: (1) strictness -- every malformed
file raises :class:`BVHError` naming the file *and* the 1-based line, instead of
silently mis-parsing (a row with a missing value shifts every later joint);
(2) speed -- the motion block is parsed in one ``np.loadtxt`` call, not a Python
loop per value; (3) no extra dependency.

Conventions:

* Rotation channels are Euler angles in degrees, applied **intrinsically in the
  listed order**: ``Zrotation Yrotation Xrotation`` gives ``R = Rz @ Ry @ Rx``
  (so a 90 deg ``Zrotation`` maps +X to +Y). Any order and any subset of axes is
  accepted per joint.
* Position channels on the root give the root translation (absent axes fall
  back to the root OFFSET). Position channels on other joints are tolerated
  and ignored (a warning is logged): :class:`Motion` has fixed bone offsets.
* ``End Site`` blocks are validated but are not joints.
* Output is in metres, axes untouched (+Y up, as BVH); see :mod:`pose2mesh.data.motion`.
"""
from __future__ import annotations

import gzip
import logging
import os
import zlib
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from pose2mesh.data.motion import Motion, check_scale, resolve_skeleton

logger = logging.getLogger(__name__)

_CHANNELS = {f"{a}{k}" for a in "XYZ" for k in ("position", "rotation")}


class BVHError(ValueError):
    """A malformed BVH file; the message reads ``'<file>:<line>: <what is wrong>'``."""


def read_text(path: Path, error: type[ValueError] = BVHError) -> str:
    """The file's text; gzip is detected by its magic bytes, not the name.

    A leading UTF-8 byte-order mark (written by some Windows editors) is skipped.
    A truncated or corrupt gzip stream raises ``error`` (the reader's error class)
    naming the file.
    """
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:  # truncated, bad CRC, bad deflate data
            raise error(f"{path.name}: truncated or corrupt gzip file ({err})") from None
    if raw[:3] == b"\xef\xbb\xbf":
        raw = raw[3:]
    return raw.decode("ascii", errors="replace")


class _Tokens:
    """Whitespace tokens of the header with their 1-based line numbers."""

    def __init__(self, lines: list[str], name: str) -> None:
        self.toks = [(t, i + 1) for i, line in enumerate(lines) for t in line.split()]
        self.pos = 0
        self.name = name
        self.last_line = len(lines)

    def error(self, line: int, msg: str) -> BVHError:
        return BVHError(f"{self.name}:{line}: {msg}")

    def next(self, what: str) -> tuple[str, int]:
        if self.pos >= len(self.toks):
            raise self.error(self.last_line, f"unexpected end of hierarchy, expected {what}")
        self.pos += 1
        return self.toks[self.pos - 1]

    def expect(self, word: str) -> int:
        tok, line = self.next(f"'{word}'")
        if tok != word:
            raise self.error(line, f"expected '{word}', got '{tok}'")
        return line

    def floats(self, n: int, what: str, key_line: int) -> np.ndarray:
        """``n`` finite numbers, all on ``key_line`` (the keyword's line)."""
        vals = []
        for _ in range(n):
            tok, line = self.next(f"{n} numbers after {what}")
            if line != key_line:
                raise self.error(key_line, f"{what} needs {n} numbers on its line, got {len(vals)}")
            try:
                v = float(tok)
            except ValueError:
                raise self.error(line, f"{what} needs {n} numbers, got '{tok}'") from None
            if not np.isfinite(v):
                raise self.error(line, f"{what} value '{tok}' is not finite")
            vals.append(v)
        return np.array(vals)


def _parse_joint(tk: _Tokens, name: str, parent: int, out: dict) -> None:
    """Parse ``{ OFFSET ... CHANNELS ... children }`` of one joint (name already read)."""
    tk.expect("{")
    j = len(out["names"])
    out["names"].append(name)
    out["parents"].append(parent)
    tok, line = tk.next("OFFSET")
    if tok != "OFFSET":
        raise tk.error(line, f"expected 'OFFSET' in joint '{name}', got '{tok}'")
    out["offsets"].append(tk.floats(3, "OFFSET", line))
    tok, line = tk.next("CHANNELS")
    if tok != "CHANNELS":
        raise tk.error(line, f"expected 'CHANNELS' in joint '{name}', got '{tok}'")
    ntok, nline = tk.next("channel count")
    if nline != line:
        raise tk.error(line, "CHANNELS needs a count on its line")
    if not ntok.isdigit():
        raise tk.error(nline, f"CHANNELS count must be a non-negative integer, got '{ntok}'")
    chans = []
    for _ in range(int(ntok)):
        c, cline = tk.next("channel name")
        if cline != nline:
            raise tk.error(nline, f"CHANNELS {ntok} lists {len(chans)} channels on its line")
        if c not in _CHANNELS:
            raise tk.error(cline, f"CHANNELS of '{name}' declares {ntok} channels but "
                                  f"'{c}' is not a channel (one of {sorted(_CHANNELS)})")
        if c in chans:
            raise tk.error(cline, f"channel '{c}' repeated in joint '{name}'")
        chans.append(c)
    extra = 0  # tokens left on the CHANNELS line
    while tk.pos + extra < len(tk.toks) and tk.toks[tk.pos + extra][1] == nline:
        extra += 1
    if extra:
        raise tk.error(nline, f"CHANNELS {ntok} lists {len(chans) + extra} channels on its line "
                              f"(more than {ntok})")
    out["channels"].append(chans)
    out["channel_line"].append(nline)
    while True:
        tok, line = tk.next("'}', JOINT or End Site")
        if tok == "}":
            return
        if tok == "JOINT":
            child, _ = tk.next("joint name")
            _parse_joint(tk, child, j, out)
        elif tok == "End":
            tk.expect("Site")
            tk.expect("{")
            oline = tk.expect("OFFSET")
            tk.floats(3, "End Site OFFSET", oline)
            tk.expect("}")
        else:
            raise tk.error(line, f"unknown keyword '{tok}' in joint '{name}' "
                                 "(expected JOINT, End Site or '}')")


def _euler_to_matrix(axes: str, angles_deg: np.ndarray) -> np.ndarray:
    """Intrinsic Euler angles ``(T, len(axes))`` in degrees -> ``(T, 3, 3)``, ``R = R_a0 @ R_a1 @ ...``."""
    return Rotation.from_euler(axes.upper(), angles_deg, degrees=True).as_matrix()


def read_bvh(path: str | os.PathLike, *, scale: float | None = None) -> Motion:
    """Read a BVH file (plain or ``.gz``) strictly.

    Args:
        path: the file.
        scale: metres per file unit. ``None``: detect the skeleton from its joint
            names (:data:`~pose2mesh.data.motion.KNOWN_SKELETONS`) and use its unit;
            an unknown skeleton then raises ``ValueError`` listing the known ones.
            Given (a finite number > 0): used as is; ``skeleton`` is the detected
            id or ``'unknown'``.

    Returns:
        :class:`Motion` with ``rotations (T, J, 3, 3)``, ``root_positions (T, 3)``
        and ``offsets (J, 3)`` in metres, ``fps = 1 / Frame Time``; all ``T`` rows kept
        (call :meth:`Motion.drop_first_frame` for the cgspeed T-pose).

    Raises:
        BVHError: malformed file; the message names the file and the 1-based line
            (a truncated or corrupt ``.gz``: the file only).
        ValueError: unknown skeleton and no ``scale`` (the message names the file);
            ``scale`` not a finite number > 0.
    """
    scale = check_scale(scale)
    path = Path(path)
    name = path.name
    lines = read_text(path).splitlines()

    motion_idx = next((i for i, line in enumerate(lines) if line.strip() == "MOTION"), None)
    if motion_idx is None:
        raise BVHError(f"{name}:{len(lines)}: no 'MOTION' line")
    tk = _Tokens(lines[:motion_idx], name)
    tk.last_line = motion_idx + 1
    tk.expect("HIERARCHY")
    tok, line = tk.next("ROOT")
    if tok != "ROOT":
        raise tk.error(line, f"expected 'ROOT', got '{tok}'")
    root_name, _ = tk.next("root name")
    hier: dict = {"names": [], "parents": [], "offsets": [], "channels": [], "channel_line": []}
    _parse_joint(tk, root_name, -1, hier)
    if tk.pos < len(tk.toks):
        tok, line = tk.toks[tk.pos]
        what = "unbalanced '}'" if tok == "}" else f"unexpected '{tok}' after the root joint"
        raise tk.error(line, what + " (one ROOT per file)")
    names = hier["names"]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise BVHError(f"{name}:1: joint name '{dup}' used twice")

    # ---- MOTION header -------------------------------------------------------------------
    def header(i: int, key: str) -> str:
        if i >= len(lines) or not lines[i].strip().startswith(key):
            got = lines[i].strip() if i < len(lines) else "end of file"
            raise BVHError(f"{name}:{i + 1}: expected '{key}', got '{got}'")
        return lines[i].strip()[len(key):].strip()

    frames_line = motion_idx + 2
    n_txt = header(motion_idx + 1, "Frames:")
    if not n_txt.isdigit():
        raise BVHError(f"{name}:{frames_line}: 'Frames:' needs a non-negative integer, got '{n_txt}'")
    n_frames = int(n_txt)
    dt_txt = header(motion_idx + 2, "Frame Time:")
    try:
        dt = float(dt_txt)
    except ValueError:
        dt = float("nan")
    if not (np.isfinite(dt) and dt > 0):
        raise BVHError(f"{name}:{motion_idx + 3}: 'Frame Time:' must be a positive number, got '{dt_txt}'")

    first = motion_idx + 3  # 0-based index of the first motion row
    rows = lines[first:]
    while rows and not rows[-1].strip():
        rows.pop()
    blank = next((i for i, r in enumerate(rows) if not r.strip()), None)
    if blank is not None:
        raise BVHError(f"{name}:{first + blank + 1}: empty line inside the motion data")
    if len(rows) != n_frames:
        raise BVHError(f"{name}:{frames_line}: 'Frames: {n_frames}' but the file has "
                       f"{len(rows)} motion rows")
    n_ch = sum(len(c) for c in hier["channels"])
    if n_frames == 0:
        raise BVHError(f"{name}:{frames_line}: no motion frames")

    try:
        data = np.loadtxt(rows, dtype=np.float64, comments=None, ndmin=2)
        bad_shape = data.shape != (n_frames, n_ch)
    except ValueError:
        data, bad_shape = None, True
    if bad_shape:
        # Slow path, only on error: find the first offending row for the message.
        for i, r in enumerate(rows):
            toks = r.split()
            if len(toks) != n_ch:
                raise BVHError(f"{name}:{first + i + 1}: motion row has {len(toks)} values, "
                               f"CHANNELS declare {n_ch}")
            for t in toks:
                try:
                    float(t)
                except ValueError:
                    raise BVHError(f"{name}:{first + i + 1}: '{t}' is not a number") from None
        raise BVHError(f"{name}:{first + 1}: cannot parse the motion data")  # pragma: no cover
    finite = np.isfinite(data)
    if not finite.all():
        r, c = np.argwhere(~finite)[0]
        raise BVHError(f"{name}:{first + r + 1}: value {data[r, c]} (channel {c + 1}) is not finite")

    # ---- channels -> rotations, root translation -----------------------------------------
    J = len(names)
    offsets = np.stack(hier["offsets"])
    rotations = np.empty((n_frames, J, 3, 3))
    root_pos = np.repeat(offsets[:1], n_frames, axis=0)
    col = 0
    for j, chans in enumerate(hier["channels"]):
        axes = "".join(c[0] for c in chans if c.endswith("rotation"))
        rcols = [col + k for k, c in enumerate(chans) if c.endswith("rotation")]
        if axes:
            rotations[:, j] = _euler_to_matrix(axes, data[:, rcols])
        else:
            rotations[:, j] = np.eye(3)
        pcols = [(col + k, "XYZ".index(c[0])) for k, c in enumerate(chans) if c.endswith("position")]
        if pcols and j == 0:
            for k, a in pcols:
                root_pos[:, a] = data[:, k]
        elif pcols:
            logger.warning("%s: position channels of joint '%s' are ignored (fixed offsets)",
                           name, names[j])
        col += len(chans)

    skeleton = "unknown"
    try:
        spec = resolve_skeleton(names, hier["parents"], offsets)
        skeleton = spec.name
    except ValueError as err:
        if scale is None:
            raise ValueError(f"{name}: {err}") from None
        spec = None
    m_per_unit = scale if scale is not None else spec.metres_per_unit
    return Motion(tuple(names), tuple(hier["parents"]), offsets * m_per_unit, rotations,
                  root_pos * m_per_unit, 1.0 / dt, str(path), skeleton)
