"""COCO keypoint results and annotations, and COCO-WholeBody.

* Results (what a detector writes for the COCO evaluation): a JSON list
  ``[{"image_id", "category_id", "keypoints": [x, y, v, ...], "score"}, ...]``.
  ``v`` is taken as the keypoint's confidence (detectors write their keypoint
  score there); an all-zero triplet is an absent keypoint.
* Annotations (a dataset file): a JSON object with ``"annotations"`` (and
  ``"images"``, whose ``width`` / ``height`` give ``image_size`` when all the
  people read lie in images of one size).  ``v`` is the visibility flag:
  0 = not labelled (absent: NaN coordinates, confidence 0), 1 = labelled but
  occluded and 2 = visible (both confidence 1).  Annotations without any
  labelled keypoint (crowds, ``num_keypoints == 0``) are skipped; annotations
  without a ``"keypoints"`` field (other categories) too.

COCO keypoints are integer pixel indices, so a coordinate is the centre of a
pixel, as in this package's convention: they are read unchanged.

COCO-WholeBody (Jin et al. 2020) has 133 keypoints per person: body 17, feet
6, face 68, left hand 21, right hand 21, either as one list of 133 x 3 values
or split into ``keypoints`` (body), ``foot_kpts``, ``face_kpts``,
``lefthand_kpts`` and ``righthand_kpts`` (the dataset's and MMPose's form).
It is read as layout ``wholebody23``, the body and feet, which is the richest
built-in layout it maps to; face and hands are dropped.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from pose2mesh.io._parse import (
    build,
    checked_layout,
    common_value,
    describe,
    flat_points,
    json_input,
    log,
    stack_people,
)
from pose2mesh.io.keypoint_file import KeypointFile, KeypointFileError

__all__ = ["read_coco", "read_coco_wholebody"]


def read_coco(
    source: Any, *, layout: str | None = None, image_size: tuple[int, int] | None = None
) -> KeypointFile:
    """Read a COCO keypoint results file (or an annotation file).

    Args:
        source: path of a ``.json`` file, or its parsed content (a results
            list or an annotation dict).
        layout: keypoint layout of the ``keypoints`` lists; None infers it from
            their length (17 -> ``coco``, 133 -> ``wholebody23``, ...).
        image_size: ``(W, H)`` in pixels, recorded in the result.

    Returns:
        :class:`KeypointFile` with ``keypoints`` ``(N, J, 3)`` (pixels,
        confidence), one row per result / annotation, ``image_ids`` the COCO
        ``image_id`` of each (the entry's index when it has none), ``scores``
        the results' ``score`` (None for annotations).  Only the
        ``"keypoints"`` field is read; ``foot_kpts`` etc. need
        :func:`read_coco_wholebody`.

    Raises:
        FileNotFoundError: the file does not exist.
        KeypointFileError: empty or malformed JSON, a ``keypoints`` list whose
            length is not a multiple of 3, people of different sizes, no
            people, an unknown or mismatching layout.
    """
    return _read(source, layout, image_size, "coco", ("keypoints",), hint=None)


def read_coco_wholebody(
    source: Any, *, layout: str | None = None, image_size: tuple[int, int] | None = None
) -> KeypointFile:
    """Read COCO-WholeBody results or annotations as layout ``wholebody23`` (body + feet).

    Args:
        source: path of a ``.json`` file, or its parsed content.  Each person
            has either ``keypoints`` with 133 x 3 values or ``keypoints``
            (17 x 3, body) plus ``foot_kpts`` (6 x 3); face and hand keypoints
            are ignored.
        layout: ``"wholebody23"`` (default) or ``"coco"`` (body only).
        image_size: ``(W, H)`` in pixels, recorded in the result.

    Returns:
        :class:`KeypointFile` with ``keypoints`` ``(N, 23, 3)`` (pixels,
        confidence), otherwise as :func:`read_coco`.

    Raises:
        FileNotFoundError, KeypointFileError: as :func:`read_coco`.
    """
    # body only: the split form's foot_kpts are left out; the 133-point form is cut to its first 17 by build()
    parts = ("keypoints",) if checked_layout(layout, describe(source)) == "coco" else ("keypoints", "foot_kpts")
    return _read(source, layout, image_size, "coco-wholebody", parts, hint="wholebody23")


def _read(
    source: Any, layout: str | None, image_size: Any, format: str, parts: tuple[str, ...], hint: str | None
) -> KeypointFile:
    """Shared reader of COCO and COCO-WholeBody, concatenating ``parts`` of each person."""
    inp = json_input(source)
    name, data = inp.name, inp.data
    is_annotations = isinstance(data, dict)
    if is_annotations:
        if not isinstance(data.get("annotations"), list):
            raise KeypointFileError(
                f"{name}: a COCO JSON object needs an 'annotations' list "
                "(a results file is a JSON list of detections)"
            )
        entries = data["annotations"]
        sizes = {
            img.get("id"): (img.get("width"), img.get("height"))
            for img in data.get("images") or [] if isinstance(img, dict)
        }
    elif isinstance(data, list):
        entries, sizes = data, {}
    else:
        raise KeypointFileError(
            f"{name}: expected a COCO results list or annotation object, got {type(data).__name__}"
        )

    people, labels, image_ids, scores, skipped = [], [], [], [], 0
    for i, entry in enumerate(entries):
        label = f"{'annotation' if is_annotations else 'result'} {i}"
        if not isinstance(entry, dict):
            raise KeypointFileError(f"{name}: {label} is not a JSON object")
        if "keypoints" not in entry:
            if is_annotations:
                continue
            raise KeypointFileError(f"{name}: {label} has no 'keypoints'")
        points = np.concatenate([
            flat_points(entry[part], 3, name, f"{label} '{part}'", "x, y, v")
            for part in parts if part in entry
        ])
        xy, v = points[:, :2], points[:, 2]
        if is_annotations:
            present = v > 0
            if not present.any():
                skipped += 1
                continue
            xy[~present] = np.nan
            confidence = present.astype(np.float64)
        else:
            xy[(points == 0).all(axis=-1)] = np.nan
            confidence = v
        people.append(np.concatenate([xy, confidence[:, None]], axis=-1))
        labels.append(label)
        image_ids.append(entry.get("image_id", i))
        scores.append(entry.get("score"))
    if skipped:
        log.info("%s: skipped %d annotations without labelled keypoints", name, skipped)
    points = stack_people(people, labels, name)
    file_size = common_value([sizes.get(i) if isinstance(i, (int, str)) else None for i in image_ids])
    has_scores = any(s is not None for s in scores)
    return build(
        points[..., :2], points[..., 2], name=name, format=format, image_ids=image_ids,
        layout=layout, hint=hint, image_size=image_size, file_image_size=file_size,
        scores=[np.nan if s is None else s for s in scores] if has_scores else None,
    )
