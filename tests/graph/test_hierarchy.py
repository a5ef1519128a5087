"""Tests of pose2mesh.graph.hierarchy: determinism, validity and persistence of the pooling hierarchy."""
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.csgraph
import torch

import pose2mesh
from pose2mesh.graph import MeshHierarchy, build_hierarchy, load_hierarchy
from pose2mesh.graph.cheb import laplacian_lambda_max, normalized_laplacian
from pose2mesh.graph.hierarchy import hierarchy_summary

trimesh = pytest.importorskip("trimesh")

NUM_LEVELS = 5


def grid_faces(nx: int, ny: int) -> np.ndarray:
    """Triangulated nx-by-ny vertex grid (row-major vertex ids), built with numpy only."""
    idx = np.arange(nx * ny).reshape(ny, nx)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    return np.concatenate([np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])


@pytest.fixture(scope="module")
def sphere():
    mesh = trimesh.creation.icosphere(subdivisions=4)  # 2562 vertices, 5120 faces, connected
    return np.asarray(mesh.faces, dtype=np.int64), len(mesh.vertices)


@pytest.fixture(scope="module")
def hierarchy(sphere):
    faces, num_vertices = sphere
    return build_hierarchy(faces, num_vertices, NUM_LEVELS)


def adjacency(level) -> scipy.sparse.csr_matrix:
    n = level.num_nodes
    return scipy.sparse.csr_matrix(
        (np.ones(level.edge_index.shape[1]), (level.edge_index[0], level.edge_index[1])), shape=(n, n)
    )


def assert_valid(h: MeshHierarchy, connected: bool = True) -> None:
    """Structural checks that every hierarchy of a connected mesh must pass."""
    assert len(h.levels) == h.num_levels + 1 == len(h.clusters) + 1
    for l, level in enumerate(h.levels):
        ei, ew = level.edge_index, level.edge_weight
        assert ei.dtype == np.int64 and ew.dtype == np.int64 and ei.shape == (2, ew.shape[0])
        assert (ei[0] != ei[1]).all(), "no self loops"
        order = np.lexsort((ei[1], ei[0]))
        assert np.array_equal(order, np.arange(ei.shape[1])), "edge_index sorted lexicographically"
        assert np.unique(ei, axis=1).shape[1] == ei.shape[1], "no duplicate edges"
        adj = scipy.sparse.csr_matrix((ew, (ei[0], ei[1])), shape=(level.num_nodes,) * 2)
        assert (adj != adj.T).nnz == 0, "undirected, symmetric weights"
        assert (ew > 0).all()
        if connected:
            n_comp, _ = scipy.sparse.csgraph.connected_components(adjacency(level), directed=False)
            assert n_comp == 1, f"level {l} is disconnected"
    total_weight = h.levels[0].edge_weight.sum()
    for l, cluster in enumerate(h.clusters):
        fine, coarse = h.levels[l], h.levels[l + 1]
        assert cluster.dtype == np.int64 and cluster.shape == (fine.num_nodes,)
        assert np.array_equal(np.unique(cluster), np.arange(coarse.num_nodes)), "surjection onto 0..V_{l+1}-1"
        sizes = np.bincount(cluster, minlength=coarse.num_nodes)
        assert set(np.unique(sizes)) <= {1, 2}
        assert (sizes == 2).mean() > 0.8, "most clusters are pairs"
        assert 0.5 <= coarse.num_nodes / fine.num_nodes <= 0.6
        # clusters are numbered by their smallest member
        first = np.full(coarse.num_nodes, fine.num_nodes)
        np.minimum.at(first, cluster, np.arange(fine.num_nodes))
        assert (np.diff(first) > 0).all()
        # pairs are edges of the fine graph; the matching is maximal (no two adjacent singletons)
        members = np.argsort(cluster, kind="stable")
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        pairs = np.stack([members[starts[sizes == 2]], members[starts[sizes == 2] + 1]])
        fine_adj = adjacency(fine)
        assert (np.asarray(fine_adj[pairs[0], pairs[1]]).ravel() == 1).all()
        single = sizes[cluster] == 1
        assert not (single[fine.edge_index[0]] & single[fine.edge_index[1]]).any()
        # the coarse graph is the contraction of the fine graph: weights summed, intra-cluster edges dropped
        cr, cc = cluster[fine.edge_index[0]], cluster[fine.edge_index[1]]
        keep = cr != cc
        expected = scipy.sparse.csr_matrix(
            (fine.edge_weight[keep], (cr[keep], cc[keep])), shape=(coarse.num_nodes,) * 2
        )
        got = scipy.sparse.csr_matrix((coarse.edge_weight, tuple(coarse.edge_index)), shape=(coarse.num_nodes,) * 2)
        assert (expected != got).nnz == 0
        assert coarse.edge_weight.sum() <= total_weight


