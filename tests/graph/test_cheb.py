"""Tests of pose2mesh.graph.cheb: the rescaled Laplacian and the Chebyshev convolution.

The reference implementation is ``torch_geometric.nn.ChebConv(normalization='sym')``
(PyG >= 2.5), run on the disjoint union of the batch.
"""
import math

import numpy as np
import pytest
import scipy.sparse
import torch

import pose2mesh.graph as graph_api
from pose2mesh.graph import ChebConv, cheb_conv, rescaled_laplacian
import pose2mesh.graph.cheb as cheb_module
from pose2mesh.graph.cheb import laplacian_lambda_max, normalized_laplacian

pyg_nn = pytest.importorskip("torch_geometric.nn")
# CSR Laplacians are supported; torch warns that its CSR support is "beta".
pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta state:UserWarning")
pyg_utils = pytest.importorskip("torch_geometric.utils")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


@pytest.fixture(params=[torch.float32, torch.float64], ids=["f32", "f64"])
def dtype(request):
    return request.param


def random_graph(num_nodes: int, num_edges: int, num_isolated: int, seed: int) -> torch.Tensor:
    """Undirected, coalesced, self-loop-free edge index (2, E); ``num_isolated`` nodes get no edge.

    The isolated nodes are scattered over the index range by a seeded permutation.
    """
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(num_nodes, generator=g)
    active = perm[: num_nodes - num_isolated]
    ends = torch.randint(0, active.numel(), (2, num_edges), generator=g)
    edge_index = active[ends]
    edge_index, _ = pyg_utils.remove_self_loops(edge_index)
    edge_index = pyg_utils.to_undirected(edge_index, num_nodes=num_nodes)
    return edge_index


def disjoint_union(edge_index: torch.Tensor, num_nodes: int, batch: int) -> torch.Tensor:
    return torch.cat([edge_index + b * num_nodes for b in range(batch)], dim=1)


def pyg_copy(conv: ChebConv) -> "pyg_nn.ChebConv":
    """A PyG ChebConv with our weights: ``lins[k].weight = weight[k].T``, same bias."""
    ref = pyg_nn.ChebConv(conv.in_channels, conv.out_channels, conv.K, normalization="sym", bias=conv.bias is not None)
    with torch.no_grad():
        for k, lin in enumerate(ref.lins):
            lin.weight.copy_(conv.weight[k].T)
        if conv.bias is not None:
            ref.bias.copy_(conv.bias)
    return ref


def dense_reference(x, lap_dense, weight, bias):
    """Naive per-graph Chebyshev recursion with K separate products (float64 friendly)."""
    outs = []
    for xb in x:
        terms = [xb]
        if weight.shape[0] > 1:
            terms.append(lap_dense @ xb)
        for _ in range(2, weight.shape[0]):
            terms.append(2 * lap_dense @ terms[-1] - terms[-2])
        out = sum(t @ w for t, w in zip(terms, weight))
        outs.append(out + bias if bias is not None else out)
    return torch.stack(outs)


GRAPHS = [  # (num_nodes, num_edges, num_isolated, seed)
    (10, 15, 0, 0),
    (37, 60, 3, 1),
    (120, 300, 7, 2),
    (500, 1500, 20, 3),
]


