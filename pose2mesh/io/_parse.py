"""Helpers shared by the readers: inputs, JSON, number arrays, layouts, the result.

Every reader funnels its people into :func:`build`, which resolves the layout,
applies the absent-point rules and makes the :class:`KeypointFile`; every
conversion of untrusted values to numbers goes through :func:`float_array`, so
that a bad file raises :class:`KeypointFileError` naming the file instead of an
error from inside numpy.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pose2mesh.io.keypoint_file import KeypointFile, KeypointFileError
from pose2mesh.joints import get_layout, list_layouts

log = logging.getLogger("pose2mesh.io")

WHOLEBODY133 = 133
"""Keypoints of a COCO-WholeBody person: body 17, feet 6, face 68, hands 2 x 21."""

DETECTOR_LAYOUTS: dict[int, str] = {
    16: "mpii",
    17: "coco",
    18: "openpose18",
    23: "wholebody23",
    25: "openpose25",
    33: "blazepose33",
    WHOLEBODY133: "wholebody23",
}
"""Keypoints per person -> the layout a detector's output of that size is read as.
17 is COCO (``h36m`` also has 17: pass ``layout="h36m"``); 133 is COCO-WholeBody,
read as its first 23 points.  Any other count is inferred only when exactly one
built-in layout has it (``smpl24``, ``superset``)."""

_PREFIX_OF_WHOLEBODY133 = ("coco", "wholebody23")
"""Layouts whose keypoints are the first keypoints of COCO-WholeBody's 133."""


@dataclass(frozen=True)
class Input:
    """A source resolved once: its name for messages, its path, its content."""

    name: str
    path: Path | None
    data: Any


def is_path(source: Any) -> bool:
    """True for a ``str`` or ``os.PathLike`` (a file or folder to read)."""
    return isinstance(source, (str, os.PathLike))


def describe(source: Any) -> str:
    """The name of ``source`` in messages: its path, or ``<TypeName>``."""
    if isinstance(source, Input):
        return source.name
    return os.fspath(source) if is_path(source) else f"<{type(source).__name__}>"


def existing(source: str | os.PathLike, folder: bool = False) -> Path:
    """``source`` as a Path that exists; a file unless ``folder``.

    Raises:
        FileNotFoundError: naming the missing path.
        KeypointFileError: a folder where a file is expected.
    """
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"keypoint file not found: '{path}'")
    if path.is_dir() and not folder:
        raise KeypointFileError(f"{path}: is a folder, expected a file")
    return path


def read_text(path: Path) -> str:
    """The text of ``path`` (UTF-8); raises :class:`KeypointFileError` if empty or not text."""
    raw = path.read_bytes()
    if not raw.strip():
        raise KeypointFileError(f"{path}: the file is empty")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise KeypointFileError(f"{path}: not a UTF-8 text file ({err.reason} at byte {err.start})") from None


def parse_json(text: str, name: str) -> Any:
    """Parse JSON; malformed JSON raises :class:`KeypointFileError` with line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise KeypointFileError(
            f"{name}: malformed JSON at line {err.lineno} column {err.colno}: {err.msg}"
        ) from None


def json_input(source: Any) -> Input:
    """Resolve a JSON source: a path is read and parsed, an object is taken as parsed JSON."""
    if isinstance(source, Input):
        return source
    if is_path(source):
        path = existing(source)
        return Input(str(path), path, parse_json(read_text(path), str(path)))
    return Input(describe(source), None, source)


def to_numpy(value: Any) -> Any:
    """A torch tensor (or anything with ``.detach().cpu().numpy()``) as numpy; else unchanged.

    Duck-typed, so torch is never imported here.
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def float_array(values: Any, name: str, what: str) -> np.ndarray:
    """``values`` as a float64 array; JSON ``null`` becomes NaN.

    Raises:
        KeypointFileError: ``"{name}: {what}: ..."`` when the values are not
            numbers or do not form a rectangular array.
    """
    try:
        return np.asarray(to_numpy(values), dtype=np.float64)
    except (TypeError, ValueError) as err:
        reason = "not a rectangular array of numbers" if "inhomogeneous" in str(err) else "not numbers"
        raise KeypointFileError(f"{name}: {what}: {reason}") from None


def flat_points(values: Any, per_point: int, name: str, what: str, fields: str) -> np.ndarray:
    """A flat list ``[a0, b0, (c0,) a1, ...]`` as a ``(J, per_point)`` array.

    ``fields`` names the values of one keypoint for the message, e.g. ``"x, y, v"``.

    Raises:
        KeypointFileError: not a flat list of numbers, or a length that is not a
            multiple of ``per_point``.
    """
    arr = float_array(values, name, what)
    if arr.ndim != 1:
        raise KeypointFileError(f"{name}: {what}: expected a flat list of numbers ({fields} per keypoint)")
    if arr.size % per_point:
        raise KeypointFileError(
            f"{name}: {what}: {arr.size} values is not a multiple of {per_point} "
            f"({fields} per keypoint)"
        )
    return arr.reshape(-1, per_point)