# -------------------------------------------------------------- determinism
def test_rebuild_is_identical(sphere, hierarchy):
    faces, num_vertices = sphere
    again = build_hierarchy(faces.copy(), num_vertices, NUM_LEVELS)
    assert again == hierarchy
    assert again.content_hash() == hierarchy.content_hash()
    assert again.structure_hash() == hierarchy.structure_hash() != again.content_hash()


def test_face_order_and_winding_do_not_matter(sphere, hierarchy):
    faces, num_vertices = sphere
    rng = np.random.default_rng(1234)
    shuffled = faces[rng.permutation(len(faces))]
    shuffled = np.roll(shuffled, shift=1, axis=1)  # (a, b, c) -> (c, a, b): same triangles
    h = build_hierarchy(shuffled, num_vertices, NUM_LEVELS)
    assert_valid(h)
    # only the edge set enters the algorithm, so even the scrambled copy gives the same hierarchy
    assert h == hierarchy


def test_relabelled_vertices_give_a_valid_hierarchy(sphere):
    faces, num_vertices = sphere
    perm = np.random.default_rng(99).permutation(num_vertices)
    h = build_hierarchy(perm[faces], num_vertices, NUM_LEVELS)
    assert_valid(h)
    assert h.structure_hash() != build_hierarchy(faces, num_vertices, NUM_LEVELS).structure_hash()
    assert h == build_hierarchy(perm[faces], num_vertices, NUM_LEVELS)


def test_independent_of_python_hash_seed(tmp_path):
    faces = grid_faces(15, 11)
    h = build_hierarchy(faces, 165, 3)
    np.save(tmp_path / "faces.npy", faces)
    code = (
        "import sys, numpy as np; from pose2mesh.graph import build_hierarchy; "
        "print(build_hierarchy(np.load(sys.argv[1]), 165, 3).content_hash())"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(pose2mesh.__file__)))
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "faces.npy")],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == h.content_hash()


def test_golden_structure_of_a_grid():
    # Regression pin, recorded from this implementation (pose2mesh 0.x, format v1) on a
    # numpy-built 12 x 9 grid. Integer arrays only, so it is platform independent; if it
    # changes, every shipped hierarchy (and the weights trained on it) changes too.
    h = build_hierarchy(grid_faces(12, 9), 108, 4)
    assert h.num_nodes == (108, 54, 29, 15, 8)
    assert h.clusters[0][:24].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12]
    s = hashlib.sha256()
    for c in h.clusters:
        s.update(c.astype("<i8").tobytes())
    for level in h.levels:
        s.update(level.edge_index.astype("<i8").tobytes())
        s.update(level.edge_weight.astype("<i8").tobytes())
    assert s.hexdigest() == "09cc2d695439ed769ae9cda82c1b5563b472cdeb4c5d6a69c4c79a75eb2f0111"
    assert h.structure_hash() == "bd327e39dac0b002f6e66b3b2fbc5ca11e2cf679938f8a037c9df023e799acf1"
    assert_valid(h)