# ----------------------------------------------------------------- PyG parity
@pytest.mark.parametrize("num_nodes,num_edges,num_isolated,seed", GRAPHS)
@pytest.mark.parametrize("K", [1, 2, 3, 5])
@pytest.mark.parametrize("batch", [1, 4])
def test_matches_pyg_with_lambda_max_2(num_nodes, num_edges, num_isolated, seed, K, batch):
    g = torch.Generator().manual_seed(100 + seed)
    edge_index = random_graph(num_nodes, num_edges, num_isolated, seed)
    conv = ChebConv(8, 5, K)
    conv.reset_parameters(generator=g)
    with torch.no_grad():
        conv.bias.copy_(torch.randn(5, generator=g))
    ref = pyg_copy(conv)
    x = torch.randn(batch, num_nodes, 8, generator=g)

    lap = rescaled_laplacian(edge_index, num_nodes, lambda_max=2.0)
    out = conv(x, lap)
    # PyG: one graph = disjoint union of the batch; lambda_max defaults to 2.0 for 'sym'.
    expected = ref(x.reshape(batch * num_nodes, 8), disjoint_union(edge_index, num_nodes, batch))
    torch.testing.assert_close(out, expected.view(batch, num_nodes, 5), atol=1e-5, rtol=1e-5)
    expected_explicit = ref(
        x.reshape(batch * num_nodes, 8), disjoint_union(edge_index, num_nodes, batch), lambda_max=2.0
    )
    torch.testing.assert_close(out, expected_explicit.view(batch, num_nodes, 5), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("num_nodes,num_edges,num_isolated,seed", GRAPHS)
@pytest.mark.parametrize("K", [2, 3, 4])
def test_matches_pyg_with_explicit_lambda_max(num_nodes, num_edges, num_isolated, seed, K):
    g = torch.Generator().manual_seed(200 + seed)
    batch = 3
    edge_index = random_graph(num_nodes, num_edges, num_isolated, seed)
    lam = laplacian_lambda_max(normalized_laplacian(edge_index, num_nodes))
    assert 1.0 < lam <= 2.0 + 1e-12
    conv = ChebConv(6, 7, K)
    conv.reset_parameters(generator=g)
    with torch.no_grad():
        conv.bias.copy_(torch.randn(7, generator=g))
    ref = pyg_copy(conv)
    x = torch.randn(batch, num_nodes, 6, generator=g)
    union = disjoint_union(edge_index, num_nodes, batch)
    expected = ref(x.reshape(-1, 6), union, lambda_max=lam).view(batch, num_nodes, 7)

    out_explicit = conv(x, rescaled_laplacian(edge_index, num_nodes, lambda_max=lam))
    out_computed = conv(x, rescaled_laplacian(edge_index, num_nodes))  # lambda_max=None computes the same value
    torch.testing.assert_close(out_explicit, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out_computed, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("lambda_max", [2.0, 1.37])
def test_laplacian_matches_pyg_get_laplacian_weighted(lambda_max):
    num_nodes = 30
    edge_index = random_graph(num_nodes, 70, 2, seed=7)
    g = torch.Generator().manual_seed(7)
    w = torch.rand(edge_index.shape[1], generator=g, dtype=torch.float64) + 0.1
    dense_w = pyg_utils.to_dense_adj(edge_index, edge_attr=w, max_num_nodes=num_nodes)[0]
    w = (w + dense_w.T[edge_index[0], edge_index[1]]) / 2  # symmetric weights
    adjacency = pyg_utils.to_dense_adj(edge_index, edge_attr=w, max_num_nodes=num_nodes)[0]
    assert torch.equal(adjacency, adjacency.T)
    ei, ew = pyg_utils.get_laplacian(edge_index, w, normalization="sym", num_nodes=num_nodes)
    lap_pyg = pyg_utils.to_dense_adj(ei, edge_attr=ew, max_num_nodes=num_nodes)[0]
    expected = 2.0 * lap_pyg / lambda_max - torch.eye(num_nodes, dtype=torch.float64)

    ours = rescaled_laplacian(adjacency, num_nodes, lambda_max=lambda_max, dtype=torch.float64)
    torch.testing.assert_close(ours.to_dense(), expected, atol=1e-12, rtol=0)


# ------------------------------------------------------- Laplacian conventions
def test_convention_rescale_is_2L_over_lambda_minus_identity():
    # Path 0-1-2 plus an isolated node 3. Normalised Laplacian eigenvalues: 0, 1, 2 (path) and 1 (isolated).
    edge_index = torch.tensor([[0, 1], [1, 2]])
    lap = normalized_laplacian(edge_index, 4).toarray()
    s = 1 / math.sqrt(2)
    expected_lap = np.array([[1, -s, 0, 0], [-s, 1, -s, 0], [0, -s, 1, 0], [0, 0, 0, 1]])
    np.testing.assert_allclose(lap, expected_lap, atol=1e-15)
    assert laplacian_lambda_max(scipy.sparse.csr_matrix(lap)) == pytest.approx(2.0, abs=1e-12)
    for lam in (None, 2.0, 1.5):
        hat = rescaled_laplacian(edge_index, 4, lambda_max=lam, dtype=torch.float64).to_dense().numpy()
        lam_ = 2.0 if lam is None else lam
        np.testing.assert_allclose(hat, 2.0 * expected_lap / lam_ - np.eye(4), atol=1e-15)
        # Not Pose2Mesh's L / (2 lambda_max) - I, whose spectrum is [-1, -0.5].
        assert not np.allclose(hat, expected_lap / (2 * lam_) - np.eye(4))


@pytest.mark.parametrize("num_nodes,num_edges,num_isolated,seed", GRAPHS)
def test_spectrum_in_unit_interval_and_symmetric(num_nodes, num_edges, num_isolated, seed):
    edge_index = random_graph(num_nodes, num_edges, num_isolated, seed)
    hat = rescaled_laplacian(edge_index, num_nodes, dtype=torch.float64).to_dense()
    assert torch.equal(hat, hat.T)
    eig = torch.linalg.eigvalsh(hat)
    assert eig.min() >= -1 - 1e-10 and eig.max() <= 1 + 1e-10
    assert eig.max() == pytest.approx(1.0, abs=1e-9)  # lambda_max is the true largest eigenvalue


def test_isolated_nodes_and_empty_graph_are_finite():
    edge_index = torch.tensor([[0], [1]])
    hat = rescaled_laplacian(edge_index, 5).to_dense()
    assert torch.isfinite(hat).all()
    # Isolated nodes: L_ii = 1 and nothing else, as PyG's get_laplacian.
    assert torch.equal(hat[2:, 2:], (2.0 / 2.0 - 1.0) * torch.eye(3))
    empty = rescaled_laplacian(torch.zeros(2, 0, dtype=torch.long), 3).to_dense()
    assert torch.equal(empty, torch.eye(3))  # L = I, lambda_max = 1


def test_layout_is_coalesced_coo_with_explicit_diagonal():
    hat = rescaled_laplacian(torch.tensor([[0, 1], [1, 2]]), 4, lambda_max=2.0)
    assert hat.layout == torch.sparse_coo and hat.is_coalesced()
    assert hat.dtype == torch.float32 and hat.shape == (4, 4)
    idx = hat.indices()
    diag = idx[:, idx[0] == idx[1]]
    assert torch.equal(diag[0], torch.arange(4))  # diagonal stored although it is 0 at lambda_max = 2
    assert rescaled_laplacian(torch.tensor([[0], [1]]), 2, dtype=torch.float64).dtype == torch.float64


def test_graph_input_forms_agree():
    num_nodes = 25
    edge_index = random_graph(num_nodes, 50, 2, seed=11)
    ref = rescaled_laplacian(edge_index, num_nodes).to_dense()
    # one direction only, repeated edges and self loops are all read as the same undirected graph
    one_way = edge_index[:, edge_index[0] < edge_index[1]]
    noisy = torch.cat([one_way, one_way, torch.tensor([[3], [3]])], dim=1)
    dense = pyg_utils.to_dense_adj(edge_index, max_num_nodes=num_nodes)[0]
    forms = [
        edge_index.numpy(),
        noisy,
        dense,
        dense.bool(),
        dense.to_sparse(),
        dense.to_sparse_csr(),
        scipy.sparse.csr_matrix(dense.numpy()),
        scipy.sparse.coo_array(dense.numpy()),
    ]
    for form in forms:
        assert torch.equal(rescaled_laplacian(form, num_nodes).to_dense(), ref), type(form)


def test_laplacian_input_errors():
    with pytest.raises(ValueError, match="symmetric"):
        rescaled_laplacian(torch.tensor([[0.0, 1.0], [0.0, 0.0]]), 2)
    with pytest.raises(ValueError, match="outside"):
        rescaled_laplacian(torch.tensor([[0], [5]]), 3)
    with pytest.raises(ValueError, match=r"\(2, E\)"):
        rescaled_laplacian(torch.tensor([[0, 1, 2]]), 3)
    with pytest.raises(ValueError, match="shape"):
        rescaled_laplacian(torch.eye(3), 4)
    with pytest.raises(ValueError, match="non-negative"):
        rescaled_laplacian(-torch.ones(2, 2), 2)
    # NaN passed the sign and symmetry checks and silently removed the edge; inf zeroed L_hat
    for bad in (float("nan"), float("inf")):
        adjacency = np.array([[0.0, bad], [bad, 0.0]])
        for form in (adjacency, torch.from_numpy(adjacency), torch.from_numpy(adjacency).to_sparse(),
                     scipy.sparse.csr_matrix(adjacency)):
            with pytest.raises(ValueError, match=r"adjacency weights must be finite \(got NaN or inf\)"):
                rescaled_laplacian(form, 2)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="lambda_max"):
            rescaled_laplacian(torch.tensor([[0], [1]]), 2, lambda_max=bad)
    with pytest.raises(ValueError, match="floating"):
        rescaled_laplacian(torch.tensor([[0], [1]]), 2, dtype=torch.int64)


# ---------------------------------------------------------------- cheb_conv
@pytest.mark.parametrize("K", [1, 2, 3, 4])
def test_cheb_conv_matches_dense_reference(K, dtype, device):
    g = torch.Generator().manual_seed(K)
    num_nodes = 40
    edge_index = random_graph(num_nodes, 90, 3, seed=K)
    lap = rescaled_laplacian(edge_index, num_nodes, dtype=dtype).to(device)
    x = torch.randn(3, num_nodes, 4, generator=g, dtype=dtype).to(device)
    weight = torch.randn(K, 4, 6, generator=g, dtype=dtype).to(device)
    bias = torch.randn(6, generator=g, dtype=dtype).to(device)
    out = cheb_conv(x, lap, weight, bias)
    expected = dense_reference(x, lap.to_dense(), weight, bias)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(out, expected, atol=tol, rtol=tol)
    assert out.shape == (3, num_nodes, 6) and out.dtype == dtype and out.device.type == device.type
    assert out.is_contiguous()


def test_k1_ignores_the_graph_and_k2_is_one_hop():
    g = torch.Generator().manual_seed(0)
    lap = rescaled_laplacian(random_graph(12, 20, 1, seed=0), 12)
    x = torch.randn(2, 12, 3, generator=g)
    w = torch.randn(2, 3, 4, generator=g)
    b = torch.randn(4, generator=g)
    torch.testing.assert_close(cheb_conv(x, lap, w[:1], b), x @ w[0] + b)
    torch.testing.assert_close(cheb_conv(x, lap, w[:1]), cheb_conv(x, 0 * lap, w[:1]))
    torch.testing.assert_close(cheb_conv(x, lap, w, b), x @ w[0] + (lap.to_dense() @ x) @ w[1] + b)


def test_unbatched_and_layouts_agree():
    g = torch.Generator().manual_seed(1)
    lap = rescaled_laplacian(random_graph(30, 60, 2, seed=1), 30)
    x = torch.randn(30, 5, generator=g)
    w = torch.randn(3, 5, 2, generator=g)
    out = cheb_conv(x, lap, w)
    assert out.shape == (30, 2)
    torch.testing.assert_close(out, cheb_conv(x.unsqueeze(0), lap, w)[0])
    torch.testing.assert_close(cheb_conv(x, lap.to_sparse_csr(), w), out, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(cheb_conv(x, lap.to_dense(), w), out, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("budget", [1, 2 * 20 * 4, 3 * 20 * 4, 1 << 30], ids=["chunk1", "chunk2", "chunk3", "whole"])
def test_cpu_batch_chunking_gives_the_same_result(monkeypatch, budget):
    # On the CPU the batch is processed in chunks of about _CPU_CHUNK_ELEMENTS
    # per term; force every chunking of B = 5 (chunk 1, 2 and 3 do not all divide 5).
    g = torch.Generator().manual_seed(4)
    lap = rescaled_laplacian(random_graph(20, 40, 1, seed=4), 20, dtype=torch.float64)
    x = torch.randn(5, 20, 4, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 4, 2, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, generator=g, dtype=torch.float64, requires_grad=True)
    expected = dense_reference(x, lap.to_dense(), w, b)
    monkeypatch.setattr(cheb_module, "_CPU_CHUNK_ELEMENTS", budget)
    out = cheb_conv(x, lap, w, b)
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=1e-12)
    assert out.shape == (5, 20, 2) and out.is_contiguous()
    assert torch.autograd.gradcheck(lambda x, w, b: cheb_conv(x, lap, w, b), (x, w, b))


def test_batch_members_are_independent():
    g = torch.Generator().manual_seed(2)
    lap = rescaled_laplacian(random_graph(20, 40, 0, seed=2), 20)
    x = torch.randn(5, 20, 3, generator=g)
    w = torch.randn(3, 3, 4, generator=g)
    out = cheb_conv(x, lap, w)
    for b in range(5):
        torch.testing.assert_close(out[b], cheb_conv(x[b], lap, w), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("K", [1, 2, 3])
@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_gradcheck_float64(K, layout):
    g = torch.Generator().manual_seed(K)
    lap = rescaled_laplacian(random_graph(9, 14, 1, seed=K), 9, dtype=torch.float64)
    if layout == "csr":
        lap = lap.to_sparse_csr()
    x = torch.randn(2, 9, 3, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(K, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: cheb_conv(x, lap, w, b), (x, w, b))
    assert torch.autograd.gradgradcheck(lambda x, w, b: cheb_conv(x, lap, w, b), (x, w, b))
    assert torch.autograd.gradcheck(lambda x, w: cheb_conv(x[0], lap, w), (x, w))


def test_shape_errors_are_clear():
    lap = rescaled_laplacian(torch.tensor([[0, 1], [1, 2]]), 4)
    x = torch.randn(2, 4, 3)
    w = torch.randn(3, 3, 5)
    with pytest.raises(ValueError, match="K = weight.shape"):
        cheb_conv(x, lap, torch.randn(0, 3, 5))
    with pytest.raises(ValueError, match=r"x must have shape \(B, V, F_in\)"):
        cheb_conv(torch.randn(4), lap, w)
    with pytest.raises(ValueError, match=r"x must have shape"):
        cheb_conv(torch.randn(1, 2, 4, 3), lap, w)
    with pytest.raises(ValueError, match=r"weight must have shape \(K, F_in, F_out\)"):
        cheb_conv(x, lap, torch.randn(3, 5))
    with pytest.raises(ValueError, match="F_in = 4"):
        cheb_conv(x, lap, torch.randn(3, 4, 5))
    with pytest.raises(ValueError, match="V = 3 nodes"):
        cheb_conv(torch.randn(2, 3, 3), lap, w)
    with pytest.raises(ValueError, match="square"):
        cheb_conv(x, torch.randn(4, 3), w)
    with pytest.raises(ValueError, match=r"bias must have shape \(5,\)"):
        cheb_conv(x, lap, w, torch.randn(3))
    with pytest.raises(ValueError, match="dtype mismatch"):
        cheb_conv(x.double(), lap, w.double())


# ------------------------------------------- node-major and gathered (fast) paths
# The network's fast paths (docs/benchmarks.md) against the reference: the
# batch-first path (which tests above tie to PyG) and the naive dense recursion.
# Widths cover both node-major kernels: K GEMMs accumulating (K * F_out > F_in)
# and weights first + Clenshaw (K * F_out <= F_in, or any width with node_index).
NODE_MAJOR_CASES = [(K, f_in, f_out) for K in (1, 2, 3, 4) for f_in, f_out in ((3, 5), (8, 2), (6, 6))]


def _gathered_inputs(K, f_in, f_out, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    lap = rescaled_laplacian(random_graph(30, 70, 2, seed=seed), 30, dtype=dtype)
    coarse = 17
    index = torch.cat([torch.arange(coarse), torch.randint(0, coarse, (13,), generator=g)])  # onto, like unpooling
    xc = torch.randn(5, coarse, f_in, generator=g, dtype=dtype)
    w = torch.randn(K, f_in, f_out, generator=g, dtype=dtype)
    b = torch.randn(f_out, generator=g, dtype=dtype)
    return lap, index, xc, w, b


@pytest.mark.parametrize("K,f_in,f_out", NODE_MAJOR_CASES)
@pytest.mark.parametrize("layout", ["coo", "csr", "dense"])
def test_node_major_matches_batch_first_and_dense_reference(K, f_in, f_out, layout):
    lap, index, xc, w, b = _gathered_inputs(K, f_in, f_out, torch.float64, seed=K)
    lap_in = {"coo": lap, "csr": lap.to_sparse_csr(), "dense": lap.to_dense()}[layout]
    x = xc[:, index]  # (B, V, F_in), the gathered input
    expected = dense_reference(x, lap.to_dense(), w, b)
    torch.testing.assert_close(cheb_conv(x, lap_in, w, b), expected, atol=1e-12, rtol=1e-12)
    node_major = cheb_conv(x.transpose(0, 1), lap_in, w, b, batch_first=False)
    assert node_major.shape == (30, 5, f_out)
    torch.testing.assert_close(node_major.transpose(0, 1), expected, atol=1e-12, rtol=1e-12)
    gathered = cheb_conv(xc.transpose(0, 1), lap_in, w, b, batch_first=False, node_index=index)
    torch.testing.assert_close(gathered.transpose(0, 1), expected, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(cheb_conv(xc, lap_in, w, b, node_index=index), expected, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(cheb_conv(xc[0], lap_in, w, b, node_index=index), expected[0], atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("K,f_in,f_out", [(3, 8, 2), (3, 3, 5), (2, 6, 6)])
def test_node_major_float32_within_1e5_of_batch_first(K, f_in, f_out):
    lap, index, xc, w, b = _gathered_inputs(K, f_in, f_out, torch.float32, seed=7)
    x = xc[:, index]
    ref = cheb_conv(x, lap, w, b)
    for out in (cheb_conv(x.transpose(0, 1), lap, w, b, batch_first=False),
                cheb_conv(xc.transpose(0, 1), lap, w, b, batch_first=False, node_index=index)):
        torch.testing.assert_close(out.transpose(0, 1), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("budget", [1, 2 * 9 * 3, 1 << 30], ids=["chunk1", "chunk2", "whole"])
def test_node_major_chunking_and_gradients(monkeypatch, budget):
    g = torch.Generator().manual_seed(3)
    lap = rescaled_laplacian(random_graph(9, 14, 1, seed=3), 9, dtype=torch.float64)
    index = torch.tensor([0, 1, 2, 3, 4, 5, 0, 2, 5])
    kw = dict(generator=g, dtype=torch.float64, requires_grad=True)
    xc = torch.randn(6, 3, 3, **kw)  # node-major (V_c, B, F_in)
    x = torch.randn(9, 3, 3, **kw)
    b = torch.randn(1, **kw)
    monkeypatch.setattr(cheb_module, "_CPU_CHUNK_ELEMENTS", budget)
    for w in (torch.randn(3, 3, 1, **kw), torch.randn(3, 3, 2, **kw)):  # weights-first / accumulating GEMMs
        bias = b if w.shape[2] == 1 else None
        expected = dense_reference(xc[index].transpose(0, 1), lap.to_dense(), w, bias)
        out = cheb_conv(xc, lap, w, bias, batch_first=False, node_index=index)
        torch.testing.assert_close(out.transpose(0, 1), expected, atol=1e-12, rtol=1e-12)
        if budget == 1:  # values only: one-graph chunks make gradcheck slow, chunk2 covers chunked autograd
            continue
        assert torch.autograd.gradcheck(
            lambda x, w: cheb_conv(x, lap, w, bias, batch_first=False, node_index=index), (xc, w))
        assert torch.autograd.gradcheck(lambda x, w: cheb_conv(x, lap, w, bias, batch_first=False), (x, w))


def test_node_index_errors():
    lap, index, xc, w, b = _gathered_inputs(3, 3, 5, torch.float32)
    with pytest.raises(ValueError, match="1-D int64"):
        cheb_conv(xc, lap, w, node_index=index.int())
    with pytest.raises(ValueError, match="gathered by node_index"):
        cheb_conv(xc, lap, w, node_index=index[:-1])
    with pytest.raises(ValueError, match=r"x must have shape \(V, B, F_in\)"):
        cheb_conv(torch.randn(4), lap, w, batch_first=False)


def test_csr_copy_is_cached_invalidated_and_usable_for_training():
    lap = rescaled_laplacian(random_graph(20, 40, 1, seed=5), 20)
    csr = cheb_module._as_csr(lap)
    assert csr.layout == torch.sparse_csr and cheb_module._as_csr(lap) is csr
    torch.testing.assert_close(csr.to_dense(), lap.to_dense())
    lap.mul_(0.5)  # an in-place change bumps the version: a new copy
    again = cheb_module._as_csr(lap)
    assert again is not csr
    torch.testing.assert_close(again.to_dense(), lap.to_dense())
    # first use under inference_mode, then training: the cached copy must not be an inference tensor
    other = rescaled_laplacian(random_graph(20, 40, 1, seed=6), 20)
    conv = ChebConv(3, 4, K=3)
    with torch.inference_mode():
        conv(torch.randn(2, 20, 3), other)
    conv(torch.randn(2, 20, 3), other).sum().backward()
    assert conv.weight.grad is not None


# ------------------------------------------------------------------ ChebConv
def test_repr():
    assert str(ChebConv(16, 32, K=3)) == "ChebConv(16, 32, K=3)"
    assert repr(ChebConv(16, 32, 1, bias=False)) == "ChebConv(16, 32, K=1, bias=False)"


def test_k0_and_bad_channels_raise():
    with pytest.raises(ValueError, match="K must be >= 1"):
        ChebConv(4, 4, K=0)
    with pytest.raises(ValueError, match="channels"):
        ChebConv(0, 4, K=2)


def test_parameters_and_reset_are_deterministic():
    conv = ChebConv(16, 32, K=3)
    assert conv.weight.shape == (3, 16, 32) and conv.bias.shape == (32,)
    assert sorted(conv.state_dict()) == ["bias", "weight"]
    bound = math.sqrt(6.0 / (16 + 32))  # glorot uniform, as PyG's Linear(weight_initializer='glorot')
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
    assert torch.equal(conv.bias, torch.zeros(32))
    other = ChebConv(16, 32, K=3)
    conv.reset_parameters(generator=torch.Generator().manual_seed(5))
    other.reset_parameters(generator=torch.Generator().manual_seed(5))
    assert torch.equal(conv.weight, other.weight)
    assert ChebConv(4, 4, 2, bias=False).bias is None


class _TwoLevelNet(torch.nn.Module):
    """How the network uses ChebConv: Laplacians as (sparse) buffers, one layer class for all levels."""

    def __init__(self, lap_a, lap_b):
        super().__init__()
        self.register_buffer("lap_a", lap_a)
        self.register_buffer("lap_b", lap_b)
        self.conv_a = ChebConv(3, 4, K=3)
        self.conv_b = ChebConv(4, 2, K=2)

    def forward(self, x):
        return self.conv_b(torch.relu(self.conv_a(x, self.lap_a)), self.lap_b)


def test_module_with_laplacian_buffers_moves_dtype_and_device(device):
    lap = rescaled_laplacian(random_graph(15, 30, 1, seed=3), 15)
    net = _TwoLevelNet(lap, lap.clone()).to(device).double()
    assert net.lap_a.dtype == torch.float64 and net.lap_a.layout == torch.sparse_coo
    x = torch.randn(2, 15, 3, dtype=torch.float64, device=device)
    out = net(x)
    assert out.shape == (2, 15, 2) and out.dtype == torch.float64
    out.sum().backward()
    assert net.conv_a.weight.grad is not None
    state = net.state_dict()
    fresh = _TwoLevelNet(torch.zeros(15, 15).to_sparse(), torch.zeros(15, 15).to_sparse()).double().to(device)
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh(x), out)


def test_public_api_surface():
    assert sorted(graph_api.__all__) == sorted(
        ["cheb_conv", "ChebConv", "rescaled_laplacian", "MeshHierarchy", "build_hierarchy", "load_hierarchy"]
    )
    for name in graph_api.__all__:
        assert getattr(graph_api, name).__doc__
