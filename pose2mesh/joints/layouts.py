"""Named keypoint layouts, the canonical superset and the derivation table.

Everything here is a declarative table keyed by keypoint *name*; indices are
computed once from the names when the module is imported, so no table below
contains a hand-written index.

* A :class:`Layout` is one detector's (or dataset's, or body model's) ordered
  list of keypoints, with its skeleton edges, its left/right flip pairs and,
  for every keypoint, the *canonical* superset point it stands for.
* ``superset`` is the one layout the networks consume: the union of the
  anatomical points of every layout below, so that one model serves every
  detector (absent points are masked, see :func:`pose2mesh.joints.to_superset`).
* :data:`DERIVATIONS` says how a canonical point that a source layout lacks can
  be approximated as the mean of other canonical points (mmpose
  ``KeypointConverter`` style, e.g. pelvis = mean(left_hip, right_hip)); each
  entry carries a note with the approximation it makes.

Keypoint names are snake_case and use the *subject's* left and right (the
convention of every dataset below): ``left_wrist`` is the person's left wrist,
which appears on the right of an image of a person facing the camera.

The mapping of several datasets' points onto one superset slot is an
approximation wherever the datasets define the point differently (joint centres
of motion capture or body models versus keypoints annotated on the skin); every
such shared slot is listed in ``docs/joints.md``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "Layout",
    "Derivation",
    "DERIVATIONS",
    "LAYOUTS",
    "get_layout",
    "list_layouts",
]


@dataclass(frozen=True, repr=False)
class Layout:
    """An ordered keypoint layout.

    Attributes:
        name: the layout's name, e.g. ``"coco"`` (what :func:`get_layout` takes).
        names: the layout's own keypoint names, snake_case, in the layout's
            order; ``names[j]`` is the keypoint at index ``j`` of a ``(..., J, D)``
            array.
        edges: skeleton edges as ``(i, j)`` index pairs.  The graph they form is
            connected and touches every keypoint, so it can serve as the
            keypoint graph of a graph network.
        flip_pairs: ``(left, right)`` index pairs, one per ``left_x``/``right_x``
            pair of names.
        canonical: for every keypoint, the name of the superset point it stands
            for (equal to ``names`` except where the layout's own name differs,
            e.g. OpenPose ``mid_hip`` -> ``pelvis``).  Distinct within a layout.

    Raises:
        ValueError: if the fields are inconsistent (lengths, duplicate names,
            indices out of range).
    """

    name: str
    names: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...]
    canonical: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.names)
        if len(set(self.names)) != n:
            raise ValueError(f"layout '{self.name}': keypoint names are not unique")
        if len(self.canonical) != n:
            raise ValueError(
                f"layout '{self.name}': {len(self.canonical)} canonical names for {n} keypoints"
            )
        if len(set(self.canonical)) != n:
            raise ValueError(f"layout '{self.name}': canonical names are not unique")
        for i, j in self.edges + self.flip_pairs:
            if not (0 <= i < n and 0 <= j < n) or i == j:
                raise ValueError(
                    f"layout '{self.name}': pair ({i}, {j}) is not two distinct indices in [0, {n})"
                )
        flipped = [k for pair in self.flip_pairs for k in pair]
        if len(set(flipped)) != len(flipped):
            raise ValueError(f"layout '{self.name}': a keypoint appears in two flip pairs")

    def __repr__(self) -> str:
        return f"Layout(name='{self.name}', num_joints={self.num_joints})"

    @property
    def num_joints(self) -> int:
        """Number of keypoints ``J`` of the layout."""
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of the keypoint called ``name`` (the layout's own name).

        Raises:
            ValueError: if the layout has no such keypoint; the message lists
                the valid names.
        """
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(
                f"unknown keypoint '{name}' in layout '{self.name}'; "
                f"choose one of: {', '.join(self.names)}"
            ) from None

    @property
    def flip_permutation(self) -> tuple[int, ...]:
        """Index permutation that swaps left and right keypoints.

        ``keypoints[..., list(layout.flip_permutation), :]`` relabels a pose
        after a horizontal mirror; the coordinates themselves still have to be
        mirrored (e.g. ``x -> width - 1 - x`` in pixels).  The permutation is
        an involution: applying it twice gives the identity.
        """
        perm = list(range(self.num_joints))
        for left, right in self.flip_pairs:
            perm[left], perm[right] = right, left
        return tuple(perm)


