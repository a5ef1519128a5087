"""The entry point: :func:`read_keypoints`, format detection and the format resolver."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from pose2mesh.io._parse import Input, describe, existing, is_path, json_input, parse_json, read_text, to_numpy
from pose2mesh.io.arrays import read_csv, read_npy
from pose2mesh.io.coco import read_coco, read_coco_wholebody
from pose2mesh.io.keypoint_file import KeypointFile, KeypointFileError
from pose2mesh.io.mediapipe import read_mediapipe
from pose2mesh.io.mmpose import read_mmpose
from pose2mesh.io.openpose import read_openpose
from pose2mesh.io.ultralytics import read_ultralytics

__all__ = ["read_keypoints", "list_formats", "resolve_format", "detect_format"]

_READERS: dict[str, Callable[..., KeypointFile]] = {
    "coco": read_coco,
    "coco-wholebody": read_coco_wholebody,
    "csv": read_csv,
    "json": read_npy,
    "mediapipe": read_mediapipe,
    "mmpose": read_mmpose,
    "npy": read_npy,
    "npz": read_npy,
    "openpose": read_openpose,
    "ultralytics": read_ultralytics,
}
"""Format name -> reader."""

_ALIASES = {
    "wholebody": "coco-wholebody",
    "cocowholebody": "coco-wholebody",
    "rtmlib": "mmpose",
    "rtmpose": "mmpose",
    "vitpose": "mmpose",
    "blazepose": "mediapipe",
    "yolo": "ultralytics",
    "numpy": "npy",
    "array": "npy",
}
"""Other names accepted by :func:`resolve_format` (after lower-casing and ``_`` -> ``-``)."""

_SUFFIX_FORMATS = {".npy": "npy", ".npz": "npz", ".csv": "csv"}


def list_formats() -> tuple[str, ...]:
    """Names of the supported formats, sorted (what ``format=`` takes)."""
    return tuple(sorted(_READERS))


def resolve_format(format: str) -> str:
    """The canonical name of ``format`` (case-insensitive; ``_`` same as ``-``; aliases
    such as ``"rtmlib"`` -> ``"mmpose"``, ``"yolo"`` -> ``"ultralytics"``).

    Raises:
        ValueError: an unknown format; the message lists the valid names.
    """
    key = str(format).strip().lower().replace("_", "-")
    key = _ALIASES.get(key.replace("-", ""), _ALIASES.get(key, key))
    if key not in _READERS:
        raise ValueError(f"unknown keypoint format '{format}'; choose one of: {', '.join(list_formats())}")
    return key


def read_keypoints(
    source: Any,
    format: str | None = None,
    layout: str | None = None,
    image_size: tuple[int, int] | None = None,
) -> KeypointFile:
    """Read a detector's 2D keypoints from a file, a folder or an object.

    Args:
        source: a path (file, or folder of OpenPose frame files) or an object
            in memory (parsed JSON, an array / tensor ``(N, J, 2|3)``, a tuple
            ``(keypoints, scores)``, ultralytics / MediaPipe / MMPose result
            objects).
        format: one of :func:`list_formats` (or an alias, see
            :func:`resolve_format`); None detects it from the extension and
            the content (:func:`detect_format`).
        layout: keypoint layout (see :func:`pose2mesh.joints.list_layouts`);
            None takes the format's own or infers it from the number of
            keypoints per person when that is unambiguous.
        image_size: ``(W, H)`` in pixels of the images; required for
            MediaPipe (normalised coordinates), else recorded in the result.

    Returns:
        :class:`KeypointFile`: ``keypoints`` ``(N, J, 3)`` float32 ``(u, v,
        confidence)`` in pixels (OpenCV image convention: ``u`` right, ``v``
        down, ``(0, 0)`` the centre of the top-left pixel), absent points with
        confidence 0; ``layout``, ``image_ids`` (``N``), ``image_size``,
        ``scores`` ``(N,)`` or None, ``source``, ``format``.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: an unknown ``format`` (lists the valid ones).
        KeypointFileError (a ValueError): the format cannot be detected, or
            the file is empty, malformed or inconsistent with its format,
            ``layout`` or ``image_size`` (the message names the file).
    """
    if format is None:
        fmt, source = _detect(source)
    else:
        fmt = resolve_format(format)
    return _READERS[fmt](source, layout=layout, image_size=image_size)


def detect_format(source: Any) -> str:
    """The format :func:`read_keypoints` reads ``source`` as (see the rules in ``docs/io.md``).

    Raises:
        FileNotFoundError: the path does not exist.
        KeypointFileError: the format cannot be told; the message says why and
            lists the formats to pass as ``format=``.
    """
    return _detect(source)[0]


def _detect(source: Any) -> tuple[str, Any]:
    """``(format, source)``; a JSON path comes back parsed (as an :class:`Input`) to be read once."""
    if is_path(source):
        path = existing(source, folder=True)
        if path.is_dir():
            return "openpose", source
        suffix = path.suffix.lower()
        if suffix in _SUFFIX_FORMATS:
            return _SUFFIX_FORMATS[suffix], source
        if suffix != ".json":
            raise KeypointFileError(
                f"{path}: cannot tell the keypoint format from the extension '{suffix}' "
                f"(.json, .npy, .npz, .csv or a folder of OpenPose .json); pass format= one of: "
                f"{', '.join(list_formats())}"
            )
        inp = Input(str(path), path, parse_json(read_text(path), str(path)))
        return _json_format(inp.data, inp.name), inp
    if isinstance(source, (dict, list)) and not _is_objects(source):
        return _json_format(source, describe(source)), json_input(source)
    if isinstance(source, tuple):
        return "mmpose", source
    if hasattr(source, "pred_instances") or _is_objects(source, "pred_instances"):
        return "mmpose", source
    if hasattr(source, "pose_landmarks") or _is_objects(source, "pose_landmarks"):
        return "mediapipe", source
    if hasattr(source, "keypoints") or _is_objects(source, "keypoints"):
        return "ultralytics", source
    if isinstance(to_numpy(source), np.ndarray):
        return "npy", source
    raise KeypointFileError(
        f"{describe(source)}: cannot tell the keypoint format of this object; pass format= one of: "
        f"{', '.join(list_formats())}"
    )


def _is_objects(value: Any, attribute: str | None = None) -> bool:
    """True for a non-empty list of result objects (not JSON values), having ``attribute`` if given."""
    return (
        isinstance(value, list) and bool(value)
        and all(not isinstance(v, (dict, list, str, int, float)) and v is not None for v in value)
        and (attribute is None or all(hasattr(v, attribute) for v in value))
    )


def _json_format(data: Any, name: str) -> str:
    """The format of parsed JSON, told by its keys (see ``docs/io.md``)."""
    if isinstance(data, dict):
        if "people" in data:
            return "openpose"
        if "instance_info" in data or "predictions" in data:
            return "mmpose"
        if "annotations" in data:
            entries = data["annotations"] if isinstance(data["annotations"], list) else []
            return _coco_kind(entries)
        if any(k in data for k in ("pose_landmarks", "landmarks")):
            return "mediapipe"
        if "keypoints" in data and "keypoint_scores" in data:
            return "mmpose"
        if isinstance(data.get("keypoints"), list):  # the .npz layout in JSON
            return "json"
    elif isinstance(data, list):
        first = next((d for d in data if d not in ([], None)), None)
        if isinstance(first, list):  # frames: a list per frame
            inner = next((d for d in first if d is not None), None)
            if isinstance(inner, dict) and isinstance(inner.get("keypoints"), dict):
                return "ultralytics"
            if isinstance(inner, dict) and ("x" in inner or "landmarks" in inner):
                return "mediapipe"
            if isinstance(inner, list) and inner and isinstance(inner[0], dict) and "x" in inner[0]:
                return "mediapipe"
            if isinstance(inner, (list, int, float)):  # nested lists of numbers
                return "json"
        elif isinstance(first, dict):
            keypoints = first.get("keypoints")
            if isinstance(keypoints, dict):
                return "ultralytics"
            if "keypoint_scores" in first or (isinstance(keypoints, list) and keypoints
                                              and isinstance(keypoints[0], list)):
                return "mmpose"
            if isinstance(keypoints, list):
                return _coco_kind(data)
            if "x" in first or "landmarks" in first or "pose_landmarks" in first:
                return "mediapipe"
        elif first is None and isinstance(data, list):
            raise KeypointFileError(f"{name}: the JSON list is empty: no keypoints to read")
    raise KeypointFileError(
        f"{name}: cannot tell the keypoint format from the JSON content; pass format= one of: "
        f"{', '.join(list_formats())}"
    )


def _coco_kind(entries: list) -> str:
    """``coco-wholebody`` when the entries carry ``foot_kpts`` or 133 keypoints, else ``coco``."""
    for entry in entries:
        if isinstance(entry, dict) and "keypoints" in entry:
            keypoints = entry["keypoints"]
            if "foot_kpts" in entry or (isinstance(keypoints, list) and len(keypoints) == 133 * 3):
                return "coco-wholebody"
            return "coco"
    return "coco"
