"""OpenPose JSON: one file per frame, ``{"people": [{"pose_keypoints_2d": [x, y, c, ...]}]}``.

The layout is told by the number of values per person: 75 (25 x 3) is
``BODY_25`` -> ``openpose25``, 54 (18 x 3) is ``COCO`` -> ``openpose18``.  An
all-zero triplet is OpenPose's "not detected": NaN coordinates, confidence 0.
Face and hand keypoints are ignored.  Coordinates are expected in pixels
(OpenPose's default ``--keypoint_scale 0``) and read unchanged: ``x`` to the
right, ``y`` down, pixel ``(0, 0)`` the *centre* of the top-left pixel, as in
this package's convention (:mod:`pose2mesh.io`).

A folder of such files is a video: the files are read in the natural order of
their names (``frame_2`` before ``frame_10``), and ``image_ids`` holds the
file name of each row's frame.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from pose2mesh.io._parse import Input, build, existing, flat_points, is_path, json_input, stack_people
from pose2mesh.io.keypoint_file import KeypointFile, KeypointFileError

__all__ = ["read_openpose"]


def read_openpose(
    source: Any, *, layout: str | None = None, image_size: tuple[int, int] | None = None
) -> KeypointFile:
    """Read OpenPose JSON: one frame's file, a folder of frame files, or a parsed frame dict.

    Args:
        source: path of a ``*_keypoints.json`` file, path of a folder of them
            (the frames of a video), or the parsed JSON of one frame.
        layout: None infers it from the values per person (75 ->
            ``openpose25``, 54 -> ``openpose18``).
        image_size: ``(W, H)`` in pixels, recorded in the result (OpenPose's
            JSON does not store it).

    Returns:
        :class:`KeypointFile` with ``keypoints`` ``(N, J, 3)`` (pixels,
        confidence): one row per person per frame, ``image_ids`` the file name
        of each row's frame (0 for a parsed dict), ``scores`` None.  A frame
        without people contributes no row.

    Raises:
        FileNotFoundError: the file or folder does not exist.
        KeypointFileError: a folder without ``.json`` files, an empty or
            malformed file, a file without a ``people`` list, a
            ``pose_keypoints_2d`` whose length is not a multiple of 3, people
            of different sizes, no people at all, an unknown layout.
    """
    if is_path(source) and Path(source).is_dir():
        folder = existing(source, folder=True)
        files = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".json"),
                       key=lambda p: _natural_key(p.name))
        if not files:
            raise KeypointFileError(f"{folder}: the folder has no .json files (OpenPose writes one per frame)")
        name, frames = str(folder), [(f.name, json_input(f)) for f in files]
    else:
        inp = json_input(source)
        name, frames = inp.name, [(inp.path.name if inp.path else 0, inp)]

    people, labels, image_ids = [], [], []
    for frame_id, inp in frames:
        for k, person in enumerate(_people(inp)):
            label = f"{frame_id} person {k}" if len(frames) > 1 else f"person {k}"
            values = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
            if values is None:
                raise KeypointFileError(f"{inp.name}: person {k} has no 'pose_keypoints_2d'")
            if values == []:  # body estimation disabled for this person
                continue
            points = flat_points(values, 3, inp.name, f"person {k} 'pose_keypoints_2d'", "x, y, c")
            points[(points == 0).all(axis=-1), :2] = np.nan
            people.append(points)
            labels.append(label)
            image_ids.append(frame_id)
    if not people:
        raise KeypointFileError(f"{name}: contains no people / keypoints in {len(frames)} frame(s)")
    points = stack_people(people, labels, name)
    return build(points[..., :2], points[..., 2], name=name, format="openpose", image_ids=image_ids,
                 layout=layout, image_size=image_size)


def _people(inp: Input) -> list:
    """The ``people`` list of one frame's parsed JSON."""
    data = inp.data
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise KeypointFileError(f"{inp.name}: not OpenPose JSON: expected an object with a 'people' list")
    return data["people"]


def _natural_key(name: str) -> list:
    """Sort key ordering the numbers inside file names by value (``f2`` < ``f10``)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
