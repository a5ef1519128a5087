"""MediaPipe pose landmarks (BlazePose, 33 points -> layout ``blazepose33``).

MediaPipe gives *normalised* image coordinates: ``x`` in [0, 1] across the
image width and ``y`` in [0, 1] down its height, the image spanning the
continuous range [0, 1] (pixel ``i`` covers ``[i / W, (i + 1) / W)``, as in
MediaPipe's own drawing utilities).  This package's pixel convention puts the
pixel *centres* on integers, so

    u = x * W - 0.5,    v = y * H - 0.5

(``x = 0.5`` is the image centre ``u = (W - 1) / 2``), which is why the
image size must be given.  ``visibility`` is the confidence (1 when a
landmark has none); ``z`` and ``presence`` are ignored.

Accepted: a JSON list of landmark dicts ``{"x", "y", "z", "visibility"}`` (one
pose), or a list of such lists (one per person / frame), each optionally
wrapped as ``{"landmarks": [...], "image_id"|"frame": id}``; an object with
``pose_landmarks`` (the Tasks API's ``PoseLandmarkerResult`` or the legacy
solution's result, duck-typed) or a list of them (frames); an array
``(N, 33, D)`` / ``(33, D)`` of normalised values, from a ``.npy`` or in
memory, with ``D`` = 2 (x, y), 3 (x, y, z), 4 (x, y, z, visibility) or
5 (x, y, z, visibility, presence).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pose2mesh.io._parse import (
    build,
    checked_image_size,
    describe,
    existing,
    float_array,
    is_path,
    json_input,
    stack_people,
    to_numpy,
)
from pose2mesh.io.arrays import load_array_file
from pose2mesh.io.keypoint_file import KeypointFile, KeypointFileError

__all__ = ["read_mediapipe"]

_WRAPPER_KEYS = ("pose_landmarks", "landmarks")
_ID_KEYS = ("image_id", "frame", "frame_id", "frame_index")


def read_mediapipe(
    source: Any, *, layout: str | None = None, image_size: tuple[int, int] | None = None
) -> KeypointFile:
    """Read MediaPipe pose landmarks and convert them to pixels.

    Args:
        source: path of a ``.json`` or ``.npy`` file, parsed JSON, a landmark
            array ``(N, 33, D)`` / ``(33, D)``, or MediaPipe result objects
            (see the module docstring).
        layout: None for ``blazepose33`` (or a layout of the same size).
        image_size: ``(W, H)`` in pixels of the image the landmarks were
            detected in; required, MediaPipe's coordinates are normalised.

    Returns:
        :class:`KeypointFile` with ``keypoints`` ``(N, 33, 3)``: ``(u, v)`` in
        pixels (``u = x * W - 0.5``, ``v = y * H - 0.5``) and the
        ``visibility``; ``image_ids`` the given ids or the index of each pose
        in the list (the row index for arrays); ``image_size`` ``(W, H)``.

    Raises:
        FileNotFoundError: the file does not exist.
        KeypointFileError: no ``image_size``, empty or malformed JSON, a
            landmark without ``x`` / ``y``, a wrong number of values per
            landmark, poses of different sizes, no poses.
    """
    name = describe(source)
    size = checked_image_size(image_size, name)
    if size is None:
        raise KeypointFileError(
            f"{name}: MediaPipe landmarks are normalised to [0, 1]; pass image_size=(W, H) in pixels "
            "(command line: --image IMG or --image-size W H)"
        )
    if is_path(source) and Path(source).suffix.lower() in (".npy", ".npz"):
        data = load_array_file(existing(source))
    elif _is_result(source) or (isinstance(source, list) and source and all(_is_result(r) for r in source)):
        data = source
    else:
        data = json_input(source).data
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), np.ndarray):
        data = next(iter(data.values()))  # a .npz holding one array
    data = to_numpy(data)
    if isinstance(data, np.ndarray):
        points = _array_points(data, name)
        image_ids = list(range(len(points)))
    else:
        poses = _poses(data, name)
        if not poses:
            raise KeypointFileError(f"{name}: contains no people / keypoints")
        labels = [f"pose {i}" for i in range(len(poses))]
        people = [_landmarks(lms, name, label) for (_, lms), label in zip(poses, labels)]
        points = stack_people(people, labels, name)
        image_ids = [pid for pid, _ in poses]
    w, h = size
    xy = points[..., :2] * np.array([w, h]) - 0.5
    return build(xy, points[..., 2], name=name, format="mediapipe", image_ids=image_ids,
                 layout=layout, hint="blazepose33", image_size=size)


def _is_result(value: Any) -> bool:
    """True for a MediaPipe result object (has ``pose_landmarks``) rather than parsed JSON."""
    return not isinstance(value, (dict, list)) and hasattr(value, "pose_landmarks")


def _array_points(values: np.ndarray, name: str) -> np.ndarray:
    """``(N, J, 3)`` normalised ``(x, y, visibility)`` of an ``(N, J, D)`` / ``(J, D)`` landmark array."""
    arr = float_array(values, name, "landmarks")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or not 2 <= arr.shape[-1] <= 5:
        raise KeypointFileError(
            f"{name}: landmarks of shape {arr.shape}; expected (N, 33, D) or (33, D) with D = 2 (x, y), "
            "3 (x, y, z), 4 (x, y, z, visibility) or 5 (+ presence)"
        )
    visibility = arr[..., 3] if arr.shape[-1] >= 4 else np.ones(arr.shape[:2])
    return np.concatenate([arr[..., :2], visibility[..., None]], axis=-1)


def _is_landmark(value: Any) -> bool:
    """True for one landmark: a dict with ``x`` or an object with an ``x`` attribute."""
    return ("x" in value) if isinstance(value, dict) else (not isinstance(value, list) and hasattr(value, "x"))


def _poses(data: Any, name: str) -> list[tuple[Any, Any]]:
    """``[(image id, landmarks of one pose), ...]`` from parsed JSON or result objects."""
    if _is_result(data) or isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise KeypointFileError(f"{name}: expected a list of landmarks or poses, got {type(data).__name__}")
    if data and _is_landmark(data[0]):
        return [(0, data)]
    poses = []
    for i, entry in enumerate(data):
        if entry is None or (isinstance(entry, list) and not entry):  # no one detected in this frame
            continue
        if isinstance(entry, list):
            poses.append((i, entry))
            continue
        if isinstance(entry, dict):
            key = next((k for k in _WRAPPER_KEYS if k in entry), None)
            if key is None:
                raise KeypointFileError(f"{name}: entry {i} has no 'landmarks' or 'pose_landmarks'")
            pid, landmarks = next((entry[k] for k in _ID_KEYS if k in entry), i), entry[key]
        elif _is_result(entry):
            pid, landmarks = i, entry.pose_landmarks
        else:
            raise KeypointFileError(f"{name}: entry {i} is not a pose (a list of landmarks)")
        if landmarks is None or (isinstance(landmarks, list) and not landmarks):  # no one detected in this frame
            continue
        several = isinstance(landmarks, list) and landmarks and not _is_landmark(landmarks[0])
        for pose in landmarks if several else [landmarks]:  # the Tasks API: one list per person
            poses.append((pid, getattr(pose, "landmark", pose)))  # legacy NormalizedLandmarkList
    return poses


def _landmarks(landmarks: Any, name: str, label: str) -> np.ndarray:
    """``(J, 3)`` normalised ``(x, y, visibility)`` of one pose's landmark dicts or objects."""
    if not isinstance(landmarks, list):
        raise KeypointFileError(f"{name}: {label} is not a list of landmarks")
    rows = []
    for j, lm in enumerate(landmarks):
        if isinstance(lm, dict):
            x, y, vis = lm.get("x"), lm.get("y"), lm.get("visibility")
        else:
            x, y, vis = getattr(lm, "x", None), getattr(lm, "y", None), getattr(lm, "visibility", None)
        if x is None or y is None:
            raise KeypointFileError(f"{name}: {label} landmark {j} has no 'x' / 'y'")
        rows.append((x, y, 1.0 if vis is None else vis))
    return float_array(rows, name, f"{label} landmarks").reshape(-1, 3)
