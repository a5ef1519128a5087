"""MMPose predictions, and the arrays of rtmlib / ViTPose.

* MMPose's JSON prediction dumps: a list of instances
  ``[{"keypoints": [[x, y], ...], "keypoint_scores": [...], "bbox_score": s}]``
  (``MMPoseInferencer(..., pred_out_dir=...)``, one file per image), or the
  demo scripts' ``{"meta_info": {...}, "instance_info": [...]}`` (``--save-predictions``)
  whose ``instance_info`` is a list of instances (an image) or of
  ``{"frame_id", "instances"}`` (a video).  ``meta_info.dataset_name`` names
  the layout (``coco``, ``coco_wholebody``, ``mpii``, ``h36m``).
* MMPoseInferencer results ``{"predictions": [[instances...]]}`` and
  ``PoseDataSample``-like objects (``.pred_instances.keypoints`` /
  ``.keypoint_scores``), duck-typed.
* Arrays (rtmlib ``keypoints, scores = model(image)``, ViTPose): a tuple
  ``(keypoints, scores)`` with keypoints ``(N, J, 2)`` and scores ``(N, J)``,
  or a ``.npz`` with ``keypoints`` and ``keypoint_scores`` / ``scores``.

Coordinates are pixels of the input image, read unchanged: ``x`` to the
right, ``y`` down, pixel ``(0, 0)`` the *centre* of the top-left pixel, as in
this package's convention (:mod:`pose2mesh.io`).  133 keypoints
(COCO-WholeBody, e.g. rtmlib ``Wholebody``) are read as ``wholebody23``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from pose2mesh.io._parse import build, describe, existing, float_array, is_path, json_input, split_points
from pose2mesh.io.arrays import read_npy
from pose2mesh.io.keypoint_file import KeypointFile, KeypointFileError

__all__ = ["read_mmpose"]

_DATASET_LAYOUTS = {"coco": "coco", "coco_wholebody": "wholebody23", "mpii": "mpii", "h36m": "h36m"}
"""MMPose ``dataset_name`` -> layout."""


def read_mmpose(
    source: Any, *, layout: str | None = None, image_size: tuple[int, int] | None = None
) -> KeypointFile:
    """Read MMPose predictions or rtmlib / ViTPose keypoint arrays.

    Args:
        source: path of a ``.json`` prediction dump or a ``.npy`` / ``.npz``;
            the parsed JSON; a tuple ``(keypoints (N, J, 2), scores (N, J))``
            of numpy arrays or torch tensors; a ``PoseDataSample``-like object
            or a list of them (frames).  See the module docstring.
        layout: keypoint layout; None takes ``meta_info.dataset_name`` or
            infers it from ``J``.
        image_size: ``(W, H)`` in pixels, recorded in the result.

    Returns:
        :class:`KeypointFile` with ``keypoints`` ``(N, J, 3)`` (pixels,
        confidence = keypoint score; 1 where none is given), one row per
        instance; ``image_ids`` the ``frame_id`` of a video dump, the file name
        of a one-image dump, else the frame's index in a list (the row index
        for arrays); ``scores`` the ``bbox_score`` when given.

    Raises:
        FileNotFoundError: the file does not exist.
        KeypointFileError: empty or malformed JSON, an instance without
            ``keypoints``, not 2 values per keypoint, scores that do not match
            the keypoints, people of different sizes, no people, an unknown or
            mismatching layout.
    """
    if is_path(source) and Path(source).suffix.lower() in (".npy", ".npz"):
        existing(source)
        return dataclasses.replace(read_npy(source, layout=layout, image_size=image_size), format="mmpose")
    if isinstance(source, tuple):
        if len(source) != 2:
            raise KeypointFileError(
                f"{describe(source)}: expected a tuple (keypoints, scores), got {len(source)} items"
            )
        xy, confidence = split_points(source[0], describe(source), "keypoints", source[1])
        return build(xy, confidence, name=describe(source), format="mmpose", image_ids=list(range(len(xy))),
                     layout=layout, image_size=image_size)
    samples = source if isinstance(source, list) and source and hasattr(source[0], "pred_instances") else None
    if hasattr(source, "pred_instances"):
        samples = [source]
    if samples is not None:
        name = describe(source)
        frames = [(i, [_sample_instances(s, name)]) for i, s in enumerate(samples)]
        return _build(frames, name, layout, None, image_size)

    inp = json_input(source)
    name, data = inp.name, inp.data
    image_id = inp.path.name if inp.path else 0
    hint = None
    if isinstance(data, dict) and "instance_info" in data:
        meta = data.get("meta_info") or {}
        hint = _DATASET_LAYOUTS.get(str(meta.get("dataset_name", "")).lower()) if isinstance(meta, dict) else None
        info = data["instance_info"]
        if not isinstance(info, list):
            raise KeypointFileError(f"{name}: 'instance_info' is not a list")
        if info and all(isinstance(f, dict) and "instances" in f for f in info):
            frames = [(f.get("frame_id", i), f["instances"]) for i, f in enumerate(info)]
        else:
            frames = [(image_id, info)]
    elif isinstance(data, dict) and "predictions" in data:
        predictions = data["predictions"]
        if isinstance(predictions, list) and all(isinstance(p, list) for p in predictions):
            frames = list(enumerate(predictions))
        else:
            frames = [(0, predictions)]
    elif isinstance(data, dict) and "keypoints" in data:
        frames = [(image_id, [data])]
    elif isinstance(data, list):
        frames = [(image_id, data)]
    else:
        raise KeypointFileError(
            f"{name}: not MMPose predictions: expected a list of instances or an object with "
            "'instance_info' or 'predictions'"
        )
    return _build(frames, name, layout, hint, image_size)


def _sample_instances(sample: Any, name: str) -> dict:
    """The ``pred_instances`` of a ``PoseDataSample``-like object as an instance dict of arrays."""
    instances = sample.pred_instances
    if getattr(instances, "keypoints", None) is None:
        raise KeypointFileError(f"{name}: pred_instances has no keypoints")
    return {
        "keypoints": instances.keypoints,
        "keypoint_scores": getattr(instances, "keypoint_scores", None),
        "bbox_score": getattr(instances, "bbox_scores", None),
    }


def _build(frames: list, name: str, layout: str | None, hint: str | None, image_size: Any) -> KeypointFile:
    """Concatenate the instances of ``frames`` = ``[(frame id, [instance dict, ...]), ...]``."""
    points, scores, image_ids = [], [], []
    for frame_id, instances in frames:
        if not isinstance(instances, list):
            raise KeypointFileError(f"{name}: frame {frame_id}: the instances are not a list")
        for k, instance in enumerate(instances):
            label = f"frame {frame_id} instance {k}"
            if not isinstance(instance, dict) or instance.get("keypoints") is None:
                raise KeypointFileError(f"{name}: {label} has no 'keypoints'")
            xy, confidence = split_points(instance["keypoints"], name, f"{label} 'keypoints'",
                                          instance.get("keypoint_scores"))
            if confidence is None:
                confidence = np.ones(xy.shape[:2])
            if points and xy.shape[1] != points[0].shape[1]:
                raise KeypointFileError(
                    f"{name}: {label} has {xy.shape[1]} keypoints, the first instance has "
                    f"{points[0].shape[1]}; every person must have the same number"
                )
            points.append(np.concatenate([xy, confidence[..., None]], axis=-1))
            image_ids += [frame_id] * len(xy)
            scores.append(_person_scores(instance.get("bbox_score"), len(xy), name, label))
    if not points:
        raise KeypointFileError(f"{name}: contains no people / keypoints")
    points, scores = np.concatenate(points), np.concatenate(scores)
    return build(points[..., :2], points[..., 2], name=name, format="mmpose", image_ids=image_ids,
                 layout=layout, hint=hint, image_size=image_size,
                 scores=None if np.isnan(scores).all() else scores)


def _person_scores(value: Any, count: int, name: str, label: str) -> np.ndarray:
    """``count`` per-person scores from a ``bbox_score`` (a number or list); NaN when absent."""
    if value is None:
        return np.full(count, np.nan)
    scores = float_array(value, name, f"{label} 'bbox_score'").reshape(-1)
    if scores.size != count:
        raise KeypointFileError(f"{name}: {label}: {scores.size} bbox scores for {count} people")
    return scores
