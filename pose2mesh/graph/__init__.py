"""Graph layers of pose2mesh: Chebyshev convolution and the mesh pooling hierarchy.

* :mod:`pose2mesh.graph.cheb` -- :func:`rescaled_laplacian`, the functional
  :func:`cheb_conv` and its module :class:`ChebConv` for batches ``(B, V, F)``
  of graphs sharing one topology (sparse COO Laplacian ``2 L / lambda_max - I``).
* :mod:`pose2mesh.graph.hierarchy` -- :func:`build_hierarchy`, a deterministic
  heavy-edge matching coarsening of the body mesh, saved as one hash-checked
  ``.npz`` (:func:`load_hierarchy`).

See ``docs/graph.md`` for the conventions and the determinism rules.
"""
from pose2mesh.graph.cheb import ChebConv, cheb_conv, rescaled_laplacian
from pose2mesh.graph.hierarchy import MeshHierarchy, build_hierarchy, load_hierarchy

__all__ = [
    "cheb_conv",
    "ChebConv",
    "rescaled_laplacian",
    "MeshHierarchy",
    "build_hierarchy",
    "load_hierarchy",
]
