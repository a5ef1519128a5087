"""Deterministic mesh pooling hierarchy for coarse-to-fine graph networks.

Conventions
-----------
* Levels: level 0 is the input mesh graph (one node per mesh vertex, in the
  mesh's vertex order); level ``l + 1`` is obtained by one matching
  (coarsening) step from level ``l``. A hierarchy built with
  ``num_levels = n`` holds ``n + 1`` graphs and ``n`` cluster maps.
* Node order at a coarse level: clusters are numbered by ascending smallest
  member (the smallest fine node index in the cluster), so coarse node ``c``
  comes before ``c'`` iff its first member does.
* ``edge_index``: ``(2, E)`` int64, undirected (both directions stored), no
  self loops, sorted lexicographically by (row, col). ``edge_weight``:
  ``(E,)`` int64, the number of level-0 mesh edges joining the two clusters.
* Laplacian: the rescaled symmetric normalised Laplacian
  ``2 L / lambda_max - I`` of the *weighted* level graph (see
  :func:`pose2mesh.graph.cheb.rescaled_laplacian`), ``lambda_max`` its largest
  eigenvalue computed per level. Stored as COO arrays: ``laplacian_indices``
  ``(2, nnz)`` int64 sorted row-major (edges + the full diagonal) and
  ``laplacian_values`` ``(nnz,)`` float32.
* ``cluster[l]``: ``(V_l,)`` int64, fine node at level ``l`` -> coarse node at
  level ``l + 1``; a surjection onto ``0 .. V_{l+1} - 1`` with clusters of 1
  or 2 members.
* Sparse tensors returned by the methods are coalesced ``torch.sparse_coo``.

Coarsening (heavy-edge / graclus-like matching, no fake nodes)
--------------------------------------------------------------
At each level the nodes are visited in ascending (weighted degree, index)
order. An unmatched node ``i`` is matched with the unmatched neighbour ``j``
maximising the normalised-cut weight ``w_ij (1/d_i + 1/d_j)`` (ties -> the
smaller ``j``); a node with no unmatched neighbour stays a singleton. Level-0
edge weights are 1 per distinct mesh edge, so every weight and degree is an
integer and the scores are compared *exactly* with integer cross
multiplication: no floating-point rounding, no random numbers, no unstable
sort, no hash/set ordering enters the structure. The result is a pure
function of the mesh's edge set (face order and the vertex order inside a
face do not matter).
"""
from __future__ import annotations

import hashlib
import logging
import os
import zipfile
import zlib
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import scipy.sparse
import torch
from torch import Tensor

from pose2mesh._assets import write_npz
from pose2mesh.graph.cheb import laplacian_lambda_max, normalized_laplacian, rescaled_laplacian

__all__ = ["HierarchyLevel", "MeshHierarchy", "build_hierarchy", "load_hierarchy", "hierarchy_summary"]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_HASH_TAG = b"pose2mesh.MeshHierarchy/v1\0"

PathLike = Union[str, "os.PathLike[str]"]