def stack_people(people: Sequence[np.ndarray], labels: Sequence[Any], name: str) -> np.ndarray:
    """Stack per-person ``(J, D)`` arrays into ``(N, J, D)``; ``labels`` name them in messages.

    Raises:
        KeypointFileError: people with different numbers of keypoints.
    """
    if not people:
        raise KeypointFileError(f"{name}: contains no people / keypoints")
    first = people[0].shape
    for person, label in zip(people, labels):
        if person.shape != first:
            raise KeypointFileError(
                f"{name}: {label} has {person.shape[0]} keypoints, {labels[0]} has {first[0]}; "
                "every person must have the same number"
            )
    return np.stack(people)


def layout_choices() -> str:
    """The built-in layouts with their sizes, for messages: ``"coco (17), ..."``."""
    return ", ".join(f"{n} ({get_layout(n).num_joints})" for n in list_layouts())


def inferred_layout(num_joints: int) -> str | None:
    """The layout ``num_joints`` keypoints per person are read as, or None if not unique."""
    if num_joints in DETECTOR_LAYOUTS:
        return DETECTOR_LAYOUTS[num_joints]
    matches = [n for n in list_layouts() if get_layout(n).num_joints == num_joints]
    return matches[0] if len(matches) == 1 else None


def fits_layout(num_joints: int, layout: str) -> bool:
    """Whether ``num_joints`` keypoints per person can be read as ``layout``."""
    return num_joints == get_layout(layout).num_joints or (
        num_joints == WHOLEBODY133 and layout in _PREFIX_OF_WHOLEBODY133
    )


def checked_layout(layout: str | None, name: str) -> str | None:
    """The canonical name of a caller's ``layout`` (None stays None).

    Raises:
        KeypointFileError: an unknown layout; the message lists the valid ones.
    """
    if layout is None:
        return None
    try:
        return get_layout(layout).name
    except ValueError as err:
        raise KeypointFileError(f"{name}: {err}") from None


def resolve_layout(num_joints: int, layout: str | None, name: str, hint: str | None = None) -> str:
    """The layout to read ``num_joints`` keypoints per person as.

    Args:
        num_joints: keypoints per person in the file.
        layout: the caller's layout, or None to infer it.
        name: the source, for messages.
        hint: the layout the file itself names (e.g. MMPose's ``dataset_name``),
            used when the caller gives none and it fits ``num_joints``.

    Raises:
        KeypointFileError: an unknown layout, a layout of another size, or a
            size no layout can be inferred from; the message lists the layouts.
    """
    layout = checked_layout(layout, name)
    if layout is not None:
        if not fits_layout(num_joints, layout):
            raise KeypointFileError(
                f"{name}: {num_joints} keypoints per person, but layout '{layout}' has "
                f"{get_layout(layout).num_joints}"
            )
        return layout
    if hint is not None and fits_layout(num_joints, hint):
        return hint
    inferred = inferred_layout(num_joints)
    if inferred is None:
        raise KeypointFileError(
            f"{name}: cannot tell the keypoint layout from {num_joints} keypoints per person; "
            f"pass layout= one of: {layout_choices()}"
        )
    return inferred


def checked_image_size(image_size: Any, name: str) -> tuple[int, int] | None:
    """``(W, H)`` as two positive ints, or None.

    Raises:
        KeypointFileError: anything else.
    """
    if image_size is None:
        return None
    try:
        w, h = (float(s) for s in to_numpy(image_size))
    except (TypeError, ValueError):
        raise KeypointFileError(f"{name}: image_size must be (W, H) in pixels, got {image_size!r}") from None
    if not (w > 0 and h > 0 and w == int(w) and h == int(h)):
        raise KeypointFileError(f"{name}: image_size must be (W, H) positive integers, got {image_size!r}")
    return int(w), int(h)


def merged_image_size(given: Any, from_file: Any, name: str) -> tuple[int, int] | None:
    """The image size: the caller's and the file's must agree when both are known.

    Raises:
        KeypointFileError: two different sizes, or an invalid one.
    """
    given, from_file = checked_image_size(given, name), checked_image_size(from_file, name)
    if given is not None and from_file is not None and given != from_file:
        raise KeypointFileError(f"{name}: image_size={given} was given but the file says {from_file}")
    return given if given is not None else from_file


def common_value(values: Sequence[Any]) -> Any:
    """The one value all of ``values`` share, else None (also when empty, or when it contains None)."""
    try:
        distinct = set(values)
    except TypeError:  # unhashable values (a malformed file): no common value
        return None
    value = distinct.pop() if len(distinct) == 1 else None
    return None if value is None or (isinstance(value, tuple) and None in value) else value


