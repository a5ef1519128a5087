"""SMPL, SMPL-H and SMPL-X as pose2mesh body models, through the ``smplx`` package.

For users who own the licensed model files (they are never shipped with
pose2mesh).  ``smplx`` is an optional dependency (``pip install
'pose2mesh[smpl]'``), imported only when a :class:`SMPLBody` is built.

Conventions (those of :mod:`pose2mesh.body.base`, which are SMPL's own):

* Frame: the model file's, in metres: **Y up, X towards the body's left, Z
  forward** (the SMPL template stands in a T-pose facing +Z, its left hip joint
  at x > 0).  The rest-pose root joint is *not* at the origin (the SMPL pelvis
  sits about 0.2 m below it).
* ``pose``: one rotation per non-root *body* joint, relative to the parent,
  expressed in the world-aligned axes of the rest pose (SMPL's forward
  kinematics): 23 joints for SMPL, 21 for SMPL-H / SMPL-X (whose hands are
  posed by separate finger rotations).  Axis-angle ``(B, N, 3)`` in radians or
  matrices ``(B, N, 3, 3)``.
* ``global_orient`` rotates the body about its root joint (pelvis) and
  ``transl`` (metres) is added afterwards.  This is exactly what
  ``smplx.lbs.lbs`` does (the root's transform is ``[R_0 | J_0]`` relative to
  the rest root ``J_0``, and ``transl`` is added to vertices and joints after
  skinning), so the arguments are passed through unchanged.
* Hands (SMPL-H / SMPL-X): full per-joint rotations (``use_pca=False``) with a
  flat mean (``flat_hand_mean=True``): zero hand pose is the flat open hand of
  the template, as for every other joint.

The layer is a ``smplx`` *layer* class (``SMPLLayer`` / ``SMPLHLayer`` /
``SMPLXLayer``, the stateless counterparts of ``smplx.create``'s models), fed
rotation matrices (``pose2rot=False``) and every input explicitly on every call,
so any batch size works.  :func:`find_model_file` mirrors the file lookup of
``smplx.create`` and fails with a helpful :class:`FileNotFoundError` before
``smplx`` is called.

Licensed arrays (template, blend shapes, regressors, faces) are registered as
*non-persistent* buffers: ``.to()`` moves them, but ``state_dict()`` (and hence
any checkpoint of a network that contains the body) never stores them; they are
read from the user's file again.
"""
from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pose2mesh import joints as _joints
from pose2mesh.body.base import BodyModel, BodyOutput, as_rotation_matrices, superset_regressor

__all__ = ["SMPLBody", "find_model_file", "MODEL_TYPES", "GENDERS"]

logger = logging.getLogger(__name__)

MODEL_TYPES: tuple[str, ...] = ("smpl", "smplh", "smplx")
GENDERS: tuple[str, ...] = ("neutral", "male", "female")

_PREFIX = {"smpl": "SMPL", "smplh": "SMPLH", "smplx": "SMPLX"}
_DISPLAY = {"smpl": "SMPL", "smplh": "SMPL-H", "smplx": "SMPL-X"}
# smplx's default extension per model type first (SMPL: smplx reads pickles only;
# pose2mesh also reads an .npz SMPL file itself).
_EXTS = {"smpl": ("pkl", "npz"), "smplh": ("pkl", "npz"), "smplx": ("npz", "pkl")}
_SITES = {
    "smpl": "https://smpl.is.tue.mpg.de",
    "smplh": "https://mano.is.tue.mpg.de",
    "smplx": "https://smpl-x.is.tue.mpg.de",
}
_DOWNLOADS = {
    "smpl": "the SMPL model for Python",
    "smplh": "the (extended) SMPL+H model, found among the MANO downloads",
    "smplx": "the SMPL-X model",
}

