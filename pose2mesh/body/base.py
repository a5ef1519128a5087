"""The interface every body model of pose2mesh implements.

Conventions (all body models):

* Body frame: metres, right-handed, **Y up, X towards the body's left, Z
  forward** (the SMPL convention).  Cameras (OpenCV: x right, y down, z
  forward) are handled elsewhere; a body output is in its own world frame.
* Pose: per-joint rotations relative to the parent joint, expressed in the
  world-aligned axes of the rest pose (SMPL-style forward kinematics), either
  axis-angle vectors ``(..., 3)`` in radians or rotation matrices
  ``(..., 3, 3)``.  ``global_orient`` rotates the whole body about its root
  joint; ``transl`` (metres) is then added.
* Shape: ``betas (B, S)``, coordinates in a linear shape space (unit-less).
* Keypoints of any named layout (:mod:`pose2mesh.joints`) are regressed from
  the vertices with a fixed ``(J, V)`` matrix: ``keypoints = R @ vertices``.
"""
from __future__ import annotations

from dataclasses import dataclass

import roma
import torch
from torch import Tensor, nn

from pose2mesh import joints as _joints


@dataclass
class BodyOutput:
    """Output of a body layer.

    Attributes:
        vertices: ``(B, V, 3)`` posed vertices in metres (body frame); ``None`` when only
            the skeleton was posed (``body(..., skin=False)``).
        joints: ``(B, J, 3)`` posed skeleton joints (the model's own rig) in metres.
        rest_joints: ``(B, J, 3)`` skeleton joints of the shaped body in the rest pose.
        transforms: ``(B, J, 3, 4)`` rigid transforms that map each rest-pose bone to
            its posed placement (rotation | translation), as used for skinning.
    """

    vertices: Tensor | None
    joints: Tensor
    rest_joints: Tensor
    transforms: Tensor


def as_rotation_matrices(rotations: Tensor, name: str) -> Tensor:
    """Convert axis-angle ``(..., 3)`` or matrices ``(..., 3, 3)`` to matrices ``(..., 3, 3)``.

    A 2-D ``(3, 3)`` input is either one rotation matrix (an unbatched
    ``global_orient``, as a single fit returns it) or three axis-angle vectors
    (``(B, 3)`` with ``B = 3``): it is read as one matrix when it is a rotation
    (orthonormal, determinant +1, to 1e-4), else as three vectors.
    """
    if rotations.shape[-2:] == (3, 3) and (
            rotations.ndim >= 3 or bool(roma.is_rotation_matrix(rotations.double(), epsilon=1e-4))):
        return rotations
    if rotations.shape[-1] == 3:
        return roma.rotvec_to_rotmat(rotations)
    raise ValueError(
        f"{name} must be axis-angle vectors (..., 3) or rotation matrices (..., 3, 3), "
        f"got shape {tuple(rotations.shape)}"
    )


