"""Readers of 2D keypoint detector output.

>>> from pose2mesh.io import read_keypoints
>>> kf = read_keypoints("results.json")                      # doctest: +SKIP
>>> kf.keypoints.shape, kf.layout                            # doctest: +SKIP
((12, 17, 3), 'coco')

Every reader returns a :class:`KeypointFile`: ``keypoints`` ``(N, J, 3)``
float32 ``(u, v, confidence)``, one row per person per image or frame, in the
layout named by ``layout`` (see :mod:`pose2mesh.joints`), with ``image_ids``,
``image_size``, ``scores``, ``source`` and ``format``.

Coordinate convention (every reader's output): pixels, OpenCV image
convention: ``u`` to the right, ``v`` down, pixel ``(0, 0)`` is the *centre*
of the top-left pixel (so the image spans ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``).
Pixel coordinates written by a detector are taken as they are: COCO,
OpenPose and MMPose use this convention; ultralytics differs by half a pixel,
below any detector's accuracy, and is not corrected.  Normalised coordinates
(MediaPipe) are converted exactly: ``u = x * W - 0.5``, ``v = y * H - 0.5``.

Absent keypoints have confidence 0 and, where the format marks them
(OpenPose's and COCO's all-zero triplets, COCO ``v = 0``, empty CSV cells,
NaN), NaN coordinates; a point whose coordinates are not finite always has
confidence 0.  Confidences are otherwise the detector's own, unscaled.

Formats (:func:`list_formats`) and their readers: ``coco`` (:func:`read_coco`),
``coco-wholebody`` (:func:`read_coco_wholebody`), ``csv`` (:func:`read_csv`),
``mediapipe`` (:func:`read_mediapipe`), ``mmpose`` (:func:`read_mmpose`, also
rtmlib / ViTPose arrays), ``npy``, ``npz`` and ``json`` (plain arrays in
JSON; all three :func:`read_npy`), ``openpose`` (:func:`read_openpose`),
``ultralytics`` (:func:`read_ultralytics`).
:func:`read_keypoints` detects the format from the extension and the content,
or takes ``format=``.  Errors are :class:`KeypointFileError` (a ``ValueError``)
naming the file and what is wrong, or ``FileNotFoundError``.

Only numpy and the standard library are used; torch tensors, ultralytics,
MediaPipe and MMPose objects are accepted by duck typing, never imported.
See ``docs/io.md``.
"""
from pose2mesh.io.arrays import read_csv, read_npy
from pose2mesh.io.coco import read_coco, read_coco_wholebody
from pose2mesh.io.keypoint_file import KeypointFile, KeypointFileError
from pose2mesh.io.mediapipe import read_mediapipe
from pose2mesh.io.mmpose import read_mmpose
from pose2mesh.io.openpose import read_openpose
from pose2mesh.io.read import detect_format, list_formats, read_keypoints, resolve_format
from pose2mesh.io.ultralytics import read_ultralytics

__all__ = [
    "KeypointFile",
    "KeypointFileError",
    "read_keypoints",
    "list_formats",
    "resolve_format",
    "detect_format",
    "read_coco",
    "read_coco_wholebody",
    "read_openpose",
    "read_mmpose",
    "read_mediapipe",
    "read_ultralytics",
    "read_npy",
    "read_csv",
]