# ------------------------------------------------- matching rules, by hand
def test_convention_tie_goes_to_smallest_index():
    # Quad 0-1-2-3 split along 0-2. Degrees 3, 2, 3, 2: visit order 1, 3, 0, 2.
    # Node 1 sees 0 and 2 with equal score 1 * (1/2 + 1/3): tie -> 0. Node 3 then takes 2.
    h = build_hierarchy(np.array([[0, 1, 2], [0, 2, 3]]), 4, 2)
    assert h.clusters[0].tolist() == [0, 0, 1, 1]
    assert h.levels[1].edge_index.tolist() == [[0, 1], [1, 0]]
    assert h.levels[1].edge_weight.tolist() == [3, 3]  # edges 0-3, 1-2 and 0-2 join the two pairs
    assert h.clusters[1].tolist() == [0, 0] and h.num_nodes == (4, 2, 1)


def test_convention_normalised_cut_prefers_low_degree_then_heavy_edges():
    # Fan (0,1,2), (0,2,3), (0,3,4): degrees 4, 2, 3, 3, 2; visit order 1, 4, 2, 3, 0.
    # Node 1: score(0) = 1/2 + 1/4 < score(2) = 1/2 + 1/3 -> pairs with 2 although 0 < 2.
    # Node 4 likewise pairs with 3; node 0 is left alone.
    h = build_hierarchy(np.array([[0, 1, 2], [0, 2, 3], [0, 3, 4]]), 5, 2)
    assert h.clusters[0].tolist() == [0, 1, 1, 2, 2]
    assert h.levels[1].edge_index.tolist() == [[0, 0, 1, 1, 2, 2], [1, 2, 0, 2, 0, 1]]
    assert h.levels[1].edge_weight.tolist() == [2, 2, 2, 1, 2, 1]
    # Level 1: degrees 4, 3, 3; node 1 sees 0 (w=2, d=4: 2 (1/3 + 1/4)) and 2 (w=1, d=3: 1 (1/3 + 1/3)) -> 0.
    assert h.clusters[1].tolist() == [0, 0, 1]
    assert h.levels[2].edge_weight.tolist() == [3, 3]


def test_isolated_vertices_stay_singletons(caplog):
    faces = grid_faces(6, 5)
    with caplog.at_level("WARNING", logger="pose2mesh.graph.hierarchy"):
        h = build_hierarchy(faces, 32, 3)  # vertices 30 and 31 belong to no face
    assert "2 of 32 vertices belong to no face" in caplog.text
    node = [30, 31]
    for l, cluster in enumerate(h.clusters):
        sizes = np.bincount(cluster)
        assert (sizes[cluster[node]] == 1).all()
        node = cluster[node].tolist()
    for l in range(len(h.levels)):
        assert torch.isfinite(h.laplacian_tensor(l).to_dense()).all()


def test_build_input_errors():
    with pytest.raises(ValueError, match=r"\(F, 3\)"):
        build_hierarchy(np.zeros((4, 4), dtype=np.int64), 10, 1)
    with pytest.raises(ValueError, match="integer"):
        build_hierarchy(np.zeros((4, 3)), 10, 1)
    with pytest.raises(ValueError, match="outside"):
        build_hierarchy(np.array([[0, 1, 10]]), 10, 1)
    with pytest.raises(ValueError, match="num_levels"):
        build_hierarchy(np.array([[0, 1, 2]]), 3, -1)
    with pytest.raises(ValueError, match="num_vertices"):
        build_hierarchy(np.array([[0, 1, 2]]), 0, 1)


# ------------------------------------------------------------- validity
def test_hierarchy_is_valid(hierarchy):
    assert_valid(hierarchy)
    assert hierarchy.num_nodes[0] == 2562
    assert hierarchy.num_nodes[-1] < 2562 / 2**NUM_LEVELS * 1.6