class BodyModel(nn.Module):
    """Base class of body layers: ``pose + shape (+ orientation, translation) -> mesh``.

    Subclasses register every array as a buffer (``.to(device)`` moves them all)
    and implement :meth:`forward`.  They must set:

    * ``faces``: ``(F, 3)`` int64 buffer of triangle vertex indices.
    * ``joint_names`` / ``parents``: the skeleton (root first, ``parents[0] == -1``).
    * ``num_betas``: size of the shape space.
    * ``regressor_superset``: ``(S, V)`` buffer regressing the canonical superset
      keypoints (:func:`pose2mesh.joints.get_layout` ``("superset")``) from
      vertices; rows of keypoints the body cannot provide are zero and listed
      in ``missing_superset``.
    """

    faces: Tensor
    regressor_superset: Tensor
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    num_betas: int
    missing_superset: frozenset[str] = frozenset()

    @property
    def num_vertices(self) -> int:
        """Number of mesh vertices ``V``."""
        return int(self.regressor_superset.shape[1])

    @property
    def num_joints(self) -> int:
        """Number of skeleton joints ``J`` (root included)."""
        return len(self.joint_names)

    def keypoint_regressor(self, layout: str) -> Tensor:
        """The ``(J_layout, V)`` matrix regressing ``layout``'s keypoints from vertices.

        Built as ``conversion_matrix(superset, layout) @ regressor_superset``, so
        a layout keypoint defined as an average (e.g. H36M pelvis) is the same
        average of superset points.  Rows of keypoints this body cannot place
        (see ``missing_superset``) are all zero.
        """
        mix = _joints.conversion_matrix("superset", layout)
        mix = torch.as_tensor(mix, dtype=self.regressor_superset.dtype, device=self.regressor_superset.device)
        return mix @ self.regressor_superset

    def regress_keypoints(self, vertices: Tensor, layout: str = "superset") -> Tensor:
        """Regress the keypoints of ``layout`` from vertices.

        Args:
            vertices: ``(..., V, 3)`` vertices in metres.
            layout: any layout name of :mod:`pose2mesh.joints`.

        Returns:
            ``(..., J_layout, 3)`` keypoints in the same frame and units.
        """
        if vertices.shape[-2:] != (self.num_vertices, 3):
            raise ValueError(
                f"vertices must have shape (..., {self.num_vertices}, 3), got {tuple(vertices.shape)}"
            )
        regressor = self.keypoint_regressor(layout).to(vertices.dtype)
        return torch.einsum("jv,...vc->...jc", regressor, vertices)

    def _batch_inputs(
        self,
        pose: Tensor | None,
        betas: Tensor | None,
        global_orient: Tensor | None,
        transl: Tensor | None,
        num_pose_joints: int,
        pad_betas: bool = True,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Validate and broadcast the forward arguments to one batch size.

        Returns rotation matrices ``pose (B, num_pose_joints, 3, 3)``,
        ``global_orient (B, 3, 3)``, ``betas (B, num_betas)`` (``(B, S')`` as given
        when ``pad_betas`` is False) and ``transl (B, 3)``.
        """
        ref = self.regressor_superset
        sizes = []
        if pose is not None:
            pose = as_rotation_matrices(torch.as_tensor(pose, dtype=ref.dtype, device=ref.device), "pose")
            if pose.ndim == 3:  # a single (J-1, 3, 3) pose
                pose = pose[None]
            if pose.ndim != 4 or pose.shape[1] != num_pose_joints:
                raise ValueError(
                    f"pose must have shape (B, {num_pose_joints}, 3) or (B, {num_pose_joints}, 3, 3) "
                    f"(one rotation per non-root joint), got {tuple(pose.shape)}"
                )
            sizes.append(pose.shape[0])
        if global_orient is not None:
            global_orient = as_rotation_matrices(
                torch.as_tensor(global_orient, dtype=ref.dtype, device=ref.device), "global_orient"
            ).reshape(-1, 3, 3)
            sizes.append(global_orient.shape[0])
        if betas is not None:
            betas = torch.as_tensor(betas, dtype=ref.dtype, device=ref.device)
            betas = betas.reshape(-1, betas.shape[-1]) if betas.ndim not in (0, 2) else betas
            if betas.ndim != 2 or betas.shape[1] > self.num_betas:
                raise ValueError(
                    f"betas must have shape (B, S) with S <= {self.num_betas}, got {tuple(betas.shape)}"
                )
            sizes.append(betas.shape[0])
        if transl is not None:
            transl = torch.as_tensor(transl, dtype=ref.dtype, device=ref.device).reshape(-1, 3)
            sizes.append(transl.shape[0])
        if 0 in sizes:
            raise ValueError("empty batch: every input needs a batch size B >= 1")
        batch = max(sizes, default=1)
        if any(s not in (1, batch) for s in sizes):
            raise ValueError(f"inconsistent batch sizes {sizes}: each input must have batch 1 or {batch}")

        eye = torch.eye(3, dtype=ref.dtype, device=ref.device)
        pose = eye.expand(batch, num_pose_joints, 3, 3) if pose is None else pose.expand(batch, -1, -1, -1)
        global_orient = eye.expand(batch, 3, 3) if global_orient is None else global_orient.expand(batch, -1, -1)
        if betas is None:
            betas = ref.new_zeros(batch, self.num_betas)
        elif pad_betas and betas.shape[1] < self.num_betas:  # missing trailing coefficients are zero
            betas = torch.cat([betas, betas.new_zeros(betas.shape[0], self.num_betas - betas.shape[1])], 1)
        betas = betas.expand(batch, -1)
        transl = ref.new_zeros(batch, 3) if transl is None else transl.expand(batch, -1)
        return pose, global_orient, betas, transl


def superset_regressor(rows: dict[str, Tensor], name: str = "body") -> tuple[Tensor, frozenset[str], frozenset[str]]:
    """Assemble a body's ``(S, V)`` superset regressor from the points it defines directly.

    The directly defined points form an ad-hoc layout; the library's own
    conversion rules (:func:`pose2mesh.joints.conversion_matrix`, with its
    averaged derivations such as ``thorax = mean(shoulders)``) then fill every
    superset slot they can, so a body and a detector define derived points the
    same way.

    Args:
        rows: canonical superset name -> ``(V,)`` regressor row (weights summing to 1).
        name: a name for the ad-hoc layout (for error messages).

    Returns:
        ``(regressor (S, V), derived, missing)``: the float64 regressor, the names
        filled by derivation rules, and the names no rule could fill (zero rows).
    """
    names = tuple(rows)
    source = _joints.Layout(name=name, names=names, edges=(), flip_pairs=(), canonical=names)
    mix = torch.as_tensor(_joints.conversion_matrix(source, "superset"), dtype=torch.float64)
    regressor = mix @ torch.stack([torch.as_tensor(rows[n], dtype=torch.float64) for n in names])
    superset = _joints.get_layout("superset").names
    built = {n for n, w in zip(superset, mix) if bool(w.any())}
    return regressor, frozenset(built - set(names)), frozenset(n for n in superset if n not in built)
