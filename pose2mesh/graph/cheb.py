"""Chebyshev graph convolution on batches of graphs that share one topology.

Conventions
-----------
* Node order: node ``i`` of a feature tensor ``x[..., i, :]`` is row/column
  ``i`` of the Laplacian. Every graph in a batch has the same topology (the
  body mesh or one of its coarse levels), so one ``(V, V)`` Laplacian serves
  the whole batch.
* Features: ``(B, V, F)`` (batch, node, channel), or ``(V, F)`` for one graph;
  with ``batch_first=False``, node-major ``(V, B, F)``, the layout the sparse
  products work in (a network that keeps it saves two copies per layer).
* Sparse layout: :func:`rescaled_laplacian` returns a **coalesced
  ``torch.sparse_coo`` tensor** (indices sorted row-major, duplicates summed,
  the diagonal always stored explicitly, even where it is zero). COO is
  chosen because it moves with ``.to(device)``, is saved in a ``state_dict``
  as a buffer and supports autograd through ``torch.mm`` on every backend.
  :func:`cheb_conv` also accepts a ``sparse_csr`` or a dense ``(V, V)``
  tensor, and on the CPU converts a COO Laplacian to CSR internally for the
  products (faster kernel; see ``_as_csr``).
* Batching: on the CPU the batch is processed in chunks of about
  ``_CPU_CHUNK_ELEMENTS`` elements per ``(V, chunk*F)`` term (cache-sized);
  results do not depend on the chunking beyond float rounding.
* Graph: undirected, no self loops (they are dropped), symmetric
  normalisation ``L = I - D^-1/2 A D^-1/2``; an isolated node (degree 0) gets
  ``L_ii = 1`` and a zero row otherwise, as in PyG's ``get_laplacian``.
* Rescaling: ``L_hat = 2 L / lambda_max - I``, which maps the spectrum of ``L``
  (inside ``[0, lambda_max]``) onto ``[-1, 1]``, the domain where Chebyshev
  polynomials are bounded. (The official Pose2Mesh code computed
  ``L / (2 lambda_max) - I``, whose spectrum is ``[-1, -0.5]``; do not copy it.)
* ``weight[k]`` of shape ``(F_in, F_out)`` multiplies the order-``k``
  Chebyshev term; PyG's ``ChebConv.lins[k].weight`` is ``weight[k].T``.
"""
from __future__ import annotations

import logging
import math
import warnings
from typing import Optional, Union

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch
from torch import Tensor, nn
from torch.utils.weak import WeakIdKeyDictionary

__all__ = [
    "normalized_laplacian",
    "laplacian_lambda_max",
    "rescaled_laplacian",
    "cheb_conv",
    "ChebConv",
]

logger = logging.getLogger(__name__)

GraphInput = Union[Tensor, np.ndarray, scipy.sparse.spmatrix, scipy.sparse.sparray]

# Below this many nodes the largest eigenvalue is taken from a dense
# ``eigvalsh`` (exact and cheap); above it from ARPACK's Lanczos (``eigsh``).
_DENSE_EIG_MAX_NODES = 256
# Seed of the fixed ARPACK start vector ``v0``, which makes the result a pure
# function of the graph. A vector of ones is NOT used: on a regular graph it
# is the eigenvector of eigenvalue 0 and Lanczos would never leave that
# invariant subspace.
_EIGSH_V0_SEED = 0

# Elements of one (V, chunk*F) Chebyshev term per CPU chunk: 2^20 float32 =
# 4 MB, so the K terms, their stack and the output of a chunk (about 28 MB for
# K = 3) fit in a server L3 cache. From measurements on a 2-thread AMD EPYC
# with B = 64, F = 64 (docs/graph.md): the fastest chunk had V*chunk between
# 3.4k and 14k nodes for V = 210 .. 13.7k. Not smaller, because many small
# chunks mean many short parallel regions, which degrade badly when other
# processes compete for the cores.
_CPU_CHUNK_ELEMENTS = 1 << 20


