"""Fit the open body's pose and shape to 3D keypoints by optimisation.

This is the "optimisation fitting" baseline of the evaluation report: the
superset keypoints lifted by a PoseNet are explained by the body model itself
(SMPLify-style, but against 3D targets) instead of by the MeshNet.

Conventions
-----------
* Input ``keypoints3d (..., 52, 3)``: canonical superset keypoints
  (:func:`pose2mesh.joints.get_layout` ``("superset")``) in METRES and OpenCV
  CAMERA axes (x right, y down, z forward), usually root-relative (any
  translation will do: the body's translation is fitted too).
* The body is posed directly in camera axes: ``global_orient`` maps the body
  frame (Y up, X to the body's left, Z forward) to camera axes, so
  ``body(pose, betas, global_orient, transl).vertices`` is exactly the
  returned ``vertices``.  Outputs are re-rooted at the regressed superset
  pelvis (index 0) like :class:`pose2mesh.models.Pose2MeshNet`'s outputs.
* Rotations are returned as matrices; local rotations follow
  :mod:`pose2mesh.body.base` (relative to the parent, world-aligned rest
  axes).  The solver updates them by small rotations (axis-angle, radians,
  ``roma.rotvec_to_rotmat``); the pose prior penalises their axis-angle norm.
* Deterministic: there is no randomness; the same inputs give the same fit
  on the same device.

Method
------
A batched Levenberg-Marquardt solver (each sample its own damping) over the
global rotation, the local rotations, ``num_betas`` shape coefficients and
the translation, with an analytic Jacobian.  Keypoints regressed from a
linear-blend-skinned mesh are linear in the bone transforms and in the rest
vertices, so the sums over vertices are folded into 230 (keypoint, joint)
terms once (:class:`FoldedKeypoints`) and no vertex is skinned while fitting;
the full mesh is skinned once at the end.  First-order fitting (Adam) was
measured first and converged far more slowly (see ``docs/fitting.md``).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields

import roma
import torch
from torch import Tensor

from pose2mesh import joints as _joints

logger = logging.getLogger(__name__)

__all__ = ["FitResult", "FoldedKeypoints", "fit_body_to_keypoints", "CAMERA_FROM_BODY", "LOSSES", "TORSO"]

#: Rotation from the body frame (Y up, Z forward) to OpenCV camera axes for a
#: person standing upright and facing the camera: x -> x, y -> -y, z -> -z.
CAMERA_FROM_BODY = ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0))

#: Superset points taken as one rigid block to initialise the global orientation.
TORSO = ("pelvis", "spine1", "spine", "spine2", "spine3", "thorax", "neck",
         "left_shoulder", "right_shoulder", "left_hip", "right_hip")

#: Valid ``loss`` values: ``"l2"`` squared distance; ``"l1"`` Euclidean distance
#: (robust to outlying keypoints; solved by iteratively reweighted least squares).
LOSSES = ("l2", "l1")

NUM_SUPERSET = 52


@dataclass
class FitResult:
    """Output of :func:`fit_body_to_keypoints`; ``...`` is the input's batch shape.

    Attributes:
        vertices: ``(..., V, 3)`` fitted mesh, metres, camera axes, regressed pelvis at 0.
        joints: ``(..., 52, 3)`` superset keypoints regressed from ``vertices`` (pelvis at 0).
        pose: ``(..., J-1, 3, 3)`` local joint rotations (body convention).
        global_orient: ``(..., 3, 3)`` rotation from the body frame to camera axes.
        betas: ``(..., S)`` shape coefficients (``S = num_betas``; the others are 0).
        transl: ``(..., 3)`` metres, such that ``body(pose, betas, global_orient, transl)``
            gives ``vertices``.
        error: ``(...)`` weighted mean distance (metres) from ``joints`` to the targets,
            after the fitted translation: what the body could not explain (NaN for
            a sample whose weights are all 0).
    """

    vertices: Tensor
    joints: Tensor
    pose: Tensor
    global_orient: Tensor
    betas: Tensor
    transl: Tensor
    error: Tensor

    def reshape(self, batch_shape: tuple[int, ...]) -> "FitResult":
        """The same result with the leading (sample) dimension reshaped to ``batch_shape``."""
        def split(x: Tensor) -> Tensor:
            return x.reshape(tuple(batch_shape) + tuple(x.shape[1:]))

        return FitResult(**{f.name: split(getattr(self, f.name)) for f in fields(self)})


def _skew(v: Tensor) -> Tensor:
    """Cross-product matrices ``(..., 3, 3)`` of ``v (..., 3)``: ``skew(a) @ b == a x b``."""
    zero = torch.zeros_like(v[..., 0])
    x, y, z = v.unbind(-1)
    return torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).view(*v.shape, 3)


class FoldedKeypoints:
    """Superset keypoints of an LBS body as a function of its posed skeleton, with their Jacobian.

    Keypoints regressed (``R``, ``(52, V)``) from linearly blend-skinned
    (weights ``W``, ``(V, J)``) rest vertices ``v_k = T_k + D_k beta`` are::

        y_s = sum_k R_sk sum_j W_kj A_j [v_k; 1] = sum_j A_j [m_sj(beta); c_sj],
        m_sj = sum_k R_sk W_kj v_k,   c_sj = sum_k R_sk W_kj,

    with ``A_j = [G_j | p_j - G_j r_j]`` the bone transforms (world rotation
    ``G_j``, posed joint ``p_j``, rest joint ``r_j(beta)``).  The sums over
    vertices are precomputed in float64 for the (keypoint, joint) pairs with
    ``c_sj != 0`` (230 for the open body): exact, with no vertex skinned.

    The Jacobian is taken with respect to, in order: a small world-frame
    rotation ``w_i`` (axis-angle, radians) of the subtree of each joint ``i``
    about ``p_i`` (``J * 3`` columns; joint 0 = the global orientation), the
    ``S`` betas, and the translation (3 columns).

    Args:
        body: an :class:`~pose2mesh.body.OpenBody` (LBS without pose correctives).
        num_betas: shape coefficients ``S`` to differentiate with respect to.
    """

    def __init__(self, body, num_betas: int) -> None:
        dev, dt = body.regressor_superset.device, body.regressor_superset.dtype
        self.body, self.num_betas = body, num_betas
        num_joints = body.num_joints
        regressor = body.regressor_superset.double()
        ids = torch.nonzero(regressor.abs().sum(0) > 0)[:, 0]
        rw = regressor[:, ids, None] * body.skin_weights[ids].double()[None]  # (52, K, J)
        dense_c = rw.sum(1)  # (52, J); each row sums to 1
        pair_s, pair_j = torch.nonzero(dense_c != 0, as_tuple=True)
        rw = rw[pair_s, :, pair_j]  # (P, K)
        shapedirs = body.shapedirs[:num_betas].reshape(num_betas, body.num_vertices, 3)[:, ids].double()  # (S, K, 3)
        self.pair_joint = pair_j
        self.template = (rw @ body.v_template[ids].double()).to(dt)  # (P, 3)
        self.dirs = torch.einsum("pk,skc->pcs", rw, shapedirs).to(dt)  # (P, 3, S)
        self.pair_c = rw.sum(1).to(dt)  # (P,)
        self.dense_c = dense_c.to(dt)
        self.select = torch.zeros(NUM_SUPERSET, len(pair_s), dtype=dt, device=dev)  # (52, P)
        self.select[pair_s, torch.arange(len(pair_s), device=dev)] = 1.0

        # ancestors[j, i] = 1 when joint i is j itself or one of its ancestors.
        ancestors = torch.zeros(num_joints, num_joints, dtype=torch.float64, device=dev)
        for j in range(num_joints):
            i = j
            while i >= 0:
                ancestors[j, i] = 1.0
                i = body.parents[i]
        self.ancestors = ancestors.to(dt)
        # Rotation Jacobian rows: (keypoint s, joint i) with pairs of s below i.
        below = torch.einsum("sp,pi->spi", self.select.double(), ancestors[pair_j])  # (52, P, J)
        row_s, row_i = torch.nonzero(below.sum(1) > 0, as_tuple=True)
        self.row_s, self.row_i = row_s, row_i
        self.rows = below[row_s, :, row_i].to(dt)  # (Q, P)
        self.rows_c = self.rows @ self.pair_c  # (Q,)
        jointdirs = body.jointdirs[:num_betas].reshape(num_betas, num_joints, 3).permute(1, 2, 0)
        self.jointdirs = jointdirs.to(dt)  # (J, 3, S)
        parent = body.parent_index
        self.bone_dirs = (self.jointdirs - self.jointdirs[parent])[1:]  # (J-1, 3, S)
        self.parent = parent

    @property
    def num_params(self) -> int:
        """Columns of the Jacobian: ``3 J + S + 3``."""
        return 3 * self.body.num_joints + self.num_betas + 3

    def __call__(self, pose: Tensor, betas: Tensor, global_orient: Tensor, transl: Tensor,
                 jacobian: bool = True) -> tuple[Tensor, Tensor | None, Tensor]:
        """Keypoints ``(B, 52, 3)`` (metres), their Jacobian ``(B, 52, 3, num_params)`` (None
        when ``jacobian`` is False) and the bone transforms ``(B, J, 3, 4)``.

        Args: as the body's forward: ``pose (B, J-1, 3, 3)``, ``betas (B, S)``,
        ``global_orient (B, 3, 3)``, ``transl (B, 3)``.
        """
        posed = self.posed(pose, betas, global_orient, transl)
        jac = self.jacobian(posed) if jacobian else None
        return posed["keypoints"], jac, posed["transforms"]

    def posed(self, pose: Tensor, betas: Tensor, global_orient: Tensor, transl: Tensor) -> dict[str, Tensor]:
        """Pose the skeleton and place the keypoints: a dict of ``keypoints (B, 52, 3)``,
        ``transforms (B, J, 3, 4)``, ``joints (B, J, 3)`` and the per-pair terms ``terms (B, P, 3)``."""
        # Posing the skeleton (skin=False) still builds the rest mesh of the
        # vertices asked for: ask for one vertex instead of all of them.
        one_vertex = torch.zeros(1, dtype=torch.int64, device=pose.device)
        out = self.body(pose=pose, betas=betas if self.num_betas else None, global_orient=global_orient,
                        transl=transl, skin=False, vertex_ids=one_vertex)
        bone = out.transforms.index_select(1, self.pair_joint)  # (B, P, 3, 4)
        rest = self.template + torch.einsum("pcs,bs->bpc", self.dirs, betas)  # (B, P, 3)
        # Elementwise products: far faster on CPU than B * P tiny matrix products.
        terms = (bone[..., :3] * rest[:, :, None]).sum(-1) + bone[..., 3] * self.pair_c[:, None]
        keypoints = torch.einsum("sp,bpc->bsc", self.select, terms)
        return {"keypoints": keypoints, "transforms": out.transforms, "joints": out.joints, "terms": terms}

    def jacobian(self, posed: dict[str, Tensor]) -> Tensor:
        """The Jacobian ``(B, 52, 3, num_params)`` of the keypoints of :meth:`posed`'s output."""
        transforms, joints, terms = posed["transforms"], posed["joints"], posed["terms"]
        batch, num_joints = transforms.shape[0], transforms.shape[1]
        rot = transforms[..., :3]
        # Rotating the subtree of joint i by w about p_i moves a term by w x (term - c p_i).
        # One (Q, P) @ (P, B * 3) product (a broadcast batched product is many times slower).
        sums = (self.rows @ terms.transpose(0, 1).reshape(terms.shape[1], -1)).view(-1, batch, 3)
        lever = sums - self.rows_c[:, None, None] * joints[:, self.row_i].transpose(0, 1)  # (Q, B, 3)
        jac = terms.new_zeros(batch, NUM_SUPERSET, 3, self.num_params)
        jac_rot = jac[..., : 3 * num_joints].view(batch, NUM_SUPERSET, 3, num_joints, 3)
        jac_rot[:, self.row_s, :, self.row_i, :] = -_skew(lever)  # value (Q, B, 3, 3)
        # Betas move the rest vertices (dirs) and the rest joints: dp_j/dbeta down the tree.
        bone_moves = torch.einsum("bjcd,jds->bjcs", rot[:, self.parent[1:]], self.bone_dirs)  # (B, J-1, 3, S)
        joint_moves = self.jointdirs[0] + torch.einsum("jk,bkcs->bjcs", self.ancestors[:, 1:], bone_moves)
        per_joint = joint_moves - torch.einsum("bjcd,jds->bjcs", rot, self.jointdirs)  # (B, J, 3, S)
        betas_cols = slice(3 * num_joints, 3 * num_joints + self.num_betas)
        vertex_moves = torch.einsum("bpcd,pds->bpcs", rot[:, self.pair_joint], self.dirs)  # (B, P, 3, S)
        jac[..., betas_cols] = (torch.einsum("sp,bpcq->bscq", self.select, vertex_moves)
                                + torch.einsum("sj,bjcq->bscq", self.dense_c, per_joint))
        jac[..., -3:] = torch.einsum("sj,cd->scd", self.dense_c, torch.eye(3, dtype=terms.dtype, device=terms.device))
        return jac