# smplx.vertex_ids key -> superset name.  Only names: the vertex indices are
# read from smplx's table.  smplx's finger-*tip* vertices (lthumb, lindex, ...)
# are not used: the superset's left_thumb / left_index / left_pinky are
# BlazePose *knuckles*, taken from the SMPL-H / SMPL-X finger joints instead.
_VERTEX_KEYPOINTS = {
    "nose": "nose",
    "leye": "left_eye",
    "reye": "right_eye",
    "lear": "left_ear",
    "rear": "right_ear",
    "LBigToe": "left_big_toe",
    "LSmallToe": "left_small_toe",
    "LHeel": "left_heel",
    "RBigToe": "right_big_toe",
    "RSmallToe": "right_small_toe",
    "RHeel": "right_heel",
}
# SMPL-H / SMPL-X finger joint -> superset knuckle (BlazePose index_1, pinky_1,
# thumb_2: the metacarpophalangeal joints of index and pinky, the thumb's second
# joint).  Joint centres stand in for points on the skin: within ~1 cm.
_KNUCKLES = {
    "left_index1": "left_index",
    "left_pinky1": "left_pinky",
    "left_thumb2": "left_thumb",
    "right_index1": "right_index",
    "right_pinky1": "right_pinky",
    "right_thumb2": "right_thumb",
}


def _choose(value: str, choices: tuple[str, ...], what: str) -> str:
    key = str(value).lower()
    if key not in choices:
        raise ValueError(f"unknown {what} '{value}'; choose one of: {', '.join(choices)}")
    return key


def _candidate_files(model_path: Path, model_type: str, gender: str, ext: str | None) -> list[Path]:
    """Files tried, in order, for ``model_path`` (see :func:`find_model_file`)."""
    if model_path.is_file() or (not model_path.is_dir() and model_path.suffix in (".pkl", ".npz")):
        return [model_path]
    exts = (ext,) if ext else _EXTS[model_type]
    names = [f"{_PREFIX[model_type]}_{gender.upper()}.{e}" for e in exts]
    return [model_path / model_type / n for n in names] + [model_path / n for n in names]


def find_model_file(
    model_path: str | Path, model_type: str = "smpl", gender: str = "neutral", ext: str | None = None
) -> Path:
    """Locate a model file with ``smplx.create``'s rules.

    ``model_path`` is either the file itself or a folder holding
    ``<folder>/<model_type>/<PREFIX>_<GENDER>.<ext>`` (``smplx.create``'s layout,
    e.g. ``models/smpl/SMPL_NEUTRAL.pkl``) or ``<folder>/<PREFIX>_<GENDER>.<ext>``
    (the layout of the type folder itself, e.g. ``models/smplx/SMPLX_NEUTRAL.npz``).

    Args:
        model_path: folder or file.
        model_type: ``"smpl"``, ``"smplh"`` or ``"smplx"``.
        gender: ``"neutral"``, ``"male"`` or ``"female"`` (folders only).
        ext: ``"pkl"`` or ``"npz"``; ``None`` tries smplx's default for the
            model type first (``pkl`` for SMPL and SMPL-H, ``npz`` for SMPL-X),
            then the other one.

    Returns:
        The path of the existing file.

    Raises:
        ValueError: for an unknown model type, gender or extension.
        FileNotFoundError: naming every file looked for, where to download the
            model and where to put it.
    """
    model_type = _choose(model_type, MODEL_TYPES, "model_type")
    gender = _choose(gender, GENDERS, "gender")
    if ext is not None:
        ext = _choose(str(ext).lstrip("."), ("pkl", "npz"), "model file extension")
    path = Path(model_path).expanduser()
    candidates = _candidate_files(path, model_type, gender, ext)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    name = _DISPLAY[model_type]
    looked = "\n".join(f"  {c}" for c in candidates)
    raise FileNotFoundError(
        f"{name} model file not found; looked for:\n{looked}\n"
        f"{name} is licensed and not shipped with pose2mesh: register and accept the licence at "
        f"{_SITES[model_type]}, download {_DOWNLOADS[model_type]} and put the {gender} model at "
        f"'{candidates[0]}' (renaming the downloaded file), or pass the file's own path as model_path."
    )


def _extra_rotation_inputs(model_type: str) -> dict[str, int]:
    """Optional rotation inputs of ``model_type``: ``{keyword: number of rotations}``."""
    if model_type == "smplh":
        return {"left_hand_pose": 15, "right_hand_pose": 15}
    if model_type == "smplx":
        return {"left_hand_pose": 15, "right_hand_pose": 15, "jaw_pose": 1, "leye_pose": 1, "reye_pose": 1}
    return {}


