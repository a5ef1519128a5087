"""The shipped hierarchy of the default body: rebuilt bit for bit from the shipped mesh."""
import numpy as np

from pose2mesh._assets import asset_path
from pose2mesh.graph import load_hierarchy
from pose2mesh.graph.build import DEFAULT_FILE, build_default_hierarchy, default_hierarchy


def test_rebuild_reproduces_shipped_arrays(tmp_path):
    shipped = load_hierarchy(asset_path(DEFAULT_FILE))
    rebuilt = default_hierarchy()
    assert rebuilt.content_hash() == shipped.content_hash()
    a, b = shipped.to_arrays(), rebuilt.to_arrays()
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key
    out = tmp_path / "h.npz"
    assert build_default_hierarchy(out) == shipped.content_hash()
    assert out.read_bytes() == asset_path(DEFAULT_FILE).read_bytes()  # the file itself, byte for byte


def test_shipped_level_sizes():
    h = load_hierarchy(asset_path(DEFAULT_FILE))
    assert h.num_nodes == (12272, 6479, 3434, 1815, 965, 512, 271, 143, 76)