def _make_layout(
    name: str,
    names: tuple[str, ...],
    edges: tuple[tuple[str, str], ...],
    canonical: dict[str, str] | None = None,
) -> Layout:
    """Build a :class:`Layout` from name-keyed tables.

    Args:
        name: layout name.
        names: the layout's keypoint names, in order.
        edges: skeleton edges as pairs of keypoint names.
        canonical: ``{own name: superset name}`` for the keypoints whose
            superset point has another name; every other keypoint maps to the
            superset point of the same name.

    Flip pairs are read off the names: every ``left_x`` is paired with
    ``right_x`` and the layout may not contain an unpaired left/right name.
    """
    index = {n: i for i, n in enumerate(names)}
    flip_pairs = []
    for i, n in enumerate(names):
        for side, other in (("left_", "right_"), ("right_", "left_")):
            if n.startswith(side) and other + n[len(side):] not in index:
                raise ValueError(f"layout '{name}': '{n}' has no '{other + n[len(side):]}' partner")
        if n.startswith("left_"):
            flip_pairs.append((i, index["right_" + n[len("left_"):]]))
    canonical = canonical or {}
    unknown = set(canonical) - set(index)
    if unknown:
        raise ValueError(f"layout '{name}': canonical overrides for unknown keypoints {sorted(unknown)}")
    return Layout(
        name=name,
        names=tuple(names),
        edges=tuple((index[a], index[b]) for a, b in edges),
        flip_pairs=tuple(flip_pairs),
        canonical=tuple(canonical.get(n, n) for n in names),
    )


# ---------------------------------------------------------------------------
# The canonical superset.  Order is part of the trained networks' input format:
# append new points at the end, never reorder.
# ---------------------------------------------------------------------------
_SUPERSET_NAMES = (
    # trunk and head midline, bottom to top
    "pelvis",          # H36M/MPII/SMPL pelvis, OpenPose MidHip
    "spine1",          # SMPL spine1 (lower back)
    "spine",           # H36M spine (mid-torso)
    "spine2",          # SMPL spine2
    "spine3",          # SMPL spine3 (upper back)
    "thorax",          # H36M/MPII thorax, OpenPose Neck (shoulder midpoint)
    "neck",            # SMPL neck joint (base of the neck)
    "upper_neck",      # MPII upper neck
    "neck_nose",       # H36M neck/nose
    "head",            # SMPL head joint (head centre)
    "head_top",        # H36M/MPII head top
    # arms
    "left_collar", "right_collar",
    "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
    # legs
    "left_hip", "right_hip",
    "left_knee", "right_knee",
    "left_ankle", "right_ankle",
    # feet
    "left_heel", "right_heel",
    "left_foot", "right_foot",            # SMPL foot joint (ball of the foot)
    "left_big_toe", "right_big_toe",      # also BlazePose foot_index
    "left_small_toe", "right_small_toe",
    # hands
    "left_hand", "right_hand",            # SMPL hand joint
    "left_thumb", "right_thumb",          # BlazePose thumb knuckle
    "left_index", "right_index",          # BlazePose index-finger knuckle
    "left_pinky", "right_pinky",          # BlazePose pinky knuckle
    # face
    "nose",
    "left_eye_inner", "right_eye_inner",
    "left_eye", "right_eye",
    "left_eye_outer", "right_eye_outer",
    "left_ear", "right_ear",
    "left_mouth_corner", "right_mouth_corner",
)