def _initial_orientation(rest_torso: Tensor, target_torso: Tensor, torso_weights: Tensor) -> Tensor:
    """Global orientations ``(N, 3, 3)`` aligning the rest torso to the target torso (weighted Kabsch).

    Samples whose weighted torso points do not span a plane (fewer than
    three, or nearly collinear) get :data:`CAMERA_FROM_BODY` (upright, facing
    the camera).
    """
    default = torch.tensor(CAMERA_FROM_BODY, dtype=target_torso.dtype, device=target_torso.device)
    w = torso_weights / torso_weights.sum(-1, keepdim=True).clamp_min(1e-12)
    centred = (target_torso - (w[..., None] * target_torso).sum(-2, keepdim=True)) * w[..., None].sqrt()
    spread = torch.linalg.svdvals(centred)[..., 1]  # weighted rms extent across the main axis, metres
    ok = ((torso_weights > 0).sum(-1) >= 3) & (spread > 1e-3)
    safe_w = torch.where(ok[:, None], torso_weights, torch.ones_like(torso_weights))
    rot, _ = roma.rigid_points_registration(rest_torso.expand_as(target_torso), target_torso, weights=safe_w)
    return torch.where(ok[:, None, None], rot, default)


def _check_inputs(body, keypoints3d: Tensor, weights: Tensor | None, loss: str, steps: int, num_betas: int,
                  sigma: float, pose_weight: float, betas_weight: float) -> None:
    from pose2mesh.body.open_body import OpenBody

    if not isinstance(body, OpenBody):
        raise TypeError(
            "fit_body_to_keypoints needs an OpenBody (linear blend skinning without pose-dependent "
            f"correctives, so that keypoints fold into the bone transforms); got {type(body).__name__}"
        )
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of: {', '.join(LOSSES)}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if not 0 < sigma < math.inf:
        raise ValueError(f"sigma must be finite and > 0 (metres), got {sigma}")
    if not (0 <= pose_weight < math.inf and 0 <= betas_weight < math.inf):
        raise ValueError(f"pose_weight and betas_weight must be finite and >= 0, got {pose_weight} and {betas_weight}")
    if not 0 <= num_betas <= body.num_betas:
        raise ValueError(f"num_betas must be in [0, {body.num_betas}] for this body, got {num_betas}")
    if keypoints3d.ndim < 2 or tuple(keypoints3d.shape[-2:]) != (NUM_SUPERSET, 3):
        raise ValueError(
            f"keypoints3d must be superset keypoints of shape (..., {NUM_SUPERSET}, 3) in metres, "
            f"got {tuple(keypoints3d.shape)}"
        )
    if weights is not None:
        if tuple(weights.shape) != tuple(keypoints3d.shape[:-1]):
            raise ValueError(
                f"weights must have shape {tuple(keypoints3d.shape[:-1])} (one per keypoint of keypoints3d), "
                f"got {tuple(weights.shape)}"
            )
        if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()):
            raise ValueError("weights must be finite and >= 0 (0 = ignore the keypoint)")


