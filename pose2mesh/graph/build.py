"""Build the shipped mesh hierarchy of the default body (``pose2mesh build-graphs``).

The hierarchy is a pure function of the default body's triangle list
(``graphs/body_default.npz``) and the number of coarsening steps, so a rebuild
reproduces ``graphs/hierarchy_default.npz`` bit for bit (tested).
"""
from __future__ import annotations

import logging
from pathlib import Path

from pose2mesh._assets import asset_path, load_npz
from pose2mesh.graph.hierarchy import MeshHierarchy, build_hierarchy, hierarchy_summary

logger = logging.getLogger(__name__)

#: Coarsening steps of the shipped hierarchy: 12,272 vertices -> 76 nodes.
DEFAULT_STEPS = 8
DEFAULT_FILE = "hierarchy_default.npz"


def default_hierarchy(num_levels: int = DEFAULT_STEPS) -> MeshHierarchy:
    """Build (not load) the hierarchy of the shipped default body's mesh."""
    arrays, _ = load_npz(asset_path("body_default.npz"))
    return build_hierarchy(arrays["faces"], int(arrays["v_template"].shape[0]), num_levels)


def build_default_hierarchy(path: str | Path, num_levels: int = DEFAULT_STEPS) -> str:
    """Build the default hierarchy and save it to ``path``; returns its content hash."""
    hierarchy = default_hierarchy(num_levels)
    logger.info("%s", hierarchy_summary(hierarchy))
    return hierarchy.save(path)
