"""Named keypoint layouts, the canonical superset and conversion between them.

One network serves every 2D detector because every detector's keypoints are
first mapped into one canonical *superset* of anatomical points; the points a
detector does not provide are marked absent and masked.

>>> import numpy as np
>>> from pose2mesh.joints import convert, get_layout, to_superset
>>> detections = np.ones((4, 17, 3))  # COCO (x, y, confidence), pixels
>>> h36m = convert(detections, "coco", "h36m")  # (4, 17, 3) in H36M order
>>> h36m[0, get_layout("h36m").index("head_top")]  # not derivable from COCO
array([nan, nan,  0.])
>>> points, presence = to_superset(detections, "coco")  # the networks' input
>>> points.shape, presence.shape
((4, 52, 2), (4, 52))

Layouts: ``blazepose33``, ``coco``, ``h36m``, ``mpii``, ``openpose18``,
``openpose25``, ``smpl24``, ``superset``, ``wholebody23`` (see
``docs/joints.md`` for the tables, the derivations and their approximations).
"""
from pose2mesh.joints.convert import conversion_matrix, convert, to_superset
from pose2mesh.joints.layouts import DERIVATIONS, Derivation, Layout, get_layout, list_layouts

__all__ = [
    "Layout",
    "Derivation",
    "DERIVATIONS",
    "get_layout",
    "list_layouts",
    "conversion_matrix",
    "convert",
    "to_superset",
]