def _frozen(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A C-contiguous, little-endian, read-only copy with an exact dtype."""
    out = np.array(arr, dtype=np.dtype(dtype).newbyteorder("<"), order="C", copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class HierarchyLevel:
    """One graph of a :class:`MeshHierarchy`.

    Attributes:
        num_nodes: ``V``.
        edge_index: ``(2, E)`` int64, both directions, sorted by (row, col).
        edge_weight: ``(E,)`` int64, number of level-0 mesh edges between the clusters.
        laplacian_indices: ``(2, nnz)`` int64, row-major, edges + full diagonal.
        laplacian_values: ``(nnz,)`` float32, entries of ``2 L / lambda_max - I``.
        lambda_max: largest eigenvalue of the normalised Laplacian ``L`` of this level.
    """

    num_nodes: int
    edge_index: np.ndarray
    edge_weight: np.ndarray
    laplacian_indices: np.ndarray
    laplacian_values: np.ndarray
    lambda_max: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "num_nodes", int(self.num_nodes))
        object.__setattr__(self, "lambda_max", float(self.lambda_max))
        for name, dtype in (
            ("edge_index", np.int64),
            ("edge_weight", np.int64),
            ("laplacian_indices", np.int64),
            ("laplacian_values", np.float32),
        ):
            object.__setattr__(self, name, _frozen(getattr(self, name), dtype))
        v, e = self.num_nodes, self.edge_weight.shape[0]
        if self.edge_index.shape != (2, e):
            raise ValueError(f"edge_index has shape {self.edge_index.shape}, expected (2, {e})")
        if e and (self.edge_index.min() < 0 or self.edge_index.max() >= v):
            raise ValueError(f"edge_index has node ids outside [0, {v})")
        nnz = self.laplacian_values.shape[0]
        if self.laplacian_indices.shape != (2, nnz):
            raise ValueError(f"laplacian_indices has shape {self.laplacian_indices.shape}, expected (2, {nnz})")

    @property
    def num_edges(self) -> int:
        """Number of undirected edges (``E / 2``)."""
        return self.edge_index.shape[1] // 2


@dataclass(frozen=True, eq=False)
class MeshHierarchy:
    """A mesh pooling hierarchy: per-level graphs and the cluster maps between them.

    Attributes:
        levels: ``num_levels + 1`` :class:`HierarchyLevel` s, level 0 = the mesh.
        clusters: ``num_levels`` int64 arrays; ``clusters[l]`` has shape
            ``(V_l,)`` and maps a node of level ``l`` to its node at level ``l + 1``.

    Equality (``==``) compares every array exactly (dtype, shape and bytes).
    """

    levels: Tuple[HierarchyLevel, ...]
    clusters: Tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))
        object.__setattr__(self, "clusters", tuple(_frozen(c, np.int64) for c in self.clusters))
        if not self.levels:
            raise ValueError("a hierarchy needs at least one level")
        if len(self.clusters) != len(self.levels) - 1:
            raise ValueError(
                f"{len(self.levels)} levels need {len(self.levels) - 1} cluster maps, got {len(self.clusters)}"
            )
        for l, c in enumerate(self.clusters):
            v_fine, v_coarse = self.levels[l].num_nodes, self.levels[l + 1].num_nodes
            if c.shape != (v_fine,):
                raise ValueError(f"clusters[{l}] has shape {c.shape}, expected ({v_fine},)")
            if v_fine and (c.min() < 0 or c.max() >= v_coarse):
                raise ValueError(f"clusters[{l}] has ids outside [0, {v_coarse})")
            if np.bincount(c, minlength=v_coarse).min(initial=1) == 0:
                raise ValueError(f"clusters[{l}] is not onto the {v_coarse} nodes of level {l + 1}")

    # ------------------------------------------------------------------ access
    @property
    def num_levels(self) -> int:
        """Number of coarsening steps (``len(levels) - 1``), as passed to :func:`build_hierarchy`."""
        return len(self.clusters)

    @property
    def num_nodes(self) -> Tuple[int, ...]:
        """``V_l`` for every level ``l = 0 .. num_levels``."""
        return tuple(level.num_nodes for level in self.levels)

    def _check_level(self, l: int, coarse_step: bool = False) -> None:
        top = self.num_levels - 1 if coarse_step else self.num_levels
        if not isinstance(l, (int, np.integer)) or not 0 <= l <= top:
            what = "a pooling step" if coarse_step else "a level"
            raise ValueError(f"{what} index must be in [0, {top}], got {l!r}")

    def laplacian_tensor(
        self, l: int, device: Optional[Union[str, torch.device]] = None, dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """Rescaled Laplacian of level ``l`` as a coalesced sparse COO tensor ``(V_l, V_l)``.

        The values are stored in float32; ``dtype=torch.float64`` widens them
        (it does not recompute them).
        """
        self._check_level(l)
        level = self.levels[l]
        v = level.num_nodes
        return torch.sparse_coo_tensor(
            torch.from_numpy(level.laplacian_indices.copy()),
            torch.from_numpy(level.laplacian_values.copy()).to(dtype),
            (v, v),
            is_coalesced=True,
            check_invariants=True,
        ).to(device)

    def pool_matrix(
        self, l: int, device: Optional[Union[str, torch.device]] = None, dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """Mean pooling from level ``l`` to ``l + 1``: sparse COO ``(V_{l+1}, V_l)``.

        ``P[c, i] = 1 / |c|`` if fine node ``i`` belongs to cluster ``c``, so
        ``P @ x`` averages each cluster's members (``x``: ``(V_l, F)``).
        """
        self._check_level(l, coarse_step=True)
        cluster = self.clusters[l]
        v_fine, v_coarse = self.levels[l].num_nodes, self.levels[l + 1].num_nodes
        fine = np.arange(v_fine, dtype=np.int64)
        order = np.lexsort((fine, cluster))  # row-major (cluster, fine index)
        size = np.bincount(cluster, minlength=v_coarse).astype(np.float64)
        values = torch.from_numpy(1.0 / size[cluster[order]]).to(dtype)
        indices = torch.from_numpy(np.stack([cluster[order], fine[order]]))
        return torch.sparse_coo_tensor(
            indices, values, (v_coarse, v_fine), is_coalesced=True, check_invariants=True
        ).to(device)

    def unpool_matrix(
        self, l: int, device: Optional[Union[str, torch.device]] = None, dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """Unpooling from level ``l + 1`` to ``l``: sparse COO ``(V_l, V_{l+1})``.

        ``U[i, c] = 1`` if fine node ``i`` belongs to cluster ``c``: every member
        receives a copy of its cluster's value. ``pool_matrix(l) @ unpool_matrix(l)``
        is the identity of level ``l + 1``.
        """
        self._check_level(l, coarse_step=True)
        cluster = self.clusters[l]
        v_fine, v_coarse = self.levels[l].num_nodes, self.levels[l + 1].num_nodes
        indices = torch.from_numpy(np.stack([np.arange(v_fine, dtype=np.int64), cluster]))
        values = torch.ones(v_fine, dtype=dtype)
        return torch.sparse_coo_tensor(
            indices, values, (v_fine, v_coarse), is_coalesced=True, check_invariants=True
        ).to(device)

    # ------------------------------------------------------- arrays and hashing
    def to_arrays(self) -> Dict[str, np.ndarray]:
        """All arrays in the fixed key order used by :meth:`save` and :meth:`content_hash`.

        Keys: ``format_version`` (int64 scalar), ``num_nodes`` ``(n+1,)`` int64,
        ``lambda_max`` ``(n+1,)`` float64, then per level ``l``:
        ``level{l}_edge_index``, ``level{l}_edge_weight``,
        ``level{l}_laplacian_indices``, ``level{l}_laplacian_values``, and
        per step ``cluster{l}``.
        """
        out: Dict[str, np.ndarray] = {
            "format_version": _frozen(np.array(FORMAT_VERSION), np.int64),
            "num_nodes": _frozen(np.array(self.num_nodes), np.int64),
            "lambda_max": _frozen(np.array([lv.lambda_max for lv in self.levels]), np.float64),
        }
        for l, level in enumerate(self.levels):
            out[f"level{l}_edge_index"] = level.edge_index
            out[f"level{l}_edge_weight"] = level.edge_weight
            out[f"level{l}_laplacian_indices"] = level.laplacian_indices
            out[f"level{l}_laplacian_values"] = level.laplacian_values
        for l, cluster in enumerate(self.clusters):
            out[f"cluster{l}"] = cluster
        return out

    def content_hash(self) -> str:
        """SHA-256 (hex) over the arrays of :meth:`to_arrays`, in its fixed key order.

        Each array contributes its key, dtype string, shape, byte length and
        C-order little-endian bytes, so the hash changes with any value,
        dtype or shape change.
        """
        return _hash_arrays(self.to_arrays())

    def structure_hash(self) -> str:
        """SHA-256 (hex) over the integer arrays only (sizes, edges, edge weights, clusters).

        These are computed with exact integer arithmetic, so this hash is the
        same on every platform. ``lambda_max`` and the Laplacian values are
        floats from LAPACK/ARPACK and may differ in the last bits between
        builds; compare them with a tolerance when checking a rebuild made
        elsewhere against a shipped file.
        """
        arrays = self.to_arrays()
        return _hash_arrays({k: a for k, a in arrays.items() if a.dtype.kind == "i"})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MeshHierarchy):
            return NotImplemented
        a, b = self.to_arrays(), other.to_arrays()
        return list(a) == list(b) and all(
            a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes() for k in a
        )

    __hash__ = None  # mutable-free but array-valued: compare with ==, do not hash

    def __repr__(self) -> str:
        return f"MeshHierarchy(num_levels={self.num_levels}, num_nodes={list(self.num_nodes)})"

    # ------------------------------------------------------------ persistence
    def save(self, path: PathLike) -> str:
        """Write the hierarchy to a single ``.npz`` file; returns the content hash.

        The file is a standard npz (read it with ``np.load(path,
        allow_pickle=False)``): every array of :meth:`to_arrays` plus
        ``content_hash`` (a ``<U64`` hex string). Members are written in the
        fixed key order with a fixed timestamp, so the file bytes depend
        only on the content (``np.savez`` would stamp the current time).
        No object arrays, no pickling.
        """
        arrays = self.to_arrays()
        digest = _hash_arrays(arrays)
        arrays["content_hash"] = np.array(digest, dtype="<U64")
        write_npz(path, arrays)
        logger.debug("saved mesh hierarchy %s to %s", digest[:12], os.fspath(path))
        return digest

    @classmethod
    def load(cls, path: PathLike) -> "MeshHierarchy":
        """Read a file written by :meth:`save`, checking its content hash.

        Raises:
            FileNotFoundError: if ``path`` does not exist.
            ValueError: if a key is missing or unexpected, a dtype is wrong, or
                the recomputed content hash differs from the stored one (the
                file is corrupt or was edited).
        """
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"mesh hierarchy file '{path}' not found; build one with "
                "pose2mesh.graph.build_hierarchy(faces, num_vertices, num_levels).save(path)"
            )
        try:
            with np.load(path, allow_pickle=False) as z:
                stored = {k: z[k] for k in z.files}
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as err:
            raise ValueError(f"'{path}' is corrupt or was edited: cannot read it as an npz ({err})") from err
        if "content_hash" not in stored or "format_version" not in stored or "num_nodes" not in stored:
            raise ValueError(
                f"'{path}' is not a pose2mesh mesh hierarchy (missing content_hash/format_version/num_nodes)"
            )
        version = int(stored["format_version"])
        if version != FORMAT_VERSION:
            raise ValueError(f"'{path}' has hierarchy format version {version}; this pose2mesh reads {FORMAT_VERSION}")
        expected_hash = str(stored.pop("content_hash"))
        num_nodes = stored["num_nodes"]
        n_graphs = int(num_nodes.shape[0]) if num_nodes.ndim == 1 else 0
        expected = _expected_dtypes(n_graphs)
        missing = [k for k in expected if k not in stored]
        extra = [k for k in stored if k not in expected]
        if n_graphs == 0 or missing or extra:
            raise ValueError(f"'{path}' is corrupt or was edited: missing keys {missing}, unexpected keys {extra}")
        for key, dtype in expected.items():
            if stored[key].dtype != dtype:
                raise ValueError(
                    f"'{path}' is corrupt or was edited: '{key}' has dtype {stored[key].dtype}, expected {dtype}"
                )
        arrays = {k: stored[k] for k in expected}  # the fixed key order
        actual_hash = _hash_arrays(arrays)
        if actual_hash != expected_hash:
            raise ValueError(
                f"'{path}' is corrupt or was edited: content hash {actual_hash} does not match "
                f"the stored {expected_hash}; rebuild it with build_hierarchy(...).save(path)"
            )
        lam = arrays["lambda_max"]
        levels = [
            HierarchyLevel(
                num_nodes=int(num_nodes[l]),
                edge_index=arrays[f"level{l}_edge_index"],
                edge_weight=arrays[f"level{l}_edge_weight"],
                laplacian_indices=arrays[f"level{l}_laplacian_indices"],
                laplacian_values=arrays[f"level{l}_laplacian_values"],
                lambda_max=float(lam[l]),
            )
            for l in range(n_graphs)
        ]
        clusters = [arrays[f"cluster{l}"] for l in range(n_graphs - 1)]
        return cls(levels=tuple(levels), clusters=tuple(clusters))


def load_hierarchy(path: PathLike) -> MeshHierarchy:
    """Load a :class:`MeshHierarchy` saved with :meth:`MeshHierarchy.save` (hash-checked)."""
    return MeshHierarchy.load(path)


def _expected_dtypes(n_graphs: int) -> Dict[str, np.dtype]:
    i8, f8, f4 = np.dtype("<i8"), np.dtype("<f8"), np.dtype("<f4")
    out = {"format_version": i8, "num_nodes": i8, "lambda_max": f8}
    for l in range(n_graphs):
        out[f"level{l}_edge_index"] = i8
        out[f"level{l}_edge_weight"] = i8
        out[f"level{l}_laplacian_indices"] = i8
        out[f"level{l}_laplacian_values"] = f4
    for l in range(max(n_graphs - 1, 0)):
        out[f"cluster{l}"] = i8
    return out


def _hash_arrays(arrays: Dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(_HASH_TAG)
    for key, arr in arrays.items():
        arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
        data = arr.tobytes(order="C")
        header = f"{key}\0{arr.dtype.str}\0{arr.shape}\0{len(data)}\0".encode("ascii")
        h.update(header)
        h.update(data)
    return h.hexdigest()


# --------------------------------------------------------------------- build
def _mesh_edges(faces: np.ndarray, num_vertices: int) -> np.ndarray:
    """Distinct undirected mesh edges ``(M, 2)`` with ``i < j``, sorted."""
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must have shape (F, 3), got {faces.shape}")
    if faces.size and not np.issubdtype(faces.dtype, np.integer):
        raise ValueError(f"faces must be an integer array, got dtype {faces.dtype}")
    faces = faces.astype(np.int64)
    if faces.size and (faces.min() < 0 or faces.max() >= num_vertices):
        raise ValueError(f"faces reference vertices outside [0, {num_vertices})")
    pairs = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    pairs = np.sort(pairs, axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]  # degenerate faces give no self loops
    return np.unique(pairs, axis=0)  # sorted lexicographically, duplicates merged


def _match(adj: scipy.sparse.csr_matrix) -> np.ndarray:
    """One heavy-edge matching step; returns the cluster map ``(V,)`` int64.

    ``adj``: symmetric CSR with positive int64 weights, sorted indices, no diagonal.
    """
    n = adj.shape[0]
    indptr = adj.indptr.tolist()
    nbrs = adj.indices.tolist()
    wts = adj.data.astype(np.int64).tolist()  # exact Python ints
    degree = np.asarray(adj.sum(axis=1), dtype=np.int64).ravel()
    deg = degree.tolist()
    # Visit order: ascending weighted degree, then ascending index. lexsort is
    # a stable sort on explicit keys (last key primary): no tie is left to the
    # sort algorithm.
    order = np.lexsort((np.arange(n, dtype=np.int64), degree)).tolist()
    mate = [-1] * n
    for i in order:
        if mate[i] >= 0:
            continue
        di = deg[i]
        best, best_num, best_den = -1, 0, 1
        for p in range(indptr[i], indptr[i + 1]):
            j = nbrs[p]
            if mate[j] >= 0:
                continue
            # score_j = w_ij (1/d_i + 1/d_j) = w_ij (d_i + d_j) / (d_i d_j); for
            # a fixed i compare num/den = w_ij (d_i + d_j) / d_j exactly by
            # cross multiplication of integers.
            num, den = wts[p] * (di + deg[j]), deg[j]
            lhs, rhs = num * best_den, best_num * den
            if best < 0 or lhs > rhs or (lhs == rhs and j < best):
                best, best_num, best_den = j, num, den
        if best >= 0:
            mate[i], mate[best] = best, i
    idx = np.arange(n, dtype=np.int64)
    mate_arr = np.asarray(mate, dtype=np.int64)
    representative = np.where(mate_arr >= 0, np.minimum(idx, mate_arr), idx)
    # Number clusters by their smallest member (np.unique sorts).
    _, cluster = np.unique(representative, return_inverse=True)
    return cluster.astype(np.int64).reshape(n)


def _coarsen(adj: scipy.sparse.csr_matrix, cluster: np.ndarray, num_coarse: int) -> scipy.sparse.csr_matrix:
    """Coarse adjacency: clusters joined if any members were, weights summed, no self loops."""
    coo = adj.tocoo()
    row, col = cluster[coo.row], cluster[coo.col]
    keep = row != col
    out = scipy.sparse.csr_matrix(
        (coo.data[keep].astype(np.int64), (row[keep], col[keep])), shape=(num_coarse, num_coarse), dtype=np.int64
    )
    out.sum_duplicates()  # integer sums: exact and independent of summation order
    out.sort_indices()
    return out


def _make_level(adj: scipy.sparse.csr_matrix) -> HierarchyLevel:
    n = adj.shape[0]
    coo = adj.tocoo()
    order = np.lexsort((coo.col, coo.row))
    edge_index = np.stack([coo.row[order], coo.col[order]]).astype(np.int64)
    edge_weight = coo.data[order].astype(np.int64)
    adj_f = scipy.sparse.csr_matrix(adj, dtype=np.float64)
    lam = laplacian_lambda_max(normalized_laplacian(adj_f, n))
    if lam <= 0.0:  # no edges at all: L = I
        lam = 1.0
    lap = rescaled_laplacian(adj_f, n, lambda_max=lam, dtype=torch.float32)
    return HierarchyLevel(
        num_nodes=n,
        edge_index=edge_index,
        edge_weight=edge_weight,
        laplacian_indices=lap.indices().numpy(),
        laplacian_values=lap.values().numpy(),
        lambda_max=lam,
    )


def build_hierarchy(faces: np.ndarray, num_vertices: int, num_levels: int) -> MeshHierarchy:
    """Coarsen a triangle mesh into a deterministic pooling hierarchy.

    Each step is a heavy-edge matching (see the module docstring): roughly
    halves the node count (the shipped body's 12272 vertices -> 6479 -> 3434
    -> 1815 -> 965 -> 512 -> 271 -> 143 after 7 steps). Vertices used by no
    face are isolated nodes and stay singletons.

    Args:
        faces: ``(F, 3)`` integer vertex indices; only the set of edges matters.
        num_vertices: ``V_0``.
        num_levels: number of coarsening steps ``n >= 0``; the hierarchy holds
            ``n + 1`` graphs.

    Returns:
        The :class:`MeshHierarchy`; a pure function of the mesh's edge set.
    """
    if not isinstance(num_vertices, (int, np.integer)) or num_vertices < 1:
        raise ValueError(f"num_vertices must be a positive int, got {num_vertices!r}")
    if not isinstance(num_levels, (int, np.integer)) or num_levels < 0:
        raise ValueError(f"num_levels must be a non-negative int, got {num_levels!r}")
    num_vertices = int(num_vertices)
    edges = _mesh_edges(faces, num_vertices)
    row = np.concatenate([edges[:, 0], edges[:, 1]])
    col = np.concatenate([edges[:, 1], edges[:, 0]])
    adj = scipy.sparse.csr_matrix(
        (np.ones(row.size, dtype=np.int64), (row, col)), shape=(num_vertices, num_vertices), dtype=np.int64
    )
    adj.sort_indices()
    isolated = int((np.diff(adj.indptr) == 0).sum())
    if isolated:
        logger.warning("%d of %d vertices belong to no face; they stay singleton nodes", isolated, num_vertices)
    levels: List[HierarchyLevel] = [_make_level(adj)]
    clusters: List[np.ndarray] = []
    for l in range(int(num_levels)):
        cluster = _match(adj)
        num_coarse = int(cluster.max()) + 1 if cluster.size else 0
        adj = _coarsen(adj, cluster, num_coarse)
        clusters.append(cluster)
        levels.append(_make_level(adj))
        logger.debug("level %d: %d -> %d nodes, %d edges", l + 1, cluster.size, num_coarse, adj.nnz // 2)
    return MeshHierarchy(levels=tuple(levels), clusters=tuple(clusters))


def hierarchy_summary(h: MeshHierarchy) -> str:
    """A plain-text table of level sizes, edge counts, lambda_max and pooling ratios."""
    lines = [f"{h!r}, content hash {h.content_hash()[:16]}", "level    nodes    edges  lambda_max  ratio  singletons"]
    for l, level in enumerate(h.levels):
        if l == 0:
            ratio, singles = "     -", "         -"
        else:
            sizes = np.bincount(h.clusters[l - 1], minlength=level.num_nodes)
            ratio = f"{level.num_nodes / h.levels[l - 1].num_nodes:6.3f}"
            singles = f"{int((sizes == 1).sum()):10d}"
        lines.append(f"{l:5d} {level.num_nodes:8d} {level.num_edges:8d} {level.lambda_max:11.6f} {ratio} {singles}")
    return "\n".join(lines)