def test_pool_unpool(hierarchy):
    g = torch.Generator().manual_seed(0)
    for l in range(hierarchy.num_levels):
        pool, unpool = hierarchy.pool_matrix(l), hierarchy.unpool_matrix(l)
        v_fine, v_coarse = hierarchy.num_nodes[l], hierarchy.num_nodes[l + 1]
        assert pool.shape == (v_coarse, v_fine) and unpool.shape == (v_fine, v_coarse)
        assert pool.layout == unpool.layout == torch.sparse_coo and pool.is_coalesced() and unpool.is_coalesced()
        # pool after unpool is the identity of the coarse level
        assert torch.equal(torch.sparse.mm(pool, unpool.to_dense()), torch.eye(v_coarse))
        xc = torch.randn(v_coarse, 3, generator=g, dtype=torch.float64)
        p64, u64 = hierarchy.pool_matrix(l, dtype=torch.float64), hierarchy.unpool_matrix(l, dtype=torch.float64)
        torch.testing.assert_close(p64 @ (u64 @ xc), xc, atol=1e-15, rtol=0)
        cluster = torch.tensor(hierarchy.clusters[l])
        assert torch.equal(u64 @ xc, xc[cluster])  # unpool copies the coarse value to every member
        xf = torch.randn(v_fine, 3, generator=g, dtype=torch.float64)
        mean = torch.zeros(v_coarse, 3, dtype=torch.float64).index_add_(0, cluster, xf)
        mean /= torch.bincount(cluster, minlength=v_coarse).unsqueeze(1)
        torch.testing.assert_close(p64 @ xf, mean, atol=1e-14, rtol=0)  # pool is the cluster mean
    with pytest.raises(ValueError, match="pooling step"):
        hierarchy.pool_matrix(hierarchy.num_levels)


def test_laplacians(hierarchy):
    for l, level in enumerate(hierarchy.levels):
        lap = hierarchy.laplacian_tensor(l)
        assert lap.layout == torch.sparse_coo and lap.is_coalesced() and lap.dtype == torch.float32
        assert lap.shape == (level.num_nodes, level.num_nodes)
        dense = lap.to_dense()
        assert torch.equal(dense, dense.T)
        assert level.laplacian_values.dtype == np.float32 and level.laplacian_indices.dtype == np.int64
        if level.num_nodes > 1000:
            continue
        # small levels: dense spectra to check lambda_max and the [-1, 1] range
        weighted = scipy.sparse.csr_matrix(
            (level.edge_weight.astype(float), tuple(level.edge_index)), shape=(level.num_nodes,) * 2
        )
        lap_norm = normalized_laplacian(weighted, level.num_nodes).toarray()
        lam_dense = np.linalg.eigvalsh(lap_norm)[-1]
        assert level.lambda_max == pytest.approx(lam_dense, abs=1e-9)
        assert laplacian_lambda_max(scipy.sparse.csr_matrix(lap_norm)) == pytest.approx(lam_dense, abs=1e-9)
        expected = 2 * lap_norm / level.lambda_max - np.eye(level.num_nodes)
        np.testing.assert_allclose(dense.double().numpy(), expected, atol=1e-6)
        eig = np.linalg.eigvalsh(dense.double().numpy())
        assert eig.min() >= -1 - 1e-5 and eig.max() <= 1 + 1e-5
        assert eig.max() == pytest.approx(1.0, abs=1e-5)
    lap64 = hierarchy.laplacian_tensor(1, device="cpu", dtype=torch.float64)
    assert lap64.dtype == torch.float64
    torch.testing.assert_close(lap64.to_dense().float(), hierarchy.laplacian_tensor(1).to_dense())


def test_summary(hierarchy):
    text = hierarchy_summary(hierarchy)
    assert "2562" in text and str(hierarchy.num_nodes[-1]) in text
    assert len(text.splitlines()) == hierarchy.num_levels + 3
    assert repr(hierarchy) == f"MeshHierarchy(num_levels={NUM_LEVELS}, num_nodes={list(hierarchy.num_nodes)})"


