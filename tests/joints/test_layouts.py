"""Tests of pose2mesh.joints.layouts: the layout tables, the superset, the resolvers."""
import dataclasses
import re
from collections import deque
from pathlib import Path

import pytest

import pose2mesh.joints as joints
from pose2mesh.joints import DERIVATIONS, Layout, get_layout, list_layouts

DETECTOR_LAYOUTS = ["blazepose33", "coco", "h36m", "mpii", "openpose18", "openpose25", "smpl24", "wholebody23"]
ALL_LAYOUTS = DETECTOR_LAYOUTS + ["superset"]
EXPECTED_COUNTS = {
    "coco": 17, "wholebody23": 23, "h36m": 17, "mpii": 16, "openpose25": 25,
    "openpose18": 18, "blazepose33": 33, "smpl24": 24, "superset": 52,
}

# Golden orders, written out from the official documentation of each format
# (COCO keypoints page, COCO-WholeBody README, VideoPose3D h36m skeleton, MPII
# joint ids, OpenPose doc/02_output.md, MediaPipe pose landmarker, SMPL / smplx
# JOINT_NAMES), with names in this package's snake_case.
COCO_ORDER = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
GOLDEN_ORDERS = {
    "coco": COCO_ORDER,
    "wholebody23": COCO_ORDER + (
        "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
    ),
    "h36m": (
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "spine", "thorax", "neck_nose", "head_top", "left_shoulder", "left_elbow", "left_wrist",
        "right_shoulder", "right_elbow", "right_wrist",
    ),
    "mpii": (
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis",
        "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder",
        "left_shoulder", "left_elbow", "left_wrist",
    ),
    "openpose25": (
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
        "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
        "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe",
        "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
    ),
    "openpose18": (
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
        "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "right_eye", "left_eye", "right_ear", "left_ear",
    ),
    "blazepose33": (
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
        "right_eye_outer", "left_ear", "right_ear", "left_mouth_corner", "right_mouth_corner",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
        "left_heel", "right_heel", "left_foot_index", "right_foot_index",
    ),
    "smpl24": (
        "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
        "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
        "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hand", "right_hand",
    ),
}
# The superset order is part of the trained networks' input format: pinned.
SUPERSET_ORDER = (
    "pelvis", "spine1", "spine", "spine2", "spine3", "thorax", "neck", "upper_neck", "neck_nose",
    "head", "head_top", "left_collar", "right_collar", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot", "right_foot", "left_big_toe", "right_big_toe", "left_small_toe",
    "right_small_toe", "left_hand", "right_hand", "left_thumb", "right_thumb", "left_index",
    "right_index", "left_pinky", "right_pinky", "nose", "left_eye_inner", "right_eye_inner",
    "left_eye", "right_eye", "left_eye_outer", "right_eye_outer", "left_ear", "right_ear",
    "left_mouth_corner", "right_mouth_corner",
)


def _is_connected(num_nodes: int, edges) -> bool:
    neighbours = {i: set() for i in range(num_nodes)}
    for i, j in edges:
        neighbours[i].add(j)
        neighbours[j].add(i)
    seen, queue = {0}, deque([0])
    while queue:
        for j in neighbours[queue.popleft()] - seen:
            seen.add(j)
            queue.append(j)
    return len(seen) == num_nodes


def test_public_api_surface():
    assert sorted(joints.__all__) == sorted([
        "Layout", "Derivation", "DERIVATIONS", "get_layout", "list_layouts",
        "conversion_matrix", "convert", "to_superset",
    ])
    for name in joints.__all__:
        assert hasattr(joints, name)


def test_list_layouts():
    assert list_layouts() == tuple(sorted(ALL_LAYOUTS))


@pytest.mark.parametrize("name", ALL_LAYOUTS)
def test_counts(name):
    layout = get_layout(name)
    assert layout.num_joints == EXPECTED_COUNTS[name] == len(layout.names)
    assert layout.name == name


@pytest.mark.parametrize("name", list(GOLDEN_ORDERS))
def test_official_order(name):
    assert get_layout(name).names == GOLDEN_ORDERS[name]


def test_superset_order_is_pinned():
    assert get_layout("superset").names == SUPERSET_ORDER


@pytest.mark.parametrize("name", ALL_LAYOUTS)
def test_names_unique_and_snake_case(name):
    layout = get_layout(name)
    assert len(set(layout.names)) == layout.num_joints
    for n in layout.names:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", n), n


@pytest.mark.parametrize("name", ALL_LAYOUTS)
def test_edges_in_range_and_connected(name):
    layout = get_layout(name)
    n = layout.num_joints
    for i, j in layout.edges:
        assert 0 <= i < n and 0 <= j < n and i != j
    assert len({frozenset(e) for e in layout.edges}) == len(layout.edges), "duplicate edge"
    assert {k for e in layout.edges for k in e} == set(range(n)), "a keypoint has no edge"
    assert _is_connected(n, layout.edges)


