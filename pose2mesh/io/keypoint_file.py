"""The result of every reader: :class:`KeypointFile`, and the reader error."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose2mesh.joints import get_layout

__all__ = ["KeypointFile", "KeypointFileError"]


class KeypointFileError(ValueError):
    """A keypoint file (or object) that cannot be read as the format it claims.

    The message starts with the file's path (or ``<TypeName>`` for an object
    passed in memory) and says what is wrong.
    """


@dataclass(frozen=True, eq=False, repr=False)
class KeypointFile:
    """2D keypoints read from a detector's output.

    Coordinates are pixels in the OpenCV image convention: ``u`` to the right,
    ``v`` down, ``(0, 0)`` the centre of the top-left pixel.

    Attributes:
        keypoints: ``(N, J, 3)`` float32: ``(u, v, confidence)`` of the ``J``
            keypoints of ``layout`` for each of the ``N`` people (rows; one
            row per person per image or frame).  An absent keypoint has
            confidence 0 (its coordinates may be NaN); a point whose
            coordinates are not finite always has confidence 0.
        layout: name of the keypoint layout (see :func:`pose2mesh.joints.get_layout`).
        image_ids: ``N`` entries: the image or frame each row belongs to
            (COCO ``image_id``, a file name or a frame index, as the format
            gives it).
        image_size: ``(W, H)`` in pixels when the file or the caller knows it, else None.
        scores: ``(N,)`` float32 per-person scores (e.g. COCO ``score``, a box
            confidence) when the format has them, else None; NaN for a person
            without one.
        source: the path read, or ``<TypeName>`` for an object passed in memory.
        format: the name of the format read (one of :func:`pose2mesh.io.list_formats`).

    Raises:
        ValueError: if the fields are inconsistent (shapes, dtype, lengths,
            unknown layout).
    """

    keypoints: np.ndarray
    layout: str
    image_ids: list
    image_size: tuple[int, int] | None = None
    scores: np.ndarray | None = None
    source: str = ""
    format: str = ""

    def __post_init__(self) -> None:
        kp = self.keypoints
        if not isinstance(kp, np.ndarray) or kp.dtype != np.float32 or kp.ndim != 3 or kp.shape[-1] != 3:
            raise ValueError(
                "KeypointFile.keypoints must be a float32 array of shape (N, J, 3), got "
                f"{type(kp).__name__} {getattr(kp, 'dtype', '')} {getattr(kp, 'shape', '')}"
            )
        num_joints = get_layout(self.layout).num_joints
        if kp.shape[1] != num_joints:
            raise ValueError(
                f"KeypointFile: layout '{self.layout}' has {num_joints} keypoints, "
                f"keypoints have {kp.shape[1]}"
            )
        if not isinstance(self.image_ids, list) or len(self.image_ids) != kp.shape[0]:
            raise ValueError(f"KeypointFile.image_ids must be a list of {kp.shape[0]} entries (one per row)")
        if self.scores is not None and (
            not isinstance(self.scores, np.ndarray) or self.scores.shape != (kp.shape[0],)
        ):
            raise ValueError(f"KeypointFile.scores must be None or an array of shape ({kp.shape[0]},)")
        if self.image_size is not None and not (
            isinstance(self.image_size, tuple) and len(self.image_size) == 2
            and all(isinstance(s, int) and s > 0 for s in self.image_size)
        ):
            raise ValueError(
                f"KeypointFile.image_size must be None or (W, H) positive ints, got {self.image_size!r}"
            )

    def __len__(self) -> int:
        """Number of rows ``N`` (people over all images or frames)."""
        return self.keypoints.shape[0]

    @property
    def num_joints(self) -> int:
        """Number of keypoints ``J`` per row."""
        return self.keypoints.shape[1]

    def __repr__(self) -> str:
        return (
            f"KeypointFile(format='{self.format}', layout='{self.layout}', num={len(self)}, "
            f"num_joints={self.num_joints}, image_size={self.image_size}, source='{self.source}')"
        )
