"""Plain arrays: ``.npy``, ``.npz``, in-memory arrays and ``.csv``.

* ``.npy`` / an array (numpy, torch, nested lists): ``(N, J, 2|3)`` or
  ``(J, 2|3)``, ``(x, y[, confidence])`` in pixels; without a confidence
  column every finite point has confidence 1.
* ``.npz`` / a dict of arrays: ``keypoints`` (or the only array) as above, and
  optionally ``keypoint_scores`` ``(N, J)`` (or ``scores`` of that shape) for
  ``(x, y)`` keypoints, ``scores`` or ``bbox_scores`` ``(N,)`` per person,
  ``image_ids`` ``(N,)``, ``image_size`` ``(W, H)`` and ``layout`` (a string).
* ``.json`` (format ``json``): the same as plain JSON, either nested lists
  ``(N, J, 2|3)`` / ``(J, 2|3)`` or an object with the ``.npz`` keys (other
  keys, e.g. a ``note``, are ignored).
* ``.csv``: one row per person / frame of ``x, y[, c]`` values per keypoint;
  an empty cell is a missing value (absent keypoint).  A first row with
  non-numeric cells (after the first) is a header; a first column named ``image_id``,
  ``frame``, ``file``, ... (or holding non-numbers) gives the image ids.  With
  a header whose names end in ``x``, ``y`` (e.g. ``nose_x, nose_y, nose_c``)
  the values per keypoint are read from it; otherwise they follow from the
  layout, or from the number of values when only one split matches a known
  layout (51 = 17 x 3 -> ``coco``; 48 could be 16 x 3 ``mpii`` or 24 x 2
  ``smpl24``: pass ``layout=``).  Comma, semicolon, tab or whitespace separated;
  lines starting with ``#`` are skipped.

The layout, when not given, is inferred from ``J``: 16 ``mpii``, 17 ``coco``,
18 ``openpose18``, 23 ``wholebody23``, 25 ``openpose25``, 33 ``blazepose33``,
133 (COCO-WholeBody) ``wholebody23``, 24 ``smpl24``, 52 ``superset``.
``image_ids`` is the row index unless the file gives ids.

Pixel coordinates are read unchanged and taken in this package's convention
(:mod:`pose2mesh.io`): ``x`` (``u``) to the right, ``y`` (``v``) down, pixel
``(0, 0)`` the *centre* of the top-left pixel.
"""
from __future__ import annotations

import csv
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pose2mesh.io._parse import (
    Input,
    build,
    checked_layout,
    describe,
    existing,
    fits_layout,
    inferred_layout,
    is_path,
    json_input,
    layout_choices,
    read_text,
    split_points,
)
from pose2mesh.io.keypoint_file import KeypointFile, KeypointFileError
from pose2mesh.joints import get_layout

__all__ = ["read_npy", "read_csv", "load_array_file"]

_ID_COLUMNS = frozenset({
    "image_id", "image", "img_id", "frame", "frame_id", "frame_index", "file", "file_name",
    "filename", "id", "name", "index",
})