def build(
    xy: np.ndarray,
    confidence: np.ndarray | None,
    *,
    name: str,
    format: str,
    image_ids: list,
    layout: str | None,
    hint: str | None = None,
    image_size: Any = None,
    file_image_size: Any = None,
    scores: Any = None,
) -> KeypointFile:
    """Make the :class:`KeypointFile` of ``N`` people.

    Args:
        xy: ``(N, J, 2)`` pixel coordinates (any float dtype).
        confidence: ``(N, J)`` confidences, or None for 1 wherever the
            coordinates are finite.
        name: the source, for messages and ``KeypointFile.source``.
        format: the format name stored in the result.
        image_ids: ``N`` image ids.
        layout: the caller's layout or None (see :func:`resolve_layout`).
        hint: the layout the file names, if any.
        image_size: the caller's ``(W, H)``.
        file_image_size: the ``(W, H)`` the file gives, if any.
        scores: ``(N,)`` per-person scores or None.

    A keypoint with a non-finite coordinate gets NaN coordinates and
    confidence 0; a NaN confidence becomes 0.  ``J = 133`` (COCO-WholeBody)
    keeps the first ``J`` of the resolved layout.
    """
    if xy.shape[0] == 0:
        raise KeypointFileError(f"{name}: contains no people / keypoints")
    layout = resolve_layout(xy.shape[1], layout, name, hint)
    num_joints = get_layout(layout).num_joints
    xy = np.array(xy[:, :num_joints], dtype=np.float64)
    finite = np.isfinite(xy).all(axis=-1)
    xy[~finite] = np.nan
    if confidence is None:
        confidence = finite.astype(np.float64)
    confidence = np.where(finite, np.nan_to_num(confidence[:, :num_joints], nan=0.0), 0.0)
    _warn_if_normalised(xy, format, name)
    keypoints = np.concatenate([xy, confidence[..., None]], axis=-1).astype(np.float32)
    if scores is not None:
        scores = float_array(scores, name, "scores").astype(np.float32).reshape(-1)
        if scores.shape != (xy.shape[0],):
            raise KeypointFileError(f"{name}: {scores.size} per-person scores for {xy.shape[0]} people")
    image_ids = list(image_ids)
    if len(image_ids) != xy.shape[0]:
        raise KeypointFileError(f"{name}: {len(image_ids)} image ids for {xy.shape[0]} people (one per person)")
    return KeypointFile(
        keypoints=keypoints,
        layout=layout,
        image_ids=image_ids,
        image_size=merged_image_size(image_size, file_image_size, name),
        scores=scores,
        source=name,
        format=format,
    )


def _warn_if_normalised(xy: np.ndarray, format: str, name: str) -> None:
    """Log a warning when every coordinate lies in [-1.5, 1.5]: likely normalised, not pixels."""
    finite = xy[np.isfinite(xy)]
    if finite.size and np.abs(finite).max() <= 1.5 and np.abs(finite).max() > 0:
        log.warning(
            "%s: every coordinate lies in [-1.5, 1.5]; %s keypoints are read as pixels, "
            "these look normalised", name, format,
        )


def split_points(
    values: Any, name: str, what: str, keypoint_scores: Any = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Keypoints ``(N, J, 2|3)`` or ``(J, 2|3)`` (+ optional ``(N, J)`` scores) as ``xy, confidence``.

    Args:
        values: array-like (numpy, torch, nested lists) of ``(x, y)`` or
            ``(x, y, confidence)`` per keypoint; ``(J, D)`` is one person.
        name: the source, for messages.
        what: what ``values`` is, for messages.
        keypoint_scores: ``(N, J)`` (or ``(J,)`` for one person) confidences
            of ``(x, y)`` keypoints, or None.

    Returns:
        ``xy`` ``(N, J, 2)`` float64 and ``confidence`` ``(N, J)`` float64 or
        None (no confidence given).

    Raises:
        KeypointFileError: not numbers, a wrong shape, a wrong number of values
            per keypoint, scores that do not match, or scores given twice.
    """
    arr = float_array(values, name, what)
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    if arr.ndim != 3:
        raise KeypointFileError(f"{name}: {what}: expected shape (N, J, 2|3) or (J, 2|3), got {arr.shape}")
    if arr.shape[-1] not in (2, 3):
        raise KeypointFileError(
            f"{name}: {what}: {arr.shape[-1]} values per keypoint (shape {arr.shape}); "
            "expected 2 (x, y) or 3 (x, y, confidence)"
            + ("; MediaPipe landmarks (x, y, z, visibility[, presence]): pass format='mediapipe' "
               "(command line: --format mediapipe) and the image size" if arr.shape[-1] in (4, 5) else "")
        )
    confidence = arr[..., 2] if arr.shape[-1] == 3 else None
    if keypoint_scores is not None:
        if confidence is not None:
            raise KeypointFileError(f"{name}: {what} have a confidence column and separate keypoint scores too")
        confidence = float_array(keypoint_scores, name, "keypoint scores")
        if single and confidence.ndim == 1:
            confidence = confidence[None]
        if confidence.shape != arr.shape[:2]:
            raise KeypointFileError(
                f"{name}: keypoint scores of shape {confidence.shape} do not match {what} of shape {arr.shape}"
            )
    return arr[..., :2], confidence