_SUPERSET_EDGES = (
    # midline chain
    ("pelvis", "spine1"), ("spine1", "spine"), ("spine", "spine2"), ("spine2", "spine3"),
    ("spine3", "thorax"), ("thorax", "neck"), ("neck", "upper_neck"),
    ("upper_neck", "neck_nose"), ("neck_nose", "head"), ("head", "head_top"),
    # arms
    ("spine3", "left_collar"), ("left_collar", "left_shoulder"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("spine3", "right_collar"), ("right_collar", "right_shoulder"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    # legs and feet
    ("pelvis", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("left_ankle", "left_heel"), ("left_ankle", "left_foot"),
    ("left_foot", "left_big_toe"), ("left_foot", "left_small_toe"),
    ("pelvis", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("right_ankle", "right_heel"), ("right_ankle", "right_foot"),
    ("right_foot", "right_big_toe"), ("right_foot", "right_small_toe"),
    # hands
    ("left_wrist", "left_hand"), ("left_wrist", "left_thumb"),
    ("left_hand", "left_index"), ("left_hand", "left_pinky"),
    ("right_wrist", "right_hand"), ("right_wrist", "right_thumb"),
    ("right_hand", "right_index"), ("right_hand", "right_pinky"),
    # face
    ("head", "nose"),
    ("nose", "left_eye_inner"), ("left_eye_inner", "left_eye"),
    ("left_eye", "left_eye_outer"), ("left_eye_outer", "left_ear"),
    ("nose", "right_eye_inner"), ("right_eye_inner", "right_eye"),
    ("right_eye", "right_eye_outer"), ("right_eye_outer", "right_ear"),
    ("nose", "left_mouth_corner"), ("nose", "right_mouth_corner"),
)


# ---------------------------------------------------------------------------
# Derivations: how a canonical point missing from a source is approximated.
# ---------------------------------------------------------------------------
class Derivation(NamedTuple):
    """A canonical point approximated as the unweighted mean of ``sources``.

    The sources are canonical (superset) names; each is itself taken directly
    from the source layout or, failing that, derived again (recursively).  The
    point is absent when any source is.  ``note`` states the approximation.
    """

    sources: tuple[str, ...]
    note: str


DERIVATIONS: dict[str, Derivation] = {
    "pelvis": Derivation(
        ("left_hip", "right_hip"),
        "midpoint of the hips (OpenPose's MidHip, mmpose's COCO->H36M root). From COCO-style"
        " skin keypoints this lies a few cm from the H36M pelvis; SMPL's pelvis joint sits"
        " a few cm higher.",
    ),
    "thorax": Derivation(
        ("left_shoulder", "right_shoulder"),
        "midpoint of the shoulders (OpenPose's definition of Neck, mmpose's COCO->H36M"
        " thorax); H36M's and MPII's thorax lie within a few cm of it.",
    ),
    "spine": Derivation(
        ("pelvis", "thorax"),
        "midpoint of pelvis and thorax (mmpose's COCO->H36M spine); H36M's spine marker is"
        " close to it but sits nearer the back.",
    ),
    "neck": Derivation(
        ("thorax",),
        "SMPL's neck joint taken as the thorax (shoulder midpoint when no thorax is"
        " detected); the SMPL joint lies about 5 cm higher, inside the base of the neck.",
    ),
    "neck_nose": Derivation(
        ("nose",),
        "H36M's neck/nose point taken as the nose (mmpose / VideoPose3D COCO->H36M"
        " convention); the H36M point lies between the chin and the nose, several cm"
        " lower and further back.",
    ),
    "head": Derivation(
        ("left_ear", "right_ear"),
        "SMPL's head joint taken as the midpoint of the ears (the centre of the head);"
        " the SMPL joint sits a few cm lower, towards the top of the neck.",
    ),
    "left_hand": Derivation(
        ("left_index", "left_pinky"),
        "SMPL's hand joint taken as the midpoint of the index and pinky knuckles"
        " (BlazePose); the SMPL joint sits a little closer to the wrist.",
    ),
    "right_hand": Derivation(
        ("right_index", "right_pinky"),
        "SMPL's hand joint taken as the midpoint of the index and pinky knuckles"
        " (BlazePose); the SMPL joint sits a little closer to the wrist.",
    ),
}
"""Canonical point -> :class:`Derivation`.  Points not listed here (e.g.
``head_top``, ``upper_neck``, the SMPL spine joints) are never derived: when a
source layout lacks them they are absent, not guessed."""


# ---------------------------------------------------------------------------
# The layouts.
# ---------------------------------------------------------------------------
_COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
_COCO_EDGES = (
    # the official COCO skeleton
    ("left_ankle", "left_knee"), ("left_knee", "left_hip"),
    ("right_ankle", "right_knee"), ("right_knee", "right_hip"),
    ("left_hip", "right_hip"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"),
    ("right_shoulder", "right_elbow"), ("left_elbow", "left_wrist"),
    ("right_elbow", "right_wrist"), ("left_eye", "right_eye"), ("nose", "left_eye"),
    ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"),
    ("left_ear", "left_shoulder"), ("right_ear", "right_shoulder"),
)

# COCO: Lin et al. 2014, https://cocodataset.org/#keypoints-2020
_COCO = _make_layout("coco", _COCO_NAMES, _COCO_EDGES)

# COCO-WholeBody body + feet (Jin et al. 2020, github.com/jin-s13/COCO-WholeBody):
# keypoints 0-22 of the 133.
_WHOLEBODY23 = _make_layout(
    "wholebody23",
    _COCO_NAMES + (
        "left_big_toe", "left_small_toe", "left_heel",
        "right_big_toe", "right_small_toe", "right_heel",
    ),
    _COCO_EDGES + (
        ("left_ankle", "left_big_toe"), ("left_ankle", "left_small_toe"), ("left_ankle", "left_heel"),
        ("right_ankle", "right_big_toe"), ("right_ankle", "right_small_toe"),
        ("right_ankle", "right_heel"),
    ),
)

# Human3.6M, the 17 joints used by VideoPose3D / mmpose (mocap joints
# 0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27 of the 32).
_H36M = _make_layout(
    "h36m",
    (
        "pelvis", "right_hip", "right_knee", "right_ankle",
        "left_hip", "left_knee", "left_ankle",
        "spine", "thorax", "neck_nose", "head_top",
        "left_shoulder", "left_elbow", "left_wrist",
        "right_shoulder", "right_elbow", "right_wrist",
    ),
    (
        ("pelvis", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("pelvis", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("pelvis", "spine"), ("spine", "thorax"), ("thorax", "neck_nose"),
        ("neck_nose", "head_top"),
        ("thorax", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("thorax", "right_shoulder"), ("right_shoulder", "right_elbow"),
        ("right_elbow", "right_wrist"),
    ),
)

# MPII Human Pose (Andriluka et al. 2014), official 16-joint order.
_MPII = _make_layout(
    "mpii",
    (
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "pelvis", "thorax", "upper_neck", "head_top",
        "right_wrist", "right_elbow", "right_shoulder",
        "left_shoulder", "left_elbow", "left_wrist",
    ),
    (
        ("right_ankle", "right_knee"), ("right_knee", "right_hip"), ("right_hip", "pelvis"),
        ("pelvis", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("pelvis", "thorax"), ("thorax", "upper_neck"), ("upper_neck", "head_top"),
        ("right_wrist", "right_elbow"), ("right_elbow", "right_shoulder"),
        ("right_shoulder", "thorax"), ("thorax", "left_shoulder"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ),
)

# OpenPose BODY_25 (openpose doc/02_output.md); edges are its POSE_BODY_25_PAIRS.
# OpenPose's Neck is the shoulder midpoint: superset "thorax".
_OPENPOSE25 = _make_layout(
    "openpose25",
    (
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist", "mid_hip",
        "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "right_eye", "left_eye", "right_ear", "left_ear",
        "left_big_toe", "left_small_toe", "left_heel",
        "right_big_toe", "right_small_toe", "right_heel",
    ),
    (
        ("neck", "mid_hip"), ("neck", "right_shoulder"), ("neck", "left_shoulder"),
        ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("mid_hip", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("mid_hip", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("neck", "nose"), ("nose", "right_eye"), ("right_eye", "right_ear"),
        ("nose", "left_eye"), ("left_eye", "left_ear"),
        ("left_ankle", "left_big_toe"), ("left_big_toe", "left_small_toe"),
        ("left_ankle", "left_heel"),
        ("right_ankle", "right_big_toe"), ("right_big_toe", "right_small_toe"),
        ("right_ankle", "right_heel"),
    ),
    canonical={"neck": "thorax", "mid_hip": "pelvis"},
)

# OpenPose COCO-18 (openpose doc/02_output.md, POSE_COCO_PAIRS).
_OPENPOSE18 = _make_layout(
    "openpose18",
    (
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist",
        "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "right_eye", "left_eye", "right_ear", "left_ear",
    ),
    (
        ("neck", "right_shoulder"), ("neck", "left_shoulder"),
        ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("neck", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("neck", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("neck", "nose"), ("nose", "right_eye"), ("right_eye", "right_ear"),
        ("nose", "left_eye"), ("left_eye", "left_ear"),
    ),
    canonical={"neck": "thorax"},
)

# MediaPipe / BlazePose 33 pose landmarks (MediaPipe pose landmarker docs).
# Official names mouth_left / mouth_right are renamed left_/right_mouth_corner
# so that every left/right pair is found by its prefix.  Edges are MediaPipe's
# POSE_CONNECTIONS plus nose-mouth corners and ear-shoulder edges, which the
# official set lacks, so that the graph is connected.
_BLAZEPOSE33 = _make_layout(
    "blazepose33",
    (
        "nose", "left_eye_inner", "left_eye", "left_eye_outer",
        "right_eye_inner", "right_eye", "right_eye_outer",
        "left_ear", "right_ear", "left_mouth_corner", "right_mouth_corner",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_pinky", "right_pinky",
        "left_index", "right_index", "left_thumb", "right_thumb",
        "left_hip", "right_hip", "left_knee", "right_knee",
        "left_ankle", "right_ankle", "left_heel", "right_heel",
        "left_foot_index", "right_foot_index",
    ),
    (
        ("nose", "left_eye_inner"), ("left_eye_inner", "left_eye"), ("left_eye", "left_eye_outer"),
        ("left_eye_outer", "left_ear"), ("nose", "right_eye_inner"),
        ("right_eye_inner", "right_eye"), ("right_eye", "right_eye_outer"),
        ("right_eye_outer", "right_ear"), ("left_mouth_corner", "right_mouth_corner"),
        ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"),
        ("left_elbow", "left_wrist"), ("left_wrist", "left_pinky"), ("left_wrist", "left_index"),
        ("left_wrist", "left_thumb"), ("left_pinky", "left_index"),
        ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("right_wrist", "right_pinky"), ("right_wrist", "right_index"),
        ("right_wrist", "right_thumb"), ("right_pinky", "right_index"),
        ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"), ("left_hip", "right_hip"),
        ("left_hip", "left_knee"), ("right_hip", "right_knee"),
        ("left_knee", "left_ankle"), ("right_knee", "right_ankle"),
        ("left_ankle", "left_heel"), ("right_ankle", "right_heel"),
        ("left_heel", "left_foot_index"), ("right_heel", "right_foot_index"),
        ("left_ankle", "left_foot_index"), ("right_ankle", "right_foot_index"),
        # not in POSE_CONNECTIONS: connect mouth and head to the body
        ("nose", "left_mouth_corner"), ("nose", "right_mouth_corner"),
        ("left_ear", "left_shoulder"), ("right_ear", "right_shoulder"),
    ),
    # the foot index (tip of the foot) shares the big-toe slot: within ~2 cm
    canonical={"left_foot_index": "left_big_toe", "right_foot_index": "right_big_toe"},
)

# SMPL (Loper et al. 2015), the 24 skeleton joints in the official order;
# edges are the kinematic tree (parent, child).
_SMPL24 = _make_layout(
    "smpl24",
    (
        "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee",
        "spine2", "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot",
        "neck", "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
    ),
    (
        ("pelvis", "left_hip"), ("pelvis", "right_hip"), ("pelvis", "spine1"),
        ("left_hip", "left_knee"), ("right_hip", "right_knee"), ("spine1", "spine2"),
        ("left_knee", "left_ankle"), ("right_knee", "right_ankle"), ("spine2", "spine3"),
        ("left_ankle", "left_foot"), ("right_ankle", "right_foot"), ("spine3", "neck"),
        ("spine3", "left_collar"), ("spine3", "right_collar"), ("neck", "head"),
        ("left_collar", "left_shoulder"), ("right_collar", "right_shoulder"),
        ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
        ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
        ("left_wrist", "left_hand"), ("right_wrist", "right_hand"),
    ),
)

_SUPERSET = _make_layout("superset", _SUPERSET_NAMES, _SUPERSET_EDGES)

LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        _BLAZEPOSE33, _COCO, _H36M, _MPII, _OPENPOSE18, _OPENPOSE25, _SMPL24,
        _SUPERSET, _WHOLEBODY23,
    )
}
"""Layout name -> :class:`Layout`, every built-in layout."""


def list_layouts() -> tuple[str, ...]:
    """Names of the built-in layouts, sorted."""
    return tuple(sorted(LAYOUTS))


def get_layout(layout: str | Layout) -> Layout:
    """Resolve a layout by name (case-insensitive); a :class:`Layout` is returned as is.

    Raises:
        ValueError: for an unknown name; the message lists the valid names.
    """
    if isinstance(layout, Layout):
        return layout
    key = str(layout).lower()
    if key not in LAYOUTS:
        raise ValueError(
            f"unknown joint layout '{layout}'; choose one of: {', '.join(list_layouts())}"
        )
    return LAYOUTS[key]