@pytest.mark.parametrize("name", ALL_LAYOUTS)
def test_flip_pairs_are_name_consistent(name):
    layout = get_layout(name)
    paired = set()
    for left, right in layout.flip_pairs:
        assert layout.names[left].startswith("left_")
        assert layout.names[right] == "right_" + layout.names[left][len("left_"):]
        paired.update((left, right))
    sided = {i for i, n in enumerate(layout.names) if n.startswith(("left_", "right_"))}
    assert paired == sided


@pytest.mark.parametrize("name", ALL_LAYOUTS)
def test_flip_permutation_is_an_involution(name):
    layout = get_layout(name)
    perm = layout.flip_permutation
    assert sorted(perm) == list(range(layout.num_joints))
    assert [perm[p] for p in perm] == list(range(layout.num_joints))
    for i, n in enumerate(layout.names):
        flipped = layout.names[perm[i]]
        if n.startswith("left_"):
            assert flipped == "right_" + n[5:]
        elif n.startswith("right_"):
            assert flipped == "left_" + n[6:]
        else:
            assert perm[i] == i


def test_flip_permutation_convention_coco():
    # Pin: COCO left_eye (1) <-> right_eye (2), nose (0) stays.
    perm = get_layout("coco").flip_permutation
    assert perm[:5] == (0, 2, 1, 4, 3)


@pytest.mark.parametrize("name", ALL_LAYOUTS)
def test_canonical_names_are_superset_points(name):
    layout, superset = get_layout(name), get_layout("superset")
    assert len(layout.canonical) == layout.num_joints
    assert len(set(layout.canonical)) == layout.num_joints
    assert set(layout.canonical) <= set(superset.names)
    # mirrored keypoints stand for mirrored superset points
    sup_perm = superset.flip_permutation
    for i, j in enumerate(layout.flip_permutation):
        assert superset.index(layout.canonical[j]) == sup_perm[superset.index(layout.canonical[i])]


def test_superset_is_its_own_canonical_and_fully_used():
    superset = get_layout("superset")
    assert superset.canonical == superset.names
    used = {c for name in DETECTOR_LAYOUTS for c in get_layout(name).canonical}
    assert used == set(superset.names)


@pytest.mark.parametrize("layout, own, canonical", [
    ("openpose25", "mid_hip", "pelvis"),
    ("openpose25", "neck", "thorax"),
    ("openpose18", "neck", "thorax"),
    ("smpl24", "neck", "neck"),
    ("blazepose33", "left_foot_index", "left_big_toe"),
    ("h36m", "neck_nose", "neck_nose"),
])
def test_documented_canonical_mappings(layout, own, canonical):
    layout = get_layout(layout)
    assert layout.canonical[layout.index(own)] == canonical


def test_derivations_table():
    superset = get_layout("superset")
    for point, derivation in DERIVATIONS.items():
        assert point in superset.names
        assert derivation.sources and set(derivation.sources) <= set(superset.names)
        assert point not in derivation.sources
        assert derivation.note.strip()
    # mirrored points are derived from mirrored sources
    for point, derivation in DERIVATIONS.items():
        if point.startswith("left_"):
            mirror = DERIVATIONS["right_" + point[5:]]
            assert mirror.sources == tuple("right_" + s[5:] for s in derivation.sources)


def test_get_layout_case_insensitive_and_passthrough():
    coco = get_layout("coco")
    assert get_layout("COCO") is coco
    assert get_layout(coco) is coco


def test_unknown_layout_lists_choices():
    with pytest.raises(ValueError) as err:
        get_layout("cocoo")
    assert str(err.value) == (
        "unknown joint layout 'cocoo'; choose one of: blazepose33, coco, h36m, mpii, "
        "openpose18, openpose25, smpl24, superset, wholebody23"
    )


def test_index_and_unknown_keypoint():
    coco = get_layout("coco")
    assert coco.index("left_shoulder") == 5
    assert get_layout("h36m").index("head_top") == 10
    with pytest.raises(ValueError, match=r"unknown keypoint 'pelvis' in layout 'coco'; choose one of: nose, left_eye, .*right_ankle$"):
        coco.index("pelvis")


def test_repr():
    assert repr(get_layout("coco")) == "Layout(name='coco', num_joints=17)"


def test_layout_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_layout("coco").name = "x"


@pytest.mark.parametrize("kwargs, message", [
    (dict(names=("a", "a"), edges=((0, 1),), flip_pairs=(), canonical=("a", "b")), "not unique"),
    (dict(names=("a", "b"), edges=((0, 2),), flip_pairs=(), canonical=("a", "b")), "distinct indices"),
    (dict(names=("a", "b"), edges=((0, 1),), flip_pairs=(), canonical=("a",)), "canonical names for"),
    (dict(names=("a", "b"), edges=((0, 1),), flip_pairs=(), canonical=("a", "a")), "canonical names are not unique"),
])
def test_layout_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Layout(name="custom", **kwargs)


def test_docs_superset_table_matches_code():
    # docs/joints.md lists the superset as "| # | `name` | ...": keep it in sync.
    doc = (Path(__file__).resolve().parents[2] / "docs" / "joints.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| `([a-z0-9_]+)` \|", doc, flags=re.MULTILINE)
    assert [(int(i), n) for i, n in rows] == list(enumerate(get_layout("superset").names))
    for point in DERIVATIONS:
        assert f"`{point}`" in doc, point