def fit_body_to_keypoints(
    body,
    keypoints3d: Tensor,
    weights: Tensor | None = None,
    steps: int = 30,
    num_betas: int = 16,
    loss: str = "l2",
    sigma: float = 0.01,
    pose_weight: float = 1e-3,
    betas_weight: float = 1e-3,
    batch_size: int = 1024,
    progress: bool = False,
) -> FitResult:
    """Fit the body's pose, shape, orientation and translation to superset keypoints.

    Minimises, for each sample independently (batched)::

        sum_s w_s rho(|y_s - x_s| / sigma) / sum_s w_s
            + pose_weight * sum_i |theta_i|^2 + betas_weight * |beta|^2

    where ``y = regressor_superset @ vertices`` of the posed body, ``x`` the
    targets, ``theta_i`` the local rotations as axis-angle (radians) and
    ``rho(d) = d^2`` (``"l2"``) or ``2 d`` (``"l1"``, by iteratively reweighted
    least squares).  The global orientation starts from a weighted Kabsch
    alignment of the rest torso (:data:`TORSO`) to the target torso, the rest
    from the rest pose, mean shape and the best translation; a batched
    Levenberg-Marquardt solver with an analytic Jacobian
    (:class:`FoldedKeypoints`) then runs ``steps`` iterations.

    Args:
        body: an :class:`~pose2mesh.body.OpenBody`; the fit runs on its device and dtype.
        keypoints3d: ``(..., 52, 3)`` superset keypoints, metres, OpenCV camera axes.
        weights: ``(..., 52)`` non-negative keypoint weights (0 = ignore); default all 1.
        steps: Levenberg-Marquardt iterations (each solves a small linear system per sample).
        num_betas: shape coefficients fitted (the others stay 0); 0 keeps the mean shape.
        loss: ``"l2"`` or ``"l1"`` (:data:`LOSSES`).
        sigma: metres; the residual scale of the data term, a weighted mean that
            is 1 when every keypoint is ``sigma`` off: the prior weights are
            relative to that.
        pose_weight: weight of the squared axis-angle norm of the local rotations.
        betas_weight: weight of the squared norm of the betas.
        batch_size: samples solved at once (bounds memory; results do not depend on it
            beyond float rounding).
        progress: show a tqdm bar (off by default for library use).

    Returns:
        a :class:`FitResult` with the input's batch shape, on the body's device.  The fit
        is not differentiable (it runs under ``torch.no_grad``).

    Raises:
        TypeError: for a body other than :class:`~pose2mesh.body.OpenBody`.
        ValueError: for keypoints that are not ``(..., 52, 3)``, weights of another
            shape or negative, non-finite keypoints with a non-zero weight, or bad options.
    """
    keypoints3d = torch.as_tensor(keypoints3d)
    weights = None if weights is None else torch.as_tensor(weights)
    _check_inputs(body, keypoints3d, weights, loss, steps, num_betas, sigma, pose_weight, betas_weight)
    ref = body.regressor_superset
    batch_shape = tuple(keypoints3d.shape[:-2])
    target = keypoints3d.detach().to(device=ref.device, dtype=ref.dtype).reshape(-1, NUM_SUPERSET, 3)
    w = (torch.ones(target.shape[:2], dtype=ref.dtype, device=ref.device) if weights is None
         else weights.detach().to(device=ref.device, dtype=ref.dtype).reshape(-1, NUM_SUPERSET))
    if not bool(torch.isfinite(target[w > 0]).all()):
        raise ValueError("keypoints3d has non-finite values at keypoints with a non-zero weight")
    target = torch.where(w[..., None] > 0, target, torch.zeros_like(target))  # ignored points may be NaN
    if target.shape[0] == 0:
        raise ValueError("keypoints3d holds no sample")

    folded = FoldedKeypoints(body, num_betas)
    size = max(1, int(batch_size))
    starts = range(0, target.shape[0], size)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(starts) * steps, desc="fit body", unit="step")
    with torch.no_grad():
        parts = [_fit_batch(folded, target[s:s + size], w[s:s + size], steps, loss, sigma, pose_weight,
                            betas_weight, bar) for s in starts]
    if bar is not None:
        bar.close()
    result = FitResult(**{f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in fields(FitResult)})
    logger.info("fitted the body to %d keypoint sets: mean residual %.1f mm", result.error.numel(),
                1000 * result.error.nanmean().item())
    return result.reshape(batch_shape)