def _adjacency(graph: GraphInput, num_nodes: int) -> scipy.sparse.csr_matrix:
    """Symmetric float64 adjacency ``(V, V)`` without self loops, as scipy CSR."""
    if not isinstance(num_nodes, (int, np.integer)) or num_nodes < 0:
        raise ValueError(f"num_nodes must be a non-negative int, got {num_nodes!r}")
    num_nodes = int(num_nodes)
    if isinstance(graph, Tensor) and graph.layout != torch.strided:
        # torch sparse (COO/CSR/...) -> scipy COO without densifying.
        coo = graph.detach().to_sparse_coo().coalesce().cpu()
        idx = coo.indices().numpy()
        graph = scipy.sparse.coo_matrix(
            (coo.values().double().numpy(), (idx[0], idx[1])), shape=tuple(coo.shape)
        )
    if scipy.sparse.issparse(graph):
        adj = scipy.sparse.csr_matrix(graph, dtype=np.float64)
        kind = "adjacency"
    else:
        arr = graph.detach().cpu().numpy() if isinstance(graph, Tensor) else np.asarray(graph)
        if np.issubdtype(arr.dtype, np.integer):
            # (2, E) edge index: unit weight for each distinct undirected edge.
            if arr.ndim != 2 or arr.shape[0] != 2:
                raise ValueError(
                    f"an integer graph input is read as an edge index and must have shape (2, E), got {arr.shape}"
                )
            if arr.size and (arr.min() < 0 or arr.max() >= num_nodes):
                raise ValueError(f"edge index has node ids outside [0, {num_nodes})")
            row, col = arr.astype(np.int64)
            keep = row != col
            row, col = row[keep], col[keep]
            ones = np.ones(2 * row.size, dtype=np.float64)
            adj = scipy.sparse.csr_matrix(
                (ones, (np.concatenate([row, col]), np.concatenate([col, row]))), shape=(num_nodes, num_nodes)
            )
            adj.sum_duplicates()
            adj.data[:] = 1.0  # an edge listed twice (or in both directions) still has weight 1
            return adj
        if arr.dtype == bool or np.issubdtype(arr.dtype, np.floating):
            adj = scipy.sparse.csr_matrix(arr.astype(np.float64))
            kind = "adjacency"
        else:
            raise ValueError(
                f"unsupported graph input dtype {arr.dtype}; pass an int (2, E) edge index or a float adjacency"
            )
    if adj.shape != (num_nodes, num_nodes):
        raise ValueError(f"{kind} has shape {adj.shape}, expected ({num_nodes}, {num_nodes})")
    coo = adj.tocoo()
    keep = (coo.row != coo.col) & (coo.data != 0)  # drop self loops and explicit zeros
    adj = scipy.sparse.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=adj.shape)
    adj.sum_duplicates()
    if not np.isfinite(adj.data).all():  # NaN passes the checks below and would drop the edge
        raise ValueError("adjacency weights must be finite (got NaN or inf)")
    if adj.nnz and adj.data.min() < 0:
        raise ValueError("adjacency weights must be non-negative")
    asym = abs(adj - adj.T).max() if adj.nnz else 0.0
    if asym > 1e-12 * (adj.data.max() if adj.nnz else 1.0):
        raise ValueError("adjacency must be symmetric (the graph is undirected)")
    return adj


