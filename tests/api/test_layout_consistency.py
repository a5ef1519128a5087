"""The same pose given in four detector layouts gives nearly the same mesh.

The inputs are exact projections of one real motion frame (the shipped
example: CMU 06_01 "walk") in each layout, made with the open body and the
layout conversions (no ../shared).  ``experiments/layout_consistency.py``
prints the full table; the project target is <= 15 mm.
"""
import itertools

import numpy as np

from pose2mesh.examples import load_example

LAYOUTS = ("coco", "openpose25", "h36m", "blazepose33")

#: Bound on the mean (over the 6 layout pairs) root-relative vertex distance, mm:
#: the project target.  The shipped model (CPU recipe, experiments/cpu/, trained
#: with the layout-consistency term, lifting with smoothing and keypoint anchoring, given the camera) gives 14.9 mm
#: on this frame (docs/api.md).
BOUND_MM = 15.0


def test_layouts_give_close_meshes(shipped_lifter):
    K = load_example().K
    meshes = {layout: shipped_lifter(load_example(layout).keypoints, layout=layout, K=K).vertices_rel[0]
              for layout in LAYOUTS}
    dists = [np.linalg.norm(meshes[a] - meshes[b], axis=-1).mean() * 1000 for a, b in itertools.combinations(LAYOUTS, 2)]
    assert np.mean(dists) <= BOUND_MM, f"mean vertex distance between layouts {np.mean(dists):.1f} mm"