# ----------------------------------------------------------- persistence
def test_save_load_round_trip_is_bit_identical(hierarchy, tmp_path):
    path = tmp_path / "hierarchy.npz"
    digest = hierarchy.save(path)
    assert digest == hierarchy.content_hash() and len(digest) == 64
    loaded = load_hierarchy(path)
    assert loaded == hierarchy and loaded.content_hash() == digest
    a, b = hierarchy.to_arrays(), loaded.to_arrays()
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape and a[key].tobytes() == b[key].tobytes()
    # a plain npz, readable without pickling, hash stored inside
    with np.load(path, allow_pickle=False) as z:
        assert str(z["content_hash"]) == digest
        assert all(z[k].dtype != object for k in z.files)
    # the file bytes depend only on the content
    hierarchy.save(tmp_path / "again.npz")
    assert (tmp_path / "again.npz").read_bytes() == path.read_bytes()


def _rewrite(path, out, **changes):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    np.savez(out, **arrays)


def test_hash_check_catches_edits(hierarchy, tmp_path):
    path = tmp_path / "h.npz"
    hierarchy.save(path)
    with np.load(path, allow_pickle=False) as z:
        cluster = z["cluster0"].copy()
        values = z["level1_laplacian_values"].copy()
    cluster[[0, -1]] = cluster[[-1, 0]]
    values[3] = np.nextafter(values[3], np.float32(2))  # one ulp
    cases = {
        "cluster": dict(cluster0=cluster),
        "ulp": dict(level1_laplacian_values=values),
        "dtype": dict(level1_laplacian_values=values.astype(np.float64)),
        "missing": dict(cluster1=None),
        "extra": dict(note=np.zeros(1)),
    }
    for name, change in cases.items():
        out = tmp_path / f"{name}.npz"
        _rewrite(path, out, **change)
        with pytest.raises(ValueError, match="corrupt or was edited"):
            load_hierarchy(out)
    # A flipped byte never yields a different hierarchy: it is refused (zlib, zip CRC or the
    # hash) or it hit zip metadata that carries no content (e.g. a timestamp) and loads unchanged.
    raw = path.read_bytes()
    refused = 0
    for i, pos in enumerate(np.linspace(0, len(raw) - 1, 41).astype(int)):
        flipped = bytearray(raw)
        flipped[pos] ^= 0xFF
        (tmp_path / f"flipped{i}.npz").write_bytes(bytes(flipped))
        try:
            assert load_hierarchy(tmp_path / f"flipped{i}.npz") == hierarchy
        except ValueError as err:
            assert "corrupt or was edited" in str(err)
            refused += 1
    assert refused > 30


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="build_hierarchy"):
        load_hierarchy(tmp_path / "nope.npz")


def test_arrays_are_read_only(hierarchy):
    with pytest.raises(ValueError):
        hierarchy.clusters[0][0] = 1
    with pytest.raises(ValueError):
        hierarchy.levels[0].laplacian_values[0] = 0.0


def test_hierarchy_feeds_cheb_conv(hierarchy):
    from pose2mesh.graph import ChebConv

    torch.manual_seed(0)
    conv0, conv1 = ChebConv(3, 8, K=3), ChebConv(8, 3, K=3)
    lap0, lap1 = hierarchy.laplacian_tensor(0), hierarchy.laplacian_tensor(1)
    pool, unpool = hierarchy.pool_matrix(0), hierarchy.unpool_matrix(0)
    x = torch.randn(2, hierarchy.num_nodes[0], 3)
    h0 = conv0(x, lap0)  # (B, V0, 8)
    h1 = torch.stack([torch.sparse.mm(pool, hb) for hb in h0])  # (B, V1, 8)
    out = torch.stack([torch.sparse.mm(unpool, hb) for hb in conv1(h1, lap1)])  # (B, V0, 3)
    assert out.shape == x.shape and torch.isfinite(out).all()