class SMPLBody(BodyModel):
    """SMPL / SMPL-H / SMPL-X body layer: ``pose + betas (+ global_orient, transl) -> mesh``.

    Args:
        model_path: the model file, or a folder laid out as for ``smplx.create``
            (see :func:`find_model_file`).
        model_type: ``"smpl"`` (24 joints), ``"smplh"`` (52: 22 body + 2 x 15
            finger joints) or ``"smplx"`` (55: 22 body + jaw + 2 eyes + 30 finger joints).
        gender: ``"neutral"``, ``"male"`` or ``"female"`` (selects the file in a folder).
        num_betas: shape components to use.  ``smplx`` caps it at 10 when the
            file has fewer than 300 (the case of most files); :attr:`num_betas`
            is the number actually used.
        ext: ``"pkl"``, ``"npz"`` or ``None`` (try both, smplx's default first).
            A file path's own suffix always decides how it is read.
        device: where the buffers live (default: CPU).
        dtype: floating dtype of the buffers.  (smplx reads the arrays through
            float32, so float64 does not add precision to the model data.)

    Attributes:
        model_type, gender: as given.  model_file: the file read.
        faces: ``(F, 3)`` int64 triangle vertex indices.
        joint_names / parents: the skeleton in smplx's order (SMPL: the
            ``smpl24`` layout's names; SMPL-H / SMPL-X: smplx's names).
        num_betas: size of the shape space.
        num_pose_joints: rotations in ``pose`` (23 for SMPL, 21 for SMPL-H / SMPL-X).
        regressor_superset: ``(S, V)`` regressor of the superset keypoints.  Rows:
            the skeleton joints from ``J_regressor`` (via the ``smpl24`` layout's
            canonical names; SMPL-H / SMPL-X also give the index / pinky / thumb
            knuckles), nose / eyes / ears / toes / heels as single vertices from
            ``smplx.vertex_ids``, then every other point that the library's
            derivation table (:data:`pose2mesh.joints.DERIVATIONS`) builds from
            those (e.g. thorax = mean of the shoulders, SMPL-H's SMPL hand joint
            = mean of the index and pinky knuckles), listed in ``derived_superset``.
            The rest are zero rows, listed in ``missing_superset``.
        layer: the wrapped ``smplx`` layer.

    Shape:
        forward inputs (B = batch; every input may also have batch 1, or omit it):

        - pose: ``(B, N, 3)`` axis-angle (radians) or ``(B, N, 3, 3)``, N = ``num_pose_joints``.
        - betas: ``(B, S)``, S <= ``num_betas`` (missing trailing betas are 0).
        - global_orient: ``(B, 3)`` or ``(B, 3, 3)``.
        - transl: ``(B, 3)`` in metres.
        - SMPL-H / SMPL-X only, keyword: ``left_hand_pose`` / ``right_hand_pose``:
          ``(B, 15, 3)``, ``(B, 45)`` or ``(B, 15, 3, 3)``, smplx's finger-joint
          order (index, middle, pinky, ring, thumb; 3 joints each), relative to
          the flat hand.
        - SMPL-X only, keyword: ``jaw_pose`` / ``leye_pose`` / ``reye_pose``:
          ``(B, 3)`` or ``(B, 3, 3)``; ``expression``: ``(B, E)``, E <= 10 (smplx's
          default number of expression components; missing trailing ones are 0).
        - output: :class:`~pose2mesh.body.base.BodyOutput` with ``vertices (B, V, 3)``,
          ``joints (B, J, 3)``, ``rest_joints (B, J, 3)``, ``transforms (B, J, 3, 4)``.

    Raises:
        ImportError: when ``smplx`` is not installed.
        FileNotFoundError: when the model file is missing (see :func:`find_model_file`).
        ValueError: for an unknown model type / gender / extension, or a file
            whose skeleton does not match ``model_type``.
    """

    def __init__(
        self,
        model_path: str | Path,
        model_type: str = "smpl",
        gender: str = "neutral",
        num_betas: int = 10,
        ext: str | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        model_type = _choose(model_type, MODEL_TYPES, "model_type")
        gender = _choose(gender, GENDERS, "gender")
        try:
            import smplx
            from smplx.joint_names import JOINT_NAMES, SMPLH_JOINT_NAMES
            from smplx.vertex_ids import vertex_ids as smplx_vertex_ids
        except ImportError as err:
            raise ImportError(
                "SMPLBody needs the optional 'smplx' package: pip install 'pose2mesh[smpl]'"
            ) from err
        model_file = find_model_file(model_path, model_type, gender, ext)
        file_ext = model_file.suffix.lstrip(".").lower()
        if file_ext not in ("pkl", "npz"):
            raise ValueError(f"cannot read model file '{model_file}': expected a .pkl or .npz file")

        layer_class = {"smpl": smplx.SMPLLayer, "smplh": smplx.SMPLHLayer, "smplx": smplx.SMPLXLayer}[model_type]
        kwargs = dict(gender=gender, num_betas=num_betas, dtype=dtype, ext=file_ext)
        if model_type != "smpl":
            kwargs.update(use_pca=False, flat_hand_mean=True)
        elif file_ext == "npz":  # smplx's SMPL reads pickles only: hand it the arrays
            with np.load(model_file, allow_pickle=True) as data:
                kwargs["data_struct"] = smplx.utils.Struct(**{key: data[key] for key in data.files})
        # Build the layer class directly from the resolved file rather than
        # through smplx.create/build_layer: those guess the model type from the
        # file name (failing for e.g. 'basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl'),
        # and create's non-layer SMPL-H/X add an axis-angle pose mean that
        # breaks pose2rot=False.  smplx print()s warnings; route them to logging.
        captured = io.StringIO()
        try:
            with contextlib.redirect_stdout(captured):
                layer = layer_class(model_path=str(model_file), **kwargs)
        except (AttributeError, KeyError) as err:  # smplx reading an array the file does not have
            raise ValueError(
                f"'{model_file}' is not a {_DISPLAY[model_type]} model file (smplx: {type(err).__name__}: {err}): "
                f"is model_type='{model_type}' right?"
            ) from err
        for line in captured.getvalue().splitlines():
            logger.debug("smplx: %s", line)
        if layer.num_betas < num_betas:
            logger.warning(
                "%s file '%s' provides %d shape components; using num_betas=%d instead of %d",
                _DISPLAY[model_type], model_file, layer.num_betas, layer.num_betas, num_betas,
            )

        if model_type == "smpl":
            names = _joints.get_layout("smpl24").names
        elif model_type == "smplh":
            names = tuple(SMPLH_JOINT_NAMES[: 22 + 2 * layer.NUM_HAND_JOINTS])
        else:
            names = tuple(JOINT_NAMES[: 1 + layer.NUM_JOINTS])
        if layer.J_regressor.shape[0] != len(names):
            raise ValueError(
                f"'{model_file}' has {layer.J_regressor.shape[0]} joints, but a {_DISPLAY[model_type]} "
                f"model has {len(names)}: is model_type='{model_type}' right?"
            )

        # Licensed arrays: movable with .to(), never saved in a state_dict.
        for module in layer.modules():
            for name, buffer in list(module.named_buffers(recurse=False)):
                module.register_buffer(name, buffer, persistent=False)
        self.layer = layer
        self.model_type = model_type
        self.gender = gender
        self.model_file = model_file
        self.joint_names = names
        self.parents = tuple(int(p) for p in layer.parents.tolist())
        self.num_betas = int(layer.num_betas)
        self.num_pose_joints = int(layer.NUM_BODY_JOINTS)
        self._extra_rotations = _extra_rotation_inputs(model_type)
        self._extra_inputs = tuple(self._extra_rotations) + (("expression",) if model_type == "smplx" else ())
        self.register_buffer("faces", layer.faces_tensor.detach().clone().long(), persistent=False)

        table = smplx_vertex_ids["smplx" if model_type == "smplx" else "smplh"]
        regressor, derived, missing = self._superset_regressor(layer.J_regressor, table)
        self.register_buffer("regressor_superset", regressor, persistent=False)
        self.derived_superset = derived
        self.missing_superset = missing
        if device is not None:
            self.to(device)

    def _superset_regressor(
        self, j_regressor: Tensor, vertex_table: dict[str, int]
    ) -> tuple[Tensor, frozenset[str], frozenset[str]]:
        """Build ``(S, V)`` ``regressor_superset`` and the derived / missing superset names."""
        num_vertices = j_regressor.shape[1]
        smpl24 = _joints.get_layout("smpl24")
        joint_index = {n: j for j, n in enumerate(self.joint_names)}
        rows: dict[str, Tensor] = {}  # canonical superset name -> (V,) regressor row
        for own, canonical in zip(smpl24.names, smpl24.canonical):
            if own in joint_index:  # SMPL-H / SMPL-X lack SMPL's hand joints
                rows[canonical] = j_regressor[joint_index[own]]
        for own, canonical in _KNUCKLES.items():
            if own in joint_index:
                rows[canonical] = j_regressor[joint_index[own]]
        for key, canonical in _VERTEX_KEYPOINTS.items():
            row = j_regressor.new_zeros(num_vertices)
            row[vertex_table[key]] = 1.0
            rows[canonical] = row
        regressor, derived, missing = superset_regressor(rows, f"{self.model_type}_regressed")
        return regressor.to(j_regressor.dtype).detach().contiguous(), derived, missing

    def __repr__(self) -> str:
        return f"SMPLBody(model_type='{self.model_type}', gender='{self.gender}', num_betas={self.num_betas})"

    def _batch_extra(self, extra: dict[str, object]) -> dict[str, Tensor]:
        """Validate the optional hand / face inputs; each gets batch 1 or its own batch."""
        unknown = sorted(set(extra) - set(self._extra_inputs))
        if unknown:
            accepted = ", ".join(self._extra_inputs) or "none"
            raise TypeError(
                f"unexpected keyword argument(s) {', '.join(unknown)} for model_type "
                f"'{self.model_type}'; accepted: {accepted}"
            )
        ref = self.regressor_superset
        out = {}
        for name, value in extra.items():
            if value is None:
                continue
            x = torch.as_tensor(value, dtype=ref.dtype, device=ref.device)
            if name == "expression":
                x = x.reshape(-1, x.shape[-1]) if x.ndim else x
                size = self.layer.num_expression_coeffs
                if x.ndim != 2 or x.shape[1] > size:
                    raise ValueError(f"expression must have shape (B, E) with E <= {size}, got {tuple(x.shape)}")
                out[name] = torch.cat([x, x.new_zeros(x.shape[0], size - x.shape[1])], 1)
                continue
            count = self._extra_rotations[name]
            if count > 1 and x.ndim and x.shape[-1] == 3 * count:  # smplx's flat axis-angle (B, 3 * count)
                x = x.reshape(*x.shape[:-1], count, 3)
            mats = as_rotation_matrices(x, name)
            if count == 1 and mats.ndim in (2, 3):
                mats = mats.reshape(-1, 1, 3, 3)
            elif mats.ndim == 3:
                mats = mats[None]
            if mats.ndim != 4 or mats.shape[1] != count:
                if count == 1:
                    shapes = "(B, 3) or (B, 3, 3)"
                else:
                    shapes = f"(B, {count}, 3), (B, {3 * count}) or (B, {count}, 3, 3)"
                raise ValueError(f"{name} must have shape {shapes}, got {tuple(x.shape)}")
            out[name] = mats
        return out

    def _default_extra(self, name: str) -> Tensor:
        """Batch-1 value of an omitted optional input: identity rotations, zero expression."""
        ref = self.regressor_superset
        if name == "expression":
            return ref.new_zeros(1, self.layer.num_expression_coeffs)
        eye = torch.eye(3, dtype=ref.dtype, device=ref.device)
        return eye.expand(1, self._extra_rotations[name], 3, 3)

    def _rest_shape_components(self, betas: Tensor, extra: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Shape coefficients and their ``(V, 3, C)`` blend shapes (SMPL-X: betas + expression)."""
        if self.model_type != "smplx":
            return betas, self.layer.shapedirs
        return (
            torch.cat([betas, extra["expression"]], -1),
            torch.cat([self.layer.shapedirs, self.layer.expr_dirs], -1),
        )

    def forward(
        self,
        pose: Tensor | None = None,
        betas: Tensor | None = None,
        global_orient: Tensor | None = None,
        transl: Tensor | None = None,
        **extra: Tensor,
    ) -> BodyOutput:
        """Pose and shape the body (see the class docstring's ``Shape`` for all inputs).

        Args:
            pose: ``(B, N, 3)`` axis-angle or ``(B, N, 3, 3)`` rotations of the
                ``num_pose_joints`` non-root body joints; ``None``: rest pose.
            betas: ``(B, S)`` shape coefficients; ``None``: mean shape.
            global_orient: ``(B, 3)`` or ``(B, 3, 3)`` rotation about the root joint.
            transl: ``(B, 3)`` translation in metres, added last.
            **extra: SMPL-H / SMPL-X hand poses and SMPL-X jaw / eye poses and
                expression, passed to the smplx layer (identity / zero when omitted).

        Returns:
            :class:`BodyOutput`: ``vertices (B, V, 3)`` and ``joints (B, J, 3)``
            in metres (``joints`` = the first J joints of smplx's output, the
            skeleton), ``rest_joints (B, J, 3)`` = ``J_regressor @ v_shaped``
            (shaped, unposed, untranslated) and ``transforms (B, J, 3, 4)``:
            ``[R | t]`` of each joint, such that ``R @ rest_joints[:, j] + t ==
            joints[:, j]`` and skinning is ``sum_j w_vj [R_j | t_j] (v_shaped +
            pose blend shapes)``; ``transl`` is included in ``t``.

        Raises:
            ValueError: for inputs of the wrong shape or inconsistent batch sizes.
            TypeError: for a keyword input the model type does not have.
        """
        pose, global_orient, betas, transl = self._batch_inputs(
            pose, betas, global_orient, transl, self.num_pose_joints
        )
        extra = self._batch_extra(extra)
        sizes = [pose.shape[0]] + [v.shape[0] for v in extra.values()]
        batch = max(sizes)
        if any(s not in (1, batch) for s in sizes):
            raise ValueError(f"inconsistent batch sizes {sizes}: each input must have batch 1 or {batch}")
        for name in self._extra_inputs:  # every input explicit, all of one batch size
            value = extra[name] if name in extra else self._default_extra(name)
            extra[name] = value.expand(batch, *value.shape[1:])
        pose = pose.expand(batch, -1, -1, -1)
        global_orient = global_orient.expand(batch, -1, -1)
        betas = betas.expand(batch, -1)
        transl = transl.expand(batch, -1)

        out = self.layer(
            betas=betas,
            global_orient=global_orient,
            body_pose=pose,
            transl=transl,
            return_verts=True,
            return_full_pose=True,
            pose2rot=False,
            **extra,
        )
        num_joints = self.num_joints
        joints = out.joints[:, :num_joints]

        # Rest joints and per-joint transforms with smplx's own helpers, the
        # same computation as inside smplx.lbs.lbs (which does not return them).
        from smplx.lbs import batch_rigid_transform, blend_shapes, vertices2joints

        coefficients, shapedirs = self._rest_shape_components(betas, extra)
        v_shaped = self.layer.v_template + blend_shapes(coefficients, shapedirs)
        rest_joints = vertices2joints(self.layer.J_regressor, v_shaped)
        rotations = out.full_pose.reshape(batch, num_joints, 3, 3)
        _, relative = batch_rigid_transform(rotations, rest_joints, self.layer.parents, dtype=rest_joints.dtype)
        transforms = relative[:, :, :3, :]
        transforms = torch.cat([transforms[..., :3], transforms[..., 3:] + transl[:, None, :, None]], -1)
        return BodyOutput(vertices=out.vertices, joints=joints, rest_joints=rest_joints, transforms=transforms)