def normalized_laplacian(graph: GraphInput, num_nodes: int) -> scipy.sparse.csr_matrix:
    """Symmetric normalised Laplacian ``L = I - D^-1/2 A D^-1/2`` in float64 (scipy CSR).

    Args:
        graph: an integer edge index ``(2, E)`` (each distinct undirected edge
            gets weight 1; the direction and repetitions are ignored), or a
            weighted symmetric adjacency ``(V, V)`` (scipy sparse, torch
            sparse, or a float/bool dense array or tensor). Self loops are
            dropped.
        num_nodes: ``V``.

    Returns:
        ``(V, V)`` float64 CSR matrix with sorted indices. Isolated nodes get
        ``L_ii = 1`` (their ``D^-1/2`` is taken as 0, never ``inf``).
    """
    adj = _adjacency(graph, num_nodes)
    deg = np.asarray(adj.sum(axis=1)).ravel()
    with np.errstate(divide="ignore"):
        dinv = np.where(deg > 0, 1.0 / np.sqrt(deg), 0.0)
    d = scipy.sparse.diags(dinv)
    norm_adj = d @ adj @ d
    # (dinv_i * w) * dinv_j and (dinv_j * w) * dinv_i may differ in the last
    # bit; averaging with the transpose makes L exactly symmetric.
    norm_adj = 0.5 * (norm_adj + norm_adj.T)
    lap = scipy.sparse.csr_matrix(scipy.sparse.identity(adj.shape[0], dtype=np.float64, format="csr") - norm_adj)
    lap.sum_duplicates()
    lap.sort_indices()
    return lap


def laplacian_lambda_max(laplacian: scipy.sparse.spmatrix) -> float:
    """Largest eigenvalue of a symmetric (normalised) Laplacian, deterministically.

    Small matrices (``V <= 256``) use a dense ``numpy.linalg.eigvalsh``;
    larger ones ARPACK ``eigsh(k=1, which='LA')`` with a fixed start vector
    (seeded, so the result is a pure function of the matrix) and machine
    precision tolerance.

    Args:
        laplacian: ``(V, V)`` symmetric matrix (scipy sparse or dense).

    Returns:
        ``lambda_max`` as a Python float (``0.0`` for an empty graph).
    """
    n = laplacian.shape[0]
    if n == 0:
        return 0.0
    if n <= _DENSE_EIG_MAX_NODES:
        dense = laplacian.toarray() if scipy.sparse.issparse(laplacian) else np.asarray(laplacian)
        return float(np.linalg.eigvalsh(dense.astype(np.float64))[-1])
    v0 = np.random.default_rng(_EIGSH_V0_SEED).standard_normal(n)
    vals = scipy.sparse.linalg.eigsh(
        scipy.sparse.csr_matrix(laplacian, dtype=np.float64), k=1, which="LA", v0=v0, tol=0.0,
        return_eigenvectors=False,
    )
    return float(vals[0])