def _fit_batch(folded: FoldedKeypoints, target: Tensor, w: Tensor, steps: int, loss: str, sigma: float,
               pose_weight: float, betas_weight: float, bar) -> FitResult:
    """Fit ``target (n, 52, 3)`` with weights ``w (n, 52)``; see :func:`fit_body_to_keypoints`."""
    body = folded.body
    n, dev, dt = target.shape[0], target.device, target.dtype
    num_joints, num_betas = body.num_joints, folded.num_betas
    wn = w / w.sum(-1, keepdim=True).clamp_min(1e-12)  # all-zero rows: no data term, the fit stays at rest
    eye = torch.eye(3, dtype=dt, device=dev)
    pose = eye.expand(n, num_joints - 1, 3, 3).clone()
    betas = target.new_zeros(n, num_betas)
    rest = folded.posed(pose[:1], betas[:1], eye[None], target.new_zeros(1, 3))["keypoints"]
    torso = [_joints.get_layout("superset").index(name) for name in TORSO]
    orient = _initial_orientation(rest[:, torso], target[:, torso], w[:, torso])
    transl = (wn[..., None] * (target - folded.posed(pose, betas, orient, target.new_zeros(n, 3))["keypoints"])).sum(1)

    def evaluate(state: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """The posed skeleton and keypoints of ``state`` and its objective (see fit_body_to_keypoints)."""
        ev = folded.posed(*state)
        ev["residual"] = (ev["keypoints"] - target) / sigma
        ev["dist"] = ev["residual"].square().sum(-1).sqrt()  # (n, 52), in units of sigma
        ev["theta"] = roma.rotmat_to_rotvec(state[0])  # (n, J-1, 3) local axis-angle
        data = ev["dist"].square() if loss == "l2" else 2.0 * ev["dist"]
        ev["cost"] = ((wn * data).sum(1) + pose_weight * ev["theta"].square().sum((1, 2))
                      + betas_weight * state[1].square().sum(1))
        return ev

    def where(better: Tensor, new, old):
        """Per sample, ``new`` where ``better`` else ``old`` (tuples and dicts of tensors)."""
        if isinstance(new, dict):
            return {k: where(better, new[k], old[k]) for k in new}
        if isinstance(new, tuple):
            return tuple(where(better, a, b) for a, b in zip(new, old))
        return torch.where(better.view(-1, *[1] * (new.ndim - 1)), new, old)

    state = (pose, betas, orient, transl)
    current = evaluate(state)
    # A large initial damping (short, gradient-like first steps) avoids the local minima that
    # full Gauss-Newton steps from the rest pose fall into (elbows bent the wrong way).
    damping = torch.full((n,), 1.0, dtype=dt, device=dev)
    num_params = folded.num_params
    pose_block = slice(3, 3 * num_joints)  # the local rotations' columns (joint 0 is the global one)
    betas_block = slice(3 * num_joints, 3 * num_joints + num_betas)
    for _ in range(steps):
        # Normal equations of the (reweighted) least-squares problem, residuals in units of sigma.
        point_w = wn if loss == "l2" else wn / current["dist"].clamp_min(1e-2)  # IRLS for 2|r|: weight 1/|r|
        root_w = point_w.sqrt()[..., None]
        jac_w = (folded.jacobian(current) * (root_w[..., None] / sigma)).reshape(n, -1, num_params)
        hessian = jac_w.transpose(1, 2) @ jac_w  # (n, P, P)
        gradient = (jac_w.transpose(1, 2) @ (current["residual"] * root_w).reshape(n, -1, 1))[..., 0]
        # Priors: d theta_i / d w_i = G_parent^T (to first order), so the pose prior adds
        # pose_weight * I to the local rotations' block and pose_weight * G_parent theta_i to the gradient.
        parent_rot = current["transforms"][:, folded.parent[1:], :, :3]
        gradient[:, pose_block] += pose_weight * (parent_rot @ current["theta"][..., None]).reshape(n, -1)
        gradient[:, betas_block] += betas_weight * state[1]
        diag = hessian.diagonal(dim1=1, dim2=2)
        diag[:, pose_block] += pose_weight
        diag[:, betas_block] += betas_weight
        # Levenberg-Marquardt: damp each sample's system by its own factor.
        damped = hessian + torch.diag_embed(damping[:, None] * (diag + 1e-6))
        chol, info = torch.linalg.cholesky_ex(damped)
        step = -torch.cholesky_solve(gradient[..., None], chol)[..., 0]
        step = torch.where((info == 0)[:, None], step, torch.zeros_like(step))
        candidate = _apply_step(state, step, parent_rot, num_joints, num_betas)
        trial = evaluate(candidate)
        better = torch.isfinite(trial["cost"]) & (trial["cost"] < current["cost"])
        state, current = where(better, candidate, state), where(better, trial, current)
        damping = torch.where(better, damping / 3, damping * 4).clamp(1e-7, 1e7)
        if bar is not None:
            bar.update(1)

    pose, betas, orient, transl = state
    pose, orient = roma.special_procrustes(pose), roma.special_procrustes(orient)  # remove rounding drift
    vertices = body(pose=pose, betas=betas if num_betas else None, global_orient=orient, transl=transl).vertices
    joints = torch.einsum("sv,bvc->bsc", body.regressor_superset, vertices)
    root = joints[:, :1]
    vertices, joints = vertices - root, joints - root
    error = (wn * (joints + root - target).norm(dim=-1)).sum(1)
    error = torch.where(w.sum(-1) > 0, error, torch.full_like(error, math.nan))  # nothing to fit: no error
    return FitResult(vertices=vertices.contiguous(), joints=joints, pose=pose, global_orient=orient,
                     betas=betas, transl=transl - root[:, 0], error=error)


def _apply_step(state: tuple[Tensor, ...], step: Tensor, parent_rot: Tensor, num_joints: int, num_betas: int):
    """Apply a solver step ``(n, 3 J + S + 3)``: world-frame subtree rotations, betas, translation.

    Rotating joint i's subtree by ``w`` (axis-angle, world frame) turns its local
    rotation ``r_i`` into ``exp(G_parent^T w) r_i`` and the global orientation
    ``G_0`` into ``exp(w) G_0``; ``parent_rot (n, J-1, 3, 3)`` holds the ``G_parent``.
    """
    pose, betas, orient, transl = state
    rotvec = step[:, : 3 * num_joints].view(-1, num_joints, 3)
    local = (parent_rot.transpose(-1, -2) @ rotvec[:, 1:, :, None])[..., 0]
    pose = roma.rotvec_to_rotmat(local) @ pose
    orient = roma.rotvec_to_rotmat(rotvec[:, 0]) @ orient
    betas = betas + step[:, 3 * num_joints: 3 * num_joints + num_betas]
    return pose, betas, orient, transl + step[:, -3:]