def read_npy(
    source: Any, *, layout: str | None = None, image_size: tuple[int, int] | None = None
) -> KeypointFile:
    """Read keypoints from a ``.npy`` / ``.npz`` / plain ``.json`` file, an array or a dict of arrays.

    Args:
        source: path of a ``.npy``, ``.npz`` or ``.json`` file; an array-like
            ``(N, J, 2|3)`` or ``(J, 2|3)`` (numpy, torch tensor, nested
            lists); or a dict of arrays laid out like a ``.npz`` (see the
            module docstring).
        layout: keypoint layout; None infers it from ``J`` (or takes the
            ``.npz``'s ``layout``).
        image_size: ``(W, H)`` in pixels, recorded in the result.

    Returns:
        :class:`KeypointFile` with ``keypoints`` ``(N, J, 3)`` (pixels,
        confidence), ``image_ids`` the row indices unless given, ``format``
        ``"json"`` for JSON, ``"npz"`` for a ``.npz`` / dict, else ``"npy"``.

    Raises:
        FileNotFoundError: the file does not exist.
        KeypointFileError: an unreadable file, a pickled (object) array,
            malformed JSON, a wrong shape or number of values per keypoint, a ``.npz`` without a
            ``keypoints`` array, an unknown, mismatching or uninferable layout.
    """
    fmt = "npz"
    if isinstance(source, Input) or (is_path(source) and Path(source).suffix.lower() == ".json"):
        inp = json_input(source)
        name, data, fmt = inp.name, inp.data, "json"
    elif is_path(source):
        path = existing(source)
        name, data = str(path), load_array_file(path)
    else:
        name, data = describe(source), source
    if not isinstance(data, Mapping):
        xy, confidence = split_points(data, name, "keypoints")
        return build(xy, confidence, name=name, format="npy" if fmt == "npz" else fmt,
                     image_ids=list(range(len(xy))), layout=layout, image_size=image_size)

    arrays = dict(data)
    if "keypoints" in arrays:
        values = arrays["keypoints"]
    elif len(arrays) == 1:
        values = next(iter(arrays.values()))
    else:
        raise KeypointFileError(f"{name}: no 'keypoints' array among: {', '.join(sorted(arrays)) or 'none'}")
    keypoint_scores, scores = arrays.get("keypoint_scores"), arrays.get("bbox_scores")
    if "scores" in arrays:  # rtmlib's per-keypoint scores, or per-person scores
        shape = np.shape(values)[:-1]
        if np.shape(arrays["scores"]) == shape and keypoint_scores is None:
            keypoint_scores = arrays["scores"]
        else:
            scores = arrays["scores"]
    xy, confidence = split_points(values, name, "keypoints", keypoint_scores)
    ids = arrays.get("image_ids")
    if layout is None and "layout" in arrays:
        layout = str(np.asarray(arrays["layout"]))
    return build(
        xy, confidence, name=name, format=fmt, layout=layout,
        image_ids=list(range(len(xy))) if ids is None else np.asarray(ids).reshape(-1).tolist(),
        image_size=image_size, file_image_size=arrays.get("image_size"), scores=scores,
    )


