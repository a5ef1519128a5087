"""Ultralytics (YOLO pose) results: 17 COCO keypoints per person -> layout ``coco``.

Accepted, duck-typed (ultralytics is never imported):

* a ``Results`` object (anything with ``.keypoints.data``, a tensor or array
  ``(N, 17, 3)`` of ``(x, y, confidence)`` or ``(N, 17, 2)``), or a list of them
  (the frames of a video); ``.boxes.conf`` gives the per-person scores,
  ``.orig_shape`` ``(H, W)`` the image size and ``.path`` the image id;
* the JSON of ``Results.to_json()``: a list of detections
  ``[{"confidence", "keypoints": {"x": [...], "y": [...], "visible": [...]}}]``,
  or a list of such lists (frames);
* a ``.npy`` dump of ``keypoints.data`` (read as a plain array).

Ultralytics' coordinates are pixels of the original image, read unchanged
(its sub-pixel convention puts the image on [0, W] x [0, H], half a pixel
from this package's, which is below a detector's accuracy and not corrected).
Do not dump with ``to_json(normalize=True)``: those coordinates are normalised.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from pose2mesh.io._parse import (
    build,
    common_value,
    describe,
    existing,
    float_array,
    is_path,
    json_input,
    split_points,
    stack_people,
    to_numpy,
)
from pose2mesh.io.arrays import read_npy
from pose2mesh.io.keypoint_file import KeypointFile, KeypointFileError

__all__ = ["read_ultralytics"]


def read_ultralytics(
    source: Any, *, layout: str | None = None, image_size: tuple[int, int] | None = None
) -> KeypointFile:
    """Read ultralytics pose results (objects, their JSON, or a ``.npy`` of ``keypoints.data``).

    Args:
        source: a ``Results``-like object or a list of them; path of a
            ``.json`` (``Results.to_json()``) or ``.npy`` file; parsed JSON.
        layout: None for ``coco`` (inferred from the 17 keypoints).
        image_size: ``(W, H)`` in pixels; must agree with ``orig_shape`` when
            the results carry it.

    Returns:
        :class:`KeypointFile` with ``keypoints`` ``(N, 17, 3)`` (pixels,
        confidence; 1 where the model gives none), one row per person per
        result; ``image_ids`` each result's ``path`` (its index when it has
        none; the file name for a one-image JSON); ``scores`` the box
        confidences when given.

    Raises:
        FileNotFoundError: the file does not exist.
        KeypointFileError: results without keypoints (not a pose model),
            empty or malformed JSON, keypoint lists of different lengths, no
            people, an unknown or mismatching layout.
    """
    if is_path(source) and Path(source).suffix.lower() in (".npy", ".npz"):
        existing(source)
        return dataclasses.replace(read_npy(source, layout=layout, image_size=image_size), format="ultralytics")
    results = source if isinstance(source, (list, tuple)) else [source]
    if results and all(hasattr(r, "keypoints") and not isinstance(r, dict) for r in results):
        return _from_results(list(results), describe(source), layout, image_size)

    inp = json_input(source)
    name, data = inp.name, inp.data
    if not isinstance(data, list):
        raise KeypointFileError(f"{name}: expected a list of ultralytics detections, got {type(data).__name__}")
    frames = data if data and all(isinstance(f, list) for f in data) else [data]
    single_id = inp.path.name if inp.path and len(frames) == 1 else None
    people, labels, image_ids, scores = [], [], [], []
    for f, detections in enumerate(frames):
        for k, det in enumerate(detections):
            label = f"frame {f} detection {k}" if len(frames) > 1 else f"detection {k}"
            kp = det.get("keypoints") if isinstance(det, dict) else None
            if not isinstance(kp, dict) or "x" not in kp or "y" not in kp:
                raise KeypointFileError(f"{name}: {label} has no 'keypoints' with 'x' and 'y' lists")
            columns = [kp["x"], kp["y"]] + ([kp["visible"]] if "visible" in kp else [])
            points = float_array(columns, name, f"{label} keypoints")
            if points.ndim != 2:
                raise KeypointFileError(
                    f"{name}: {label} keypoints: 'x', 'y' and 'visible' must be lists of one length"
                )
            if points.shape[0] == 2:
                points = np.concatenate([points, np.ones((1, points.shape[1]))])
            people.append(points.T)
            labels.append(label)
            image_ids.append(single_id if single_id is not None else f)
            scores.append(det.get("confidence"))
    points = stack_people(people, labels, name)
    has_scores = any(s is not None for s in scores)
    return build(points[..., :2], points[..., 2], name=name, format="ultralytics", image_ids=image_ids,
                 layout=layout, image_size=image_size,
                 scores=[np.nan if s is None else s for s in scores] if has_scores else None)


def _from_results(results: list, name: str, layout: str | None, image_size: Any) -> KeypointFile:
    """Concatenate the people of ``Results``-like objects."""
    xys, confidences, scores, image_ids, sizes = [], [], [], [], []
    for i, result in enumerate(results):
        keypoints = result.keypoints
        if keypoints is None:
            raise KeypointFileError(f"{name}: result {i} has no keypoints (not a pose model?)")
        xy, confidence = split_points(getattr(keypoints, "data", keypoints), name, f"result {i} keypoints.data")
        if xys and xy.shape[1] != xys[0].shape[1]:
            raise KeypointFileError(
                f"{name}: result {i} has {xy.shape[1]} keypoints, result 0 has {xys[0].shape[1]}"
            )
        xys.append(xy)
        confidences.append(np.ones(xy.shape[:2]) if confidence is None else confidence)
        conf = getattr(getattr(result, "boxes", None), "conf", None)
        conf = np.full(len(xy), np.nan) if conf is None else float_array(conf, name, "boxes.conf").reshape(-1)
        scores.append(conf)
        path = getattr(result, "path", None)
        image_ids += [path if isinstance(path, str) and path else i] * len(xy)
        shape = getattr(result, "orig_shape", None)
        sizes.append(None if shape is None else tuple(int(s) for s in to_numpy(shape)[:2][::-1]))
    scores = np.concatenate(scores)
    if scores.shape[0] != len(image_ids):
        raise KeypointFileError(f"{name}: {scores.shape[0]} box confidences for {len(image_ids)} people")
    return build(np.concatenate(xys), np.concatenate(confidences), name=name, format="ultralytics",
                 image_ids=image_ids, layout=layout, image_size=image_size,
                 file_image_size=common_value(sizes), scores=None if np.isnan(scores).all() else scores)