def rescaled_laplacian(
    edge_index_or_adjacency: GraphInput,
    num_nodes: int,
    lambda_max: Optional[float] = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Rescaled symmetric normalised Laplacian ``L_hat = 2 L / lambda_max - I``.

    ``L = I - D^-1/2 A D^-1/2``. Computed in float64 and cast to ``dtype`` at
    the end.

    Args:
        edge_index_or_adjacency: integer edge index ``(2, E)`` (unit weights,
            undirected, duplicates and self loops ignored) or a weighted
            symmetric adjacency ``(V, V)`` (scipy sparse, torch sparse, or a
            float/bool dense array or tensor).
        num_nodes: ``V``.
        lambda_max: the largest eigenvalue of ``L`` to rescale with. ``None``
            computes it (see :func:`laplacian_lambda_max`); ``2.0`` is PyG's
            default for the symmetric normalisation (the spectral upper
            bound, no eigen-solve needed).
        dtype: floating dtype of the result.

    Returns:
        Coalesced ``torch.sparse_coo`` tensor ``(V, V)`` on the CPU, with the
        diagonal stored explicitly. Its spectrum lies in ``[-1, 1]`` when
        ``lambda_max`` is the true largest eigenvalue (or the bound 2).
    """
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    lap = normalized_laplacian(edge_index_or_adjacency, num_nodes)
    if lambda_max is None:
        lambda_max = laplacian_lambda_max(lap)
        if lambda_max <= 0.0:  # no edges at all: L = I, lambda_max = 1
            lambda_max = 1.0
    lambda_max = float(lambda_max)
    if not math.isfinite(lambda_max) or lambda_max <= 0.0:
        raise ValueError(f"lambda_max must be a positive finite number, got {lambda_max}")
    n = lap.shape[0]
    # L has a unit diagonal (self loops were dropped), so L_hat's diagonal is
    # 2 / lambda_max - 1 everywhere; it is stored explicitly even when it is
    # 0 (lambda_max = 2) so the sparsity pattern is always edges + diagonal.
    lap = lap.tocoo()
    off = lap.row != lap.col
    diag = np.arange(n, dtype=np.int64)
    row = np.concatenate([lap.row[off].astype(np.int64), diag])
    col = np.concatenate([lap.col[off].astype(np.int64), diag])
    val = np.concatenate([(2.0 / lambda_max) * lap.data[off], np.full(n, 2.0 / lambda_max - 1.0)])
    order = np.lexsort((col, row))  # row-major; (row, col) pairs are unique
    indices = torch.from_numpy(np.stack([row[order], col[order]]))
    values = torch.from_numpy(val[order]).to(dtype)
    return torch.sparse_coo_tensor(indices, values, (n, n), is_coalesced=True, check_invariants=True)


def _check_inputs(
    x: Tensor, laplacian: Tensor, weight: Tensor, bias: Optional[Tensor], batch_first: bool = True,
    node_index: Optional[Tensor] = None,
) -> None:
    if not isinstance(x, Tensor) or x.dim() not in (2, 3):
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        batched = "(B, V, F_in)" if batch_first else "(V, B, F_in)"
        raise ValueError(f"x must have shape {batched} or (V, F_in), got {shape}")
    if not isinstance(weight, Tensor) or weight.dim() != 3:
        shape = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"weight must have shape (K, F_in, F_out), got {shape}")
    if weight.shape[0] < 1:
        raise ValueError(f"the Chebyshev order K = weight.shape[0] must be >= 1, got {weight.shape[0]}")
    if weight.shape[1] != x.shape[-1]:
        raise ValueError(
            f"weight has F_in = {weight.shape[1]} (shape {tuple(weight.shape)}) but x has "
            f"{x.shape[-1]} channels (shape {tuple(x.shape)})"
        )
    if not isinstance(laplacian, Tensor) or laplacian.dim() != 2 or laplacian.shape[0] != laplacian.shape[1]:
        shape = tuple(laplacian.shape) if isinstance(laplacian, Tensor) else type(laplacian).__name__
        raise ValueError(f"laplacian must be a square (V, V) tensor, got {shape}")
    if laplacian.layout not in (torch.sparse_coo, torch.sparse_csr, torch.strided):
        raise ValueError(f"laplacian must be sparse COO, sparse CSR or dense, got layout {laplacian.layout}")
    v = x.shape[-2] if batch_first or x.dim() == 2 else x.shape[0]
    if node_index is not None:
        if not isinstance(node_index, Tensor) or node_index.dim() != 1 or node_index.dtype != torch.long:
            raise ValueError("node_index must be a 1-D int64 tensor")
        if node_index.device != x.device:
            raise ValueError(f"device mismatch: x on {x.device}, node_index on {node_index.device}")
        v = node_index.shape[0]
    if laplacian.shape[0] != v:
        raise ValueError(
            f"laplacian is {tuple(laplacian.shape)} but x has V = {v} nodes (shape {tuple(x.shape)}"
            + (", gathered by node_index)" if node_index is not None else ")")
        )
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != weight.shape[2]):
        raise ValueError(f"bias must have shape ({weight.shape[2]},) = (F_out,), got {tuple(bias.shape)}")
    if laplacian.dtype != x.dtype or weight.dtype != x.dtype:
        raise ValueError(
            f"dtype mismatch: x {x.dtype}, laplacian {laplacian.dtype}, weight {weight.dtype}; "
            "convert the module (e.g. .double()) or the Laplacian"
        )
    if laplacian.device != x.device or weight.device != x.device:
        raise ValueError(
            f"device mismatch: x on {x.device}, laplacian on {laplacian.device}, weight on {weight.device}"
        )


_csr_warning_consumed = False
# COO Laplacian -> (its _version when converted, CSR copy). Keyed by identity
# and held weakly, so an entry lives exactly as long as its COO tensor (a
# module buffer): .to() / .double() make a new tensor and thus a new entry.
_csr_cache = WeakIdKeyDictionary()


def _as_csr(laplacian: Tensor) -> Tensor:
    """COO -> CSR on the CPU for the sparse products (anything else is returned unchanged).

    On the CPU, torch's COO sparse @ dense kernel is the slower one: for a
    13.7k-node mesh Laplacian the CSR (MKL) kernel makes the whole forward
    pass 2.5x faster at B = 1 and forward + backward 1.45x faster, and is
    still ~5% ahead at B = 64 (``docs/graph.md``). COO stays the storage
    layout (robust as a module buffer, in a state_dict and across devices)
    and CSR is the compute layout. A Laplacian that requires grad is left as
    it is, and so is one on another device (measured on the CPU only).

    The CSR copy is cached per COO tensor (and invalidated by an in-place
    change, which bumps ``_version``): converting is O(nnz), but a network
    calls it once per convolution, and at batch 1 the conversions took
    ~0.4 ms of the default model's ~7 ms forward pass on one thread
    (docs/benchmarks.md).
    The copy is made outside inference mode, so a model first run under
    ``torch.inference_mode`` can still be trained afterwards.
    """
    global _csr_warning_consumed
    if laplacian.layout != torch.sparse_coo or laplacian.requires_grad or laplacian.device.type != "cpu":
        return laplacian
    hit = _csr_cache.get(laplacian)
    if hit is not None and hit[0] == laplacian._version:
        return hit[1]
    with torch.inference_mode(False):
        if _csr_warning_consumed:
            csr = laplacian.to_sparse_csr()
        else:
            # torch warns once per process that its CSR support is "beta"; here it is
            # an internal detail, not something the caller chose, so the first
            # conversion swallows it. (catch_warnings edits global state; doing it
            # only once keeps later, possibly multi-threaded, calls free of it.)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
                csr = laplacian.to_sparse_csr()
            _csr_warning_consumed = True
    _csr_cache[laplacian] = (laplacian._version, csr)
    return csr


def cheb_conv(
    x: Tensor,
    laplacian: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    batch_first: bool = True,
    node_index: Optional[Tensor] = None,
) -> Tensor:
    r"""Chebyshev spectral graph convolution (Defferrard et al. 2016) on a batch.

    .. math::
        T_0 = X,\quad T_1 = \hat L X,\quad T_k = 2 \hat L T_{k-1} - T_{k-2},\qquad
        Y = \sum_{k=0}^{K-1} T_k W_k + b

    Args:
        x: node features.
        laplacian: rescaled Laplacian ``L_hat`` (see :func:`rescaled_laplacian`),
            sparse COO, sparse CSR or dense; same dtype and device as ``x``.
        weight: ``(K, F_in, F_out)``, ``K >= 1``.
        bias: optional ``(F_out,)``.
        batch_first: ``x`` is ``(B, V, F_in)`` (default) or, if ``False``,
            node-major ``(V, B, F_in)``, the layout the products work in: a
            network that keeps its features node-major saves two copies of
            ``x`` per convolution (:class:`pose2mesh.models.MeshNet` does).
        node_index: optional ``(V,)`` int64 index: convolve ``x`` gathered at
            these nodes, i.e. ``X = x.index_select(node_dim, node_index)``,
            where ``x`` holds ``V_c`` nodes (an unpooling from a coarser level
            is such a gather). Node-major, the weights are then applied to the
            ``V_c`` rows of ``x`` before the gather: ``V_c / V`` of the dense
            work (see :func:`_cheb_conv_weights_first`).

    Shape:
        - x: :math:`(B, V, F_{in})`, :math:`(V, B, F_{in})` if not ``batch_first``, or :math:`(V, F_{in})`
          (:math:`V_c` instead of :math:`V` with ``node_index``)
        - laplacian: :math:`(V, V)`
        - weight: :math:`(K, F_{in}, F_{out})`
        - bias: :math:`(F_{out})`
        - node_index: :math:`(V)`, values in :math:`[0, V_c)`
        - output: :math:`(B, V, F_{out})`, :math:`(V, B, F_{out})` or :math:`(V, F_{out})` (as ``x``)

    Raises:
        ValueError: on a wrong shape, ``K = 0``, or a dtype/device mismatch.
    """
    _check_inputs(x, laplacian, weight, bias, batch_first, node_index)
    unbatched = x.dim() == 2
    if unbatched:
        x = x.unsqueeze(0)
        batch_first = True
    batch_dim = 0 if batch_first else 1
    if node_index is not None and batch_first:
        x = x.index_select(1, node_index)
        node_index = None
    b = x.shape[batch_dim]
    v, f_in = laplacian.shape[0], x.shape[-1]
    k_order, _, f_out = weight.shape
    if k_order > 1:
        laplacian = _as_csr(laplacian)

    # On the CPU, cut the batch into chunks whose (V, chunk*F) terms stay
    # about cache-sized (_CPU_CHUNK_ELEMENTS). The whole-batch layout is
    # memory-bound when V*B*F is large: at V = 13.7k, B = 64, F = 64 each
    # term is 224 MB, every call page-faults fresh allocations of that size
    # (glibc mmaps blocks above 32 MB) and streams them through DRAM; it
    # measured about 2x slower than per-graph chunks (1.5x with mmap
    # disabled). Coarse levels run several graphs per chunk, and a level of
    # a few hundred nodes the whole batch at once. Other devices: one chunk.
    chunk = b
    if x.device.type == "cpu":
        chunk = max(1, _CPU_CHUNK_ELEMENTS // max(1, v * max(f_in, f_out)))
    if chunk >= b:
        out = _cheb_conv_chunk(x, laplacian, weight, bias, batch_first, node_index)
    else:
        # split, not slicing: autograd then has one SplitBackward that
        # concatenates the chunk gradients, instead of one full-size zero
        # tensor per slice (O(B^2) memory traffic in the backward pass).
        out = torch.cat(
            [_cheb_conv_chunk(xc, laplacian, weight, bias, batch_first, node_index)
             for xc in x.split(chunk, dim=batch_dim)],
            dim=batch_dim,
        )
    return out.squeeze(0) if unbatched else out


def _cheb_conv_chunk(
    x: Tensor, laplacian: Tensor, weight: Tensor, bias: Optional[Tensor], batch_first: bool,
    node_index: Optional[Tensor],
) -> Tensor:
    """:func:`cheb_conv` on a (chunk of a) batch ``(b, V, F_in)`` / ``(V, b, F_in)``, inputs already checked.

    ``node_index`` is only passed node-major.
    """
    b = x.shape[0 if batch_first else 1]
    v, f_in = laplacian.shape[0], x.shape[-1]
    k_order, _, f_out = weight.shape
    # All graphs share one Laplacian, so instead of b small sparse products
    # (a Python loop) or a block-diagonal disjoint union (PyG: b times the
    # edges, gathered and scattered) lay the batch out as (V, b*F): each
    # Chebyshev order is then ONE sparse @ dense product with a wide
    # right-hand side, one kernel call whatever b is. Batch-first input is
    # permuted into it (one copy of x, none when b = 1); node-major input
    # already is it (no copy unless x is a chunk of a larger batch).
    rows = x.shape[1] if batch_first else x.shape[0]  # V, or V_c before a node_index gather
    t0 = (x.transpose(0, 1) if batch_first else x).reshape(rows, b * f_in).contiguous()
    if not batch_first and (node_index is not None or 1 < k_order and k_order * f_out <= f_in):
        return _cheb_conv_weights_first(t0, laplacian, weight, bias, b, node_index)
    terms = [t0]
    if k_order > 1:
        t1 = torch.mm(laplacian, t0)
        terms.append(t1)
        for _ in range(2, k_order):
            # T_k = 2 L T_{k-1} - T_{k-2} as one fused (sparse) addmm:
            # 1.6x (b*F = 64) to 2.5x (b*F = 4096) faster on a 13.7k-node
            # mesh than `2 * mm - t0`, which allocates and streams two more
            # (V, b*F) temporaries.
            t2 = torch.addmm(t0, laplacian, t1, beta=-1.0, alpha=2.0)
            terms.append(t2)
            t0, t1 = t1, t2

    if not batch_first:
        # Node-major: each term viewed as (V*b, F_in) is already the GEMM's
        # left operand, so sum_k T_k @ W_k is K GEMMs accumulating into one
        # (V*b, F_out) output in place; no copy of the terms at all. Measured
        # against the stacked single GEMM below (which needs a copy of the K
        # terms): equal at coarse levels, up to 2x faster at V = 3434, b = 9,
        # F = 32 -> 16 (docs/benchmarks.md).
        first = terms[0].view(v * b, f_in)
        out = torch.mm(first, weight[0]) if bias is None else torch.addmm(bias, first, weight[0])
        for k in range(1, k_order):
            out.addmm_(terms[k].view(v * b, f_in), weight[k])
        return out.view(v, b, f_out)
    # Batch-first: fuse the K weight products into a single GEMM: with the
    # terms stacked as (b, V, K, F_in) and flattened to (b*V, K*F_in),
    # sum_k T_k @ W_k == [T_0 | ... | T_{K-1}] @ W.reshape(K*F_in, F_out).
    # The stack is the only copy of the terms, and it also undoes the (V, b)
    # permutation (it reads (V, b, F) views transposed), so the GEMM writes a
    # contiguous (b, V, F_out) output directly, with no copy of the output.
    feats = torch.stack([t.view(v, b, f_in).transpose(0, 1) for t in terms], dim=2)
    feats = feats.view(b * v, k_order * f_in)
    w = weight.reshape(k_order * f_in, f_out)
    out = torch.addmm(bias, feats, w) if bias is not None else torch.mm(feats, w)
    return out.view(b, v, f_out)


def _cheb_conv_weights_first(
    t0: Tensor, laplacian: Tensor, weight: Tensor, bias: Optional[Tensor], b: int, node_index: Optional[Tensor]
) -> Tensor:
    r"""Node-major :func:`cheb_conv` with the weights first, then Clenshaw's recurrence.

    ``sum_k T_k(L) X W_k = sum_k T_k(L) Z_k`` with ``Z_k = X W_k`` (the weights
    act on the channels, the Laplacian and any gather on the nodes: they
    commute). All ``Z_k`` come from ONE GEMM, ``X @ [W_0 | ... | W_{K-1}]``,
    and Clenshaw's recurrence ``B_k = Z_k + 2 L B_{k+1} - B_{k+2}``,
    ``Y = Z_0 + L B_1 - B_2`` takes the same K - 1 sparse products as the
    Chebyshev recursion, on ``F_out`` columns instead of ``F_in``. Used

    * with ``node_index`` (``X = x[node_index]``, e.g. unpooled): the GEMM
      runs on the ``V_c`` coarse rows before the gather, about half the dense
      work of a convolution after an unpooling; measured 1.3-1.8x faster for
      the default MeshNet's first convolution at each level, except 32 -> 32
      channels (equal);
    * when ``K * F_out <= F_in`` (the xyz heads, 16 -> 3: 3x faster at 9
      graphs of 3434 nodes, 1.5x at one graph: K GEMMs with 3 output columns
      run far below peak). At 32 -> 16 without a gather it was 2.5x slower.

    ``t0``: ``(V_c, b * F_in)`` contiguous (``V_c = V`` without ``node_index``);
    returns ``(V, b, F_out)``. Timings in docs/benchmarks.md.
    """
    rows = t0.shape[0]
    v = laplacian.shape[0]
    k_order, f_in, f_out = weight.shape
    z = torch.mm(t0.view(rows * b, f_in), weight.permute(1, 0, 2).reshape(f_in, k_order * f_out))
    # (K, V_c, b, F_out): each Z_k a contiguous block, gathered row-wise
    z = z.view(rows, b, k_order, f_out).permute(2, 0, 1, 3).contiguous()
    terms = [(zk if node_index is None else zk.index_select(0, node_index)).view(v, b * f_out) for zk in z]
    out = terms[0]
    if k_order > 1:
        b1, b2 = terms[-1], None
        for k in range(k_order - 2, 0, -1):
            nxt = torch.addmm(terms[k], laplacian, b1, alpha=2.0)
            if b2 is not None:
                nxt = nxt - b2
            b1, b2 = nxt, b1
        out = torch.addmm(out, laplacian, b1)
        if b2 is not None:
            out = out - b2
    out = out.view(v, b, f_out)
    return out + bias if bias is not None else out


class ChebConv(nn.Module):
    r"""Chebyshev graph convolution layer; the Laplacian is passed to ``forward``.

    The layer holds only ``weight`` and ``bias``, so one class serves every
    level of a mesh hierarchy (the network keeps the per-level Laplacians as
    buffers). Numerically equal to ``torch_geometric.nn.ChebConv(in, out, K,
    normalization='sym')`` applied to the disjoint union of the batch, with
    ``lins[k].weight == weight[k].T``.

    Args:
        in_channels: ``F_in``.
        out_channels: ``F_out``.
        K: Chebyshev filter size (number of terms, polynomial degree ``K - 1``),
            ``K >= 1``.
        bias: learn an additive bias.

    Shape:
        - x: :math:`(B, V, F_{in})`, :math:`(V, B, F_{in})` with ``batch_first=False``, or :math:`(V, F_{in})`
        - laplacian: :math:`(V, V)` rescaled Laplacian, sparse or dense
        - output: :math:`(B, V, F_{out})`, :math:`(V, B, F_{out})` or :math:`(V, F_{out})`

    Example:
        >>> lap = rescaled_laplacian(torch.tensor([[0, 1], [1, 2]]), 3, lambda_max=2.0)
        >>> conv = ChebConv(16, 32, K=3)
        >>> conv(torch.randn(4, 3, 16), lap).shape
        torch.Size([4, 3, 32])
    """

    def __init__(self, in_channels: int, out_channels: int, K: int, bias: bool = True) -> None:
        super().__init__()
        if K < 1:
            raise ValueError(f"K must be >= 1, got {K}")
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"in_channels and out_channels must be >= 1, got {in_channels}, {out_channels}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.K = int(K)
        self.weight = nn.Parameter(torch.empty(self.K, self.in_channels, self.out_channels))
        if bias:
            self.bias = nn.Parameter(torch.empty(self.out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, generator: Optional[torch.Generator] = None) -> None:
        """Glorot-uniform weights (per order, as PyG), zero bias.

        Args:
            generator: optional ``torch.Generator`` for reproducible draws.
        """
        bound = math.sqrt(6.0 / (self.in_channels + self.out_channels))
        with torch.no_grad():
            self.weight.uniform_(-bound, bound, generator=generator)
            if self.bias is not None:
                self.bias.zero_()

    def forward(
        self, x: Tensor, laplacian: Tensor, batch_first: bool = True, node_index: Optional[Tensor] = None
    ) -> Tensor:
        """Apply the convolution; see :func:`cheb_conv` (``batch_first=False``: ``x`` is ``(V, B, F_in)``;
        ``node_index``: convolve ``x`` gathered at these nodes).

        Under autocast (mixed precision) the convolution runs in the weights'
        precision with autocast off: no sparse product has a bfloat16 kernel
        (CUDA's COO, the CPU's MKL CSR), and a float32 island keeps the
        Chebyshev recursion exact.  The output then has the weights' dtype."""
        if torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):
                return cheb_conv(x.to(self.weight.dtype), laplacian, self.weight, self.bias, batch_first, node_index)
        return cheb_conv(x, laplacian, self.weight, self.bias, batch_first, node_index)

    def __repr__(self) -> str:
        extra = "" if self.bias is not None else ", bias=False"
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, K={self.K}{extra})"