def load_array_file(path: Path) -> np.ndarray | dict[str, np.ndarray]:
    """Load a ``.npy`` (an array) or ``.npz`` (a dict of arrays) without unpickling.

    Raises:
        KeypointFileError: an empty or unreadable file, or one holding pickled objects.
    """
    if path.stat().st_size == 0:
        raise KeypointFileError(f"{path}: the file is empty")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                return {key: loaded[key] for key in loaded.files}
        return loaded
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise KeypointFileError(f"{path}: holds pickled Python objects, not a numeric array") from None
        raise KeypointFileError(f"{path}: cannot read as .npy/.npz: {err}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise KeypointFileError(f"{path}: cannot read as .npy/.npz: {err}") from None


def read_csv(
    source: Any, *, layout: str | None = None, image_size: tuple[int, int] | None = None
) -> KeypointFile:
    """Read a CSV file of one person / frame per row, ``x, y[, c]`` per keypoint.

    Args:
        source: path of the ``.csv`` file (see the module docstring for headers,
            id columns and separators).
        layout: keypoint layout; None infers it (and the values per keypoint)
            from the number of values per row when that is unambiguous.
        image_size: ``(W, H)`` in pixels, recorded in the result.

    Returns:
        :class:`KeypointFile` with ``keypoints`` ``(N, J, 3)`` (pixels,
        confidence), ``image_ids`` the id column or the data row indices.

    Raises:
        FileNotFoundError: the file does not exist.
        KeypointFileError: an empty file, a header without rows, a cell that is
            not a number, rows of different lengths, a number of values per row
            that fits no layout, or fits several (ambiguous).
    """
    if not is_path(source):
        raise KeypointFileError(f"{source!r}: read_csv takes the path of a .csv file")
    path = existing(source)
    name = str(path)
    lines = [(i + 1, line) for i, line in enumerate(read_text(path).splitlines())
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise KeypointFileError(f"{name}: the file is empty")
    delimiter = next((d for d in ",;\t" if d in lines[0][1]), None)
    rows = [
        (n, [c.strip() for c in (next(csv.reader([line], delimiter=delimiter)) if delimiter else line.split())])
        for n, line in lines
    ]
    header = None
    if not all(_is_number(c) for c in rows[0][1][1:]):  # a non-number in column 1 may be an image id
        header, rows = rows[0][1], rows[1:]
        if not rows:
            raise KeypointFileError(f"{name}: has a header but no data rows")
    has_ids = (header is not None and header[0].lower() in _ID_COLUMNS) or not all(
        _is_number(cells[0]) for _, cells in rows
    )
    width = len(rows[0][1])
    for n, cells in rows:
        if len(cells) != width:
            raise KeypointFileError(f"{name}: line {n} has {len(cells)} columns, line {rows[0][0]} has {width}")
    start = 1 if has_ids else 0
    values = np.empty((len(rows), width - start))
    for r, (n, cells) in enumerate(rows):
        for c, cell in enumerate(cells[start:]):
            if not _is_number(cell):
                raise KeypointFileError(f"{name}: line {n} column {c + start + 1}: '{cell}' is not a number")
            values[r, c] = float(cell) if cell else np.nan
    num_joints, per_point, layout = _split_row(values.shape[1], header[start:] if header else None, layout, name)
    xy, confidence = split_points(values.reshape(len(rows), num_joints, per_point), name, "keypoints")
    ids = [_id(cells[0]) for _, cells in rows] if has_ids else list(range(len(rows)))
    return build(xy, confidence, name=name, format="csv", image_ids=ids, layout=layout, image_size=image_size)


def _is_number(cell: str) -> bool:
    """True for a cell that parses as a float, or an empty cell (a missing value)."""
    try:
        float(cell or 0)
        return True
    except ValueError:
        return False


def _id(cell: str) -> int | str:
    """An image id cell: an int if it is one, else the text."""
    return int(cell) if cell.isdigit() else cell


def _split_row(num_values: int, names: list[str] | None, layout: str | None, name: str) -> tuple[int, int, str]:
    """``(J, values per keypoint, layout)`` of a CSV row of ``num_values`` values.

    The values per keypoint come from header ``names`` when they read
    ``*x, *y, *x, ...`` (2) or ``*x, *y, *c, ...`` (3); else every split into
    2 or 3 values per keypoint that fits ``layout`` (or, without one, a layout
    inferable from ``J``) is a candidate, and exactly one must remain.
    """
    layout = checked_layout(layout, name)
    per_point_options = (3, 2)
    if names and len(names) >= 3 and names[0].lower().endswith("x") and names[1].lower().endswith("y"):
        per_point_options = (2,) if names[2].lower().endswith("x") else (3,)
    candidates = []
    for per_point in per_point_options:
        num_joints = num_values // per_point
        if num_values % per_point == 0:
            fits = fits_layout(num_joints, layout) if layout else inferred_layout(num_joints) is not None
            if fits:
                candidates.append((num_joints, per_point, layout or inferred_layout(num_joints)))
    if len(candidates) == 1:
        return candidates[0]
    per_point_text = " or ".join(str(d) for d in per_point_options)
    if len(candidates) > 1:
        options = " or ".join(f"{j} keypoints x {d} values ({lay})" for j, d, lay in candidates)
        raise KeypointFileError(
            f"{name}: ambiguous: {num_values} values per row could be {options}; "
            "pass layout= (or a header such as nose_x, nose_y, nose_c) to choose"
        )
    if layout:
        raise KeypointFileError(
            f"{name}: {num_values} values per row do not make {per_point_text} values per keypoint "
            f"(x, y[, confidence]) for layout '{layout}' ({get_layout(layout).num_joints} keypoints)"
        )
    raise KeypointFileError(
        f"{name}: cannot tell the keypoint layout from {num_values} values per row "
        f"({per_point_text} values per keypoint); pass layout= one of: {layout_choices()}"
    )
