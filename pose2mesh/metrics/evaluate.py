"""Evaluate lifters on a :class:`pose2mesh.data.TestSet` (``pose2mesh evaluate``).

Predictions and ground truth are compared root-relative (each to its own
superset pelvis), in metres in camera coordinates; reported errors are in
millimetres.  Keypoint metrics use the test set's layout; mesh metrics use all
12,272 vertices.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from pose2mesh import joints as _joints
from pose2mesh.metrics.pose import mpjpe, mpvpe, normal_error, pa_mpjpe, pa_mpvpe, per_part_errors
from pose2mesh.models.flip import flip_test
from pose2mesh.models.snap import copied_keypoints, snap_to_keypoints

#: report columns: result key -> table header
METRICS = {"mpjpe": "MPJPE", "pa_mpjpe": "PA-MPJPE", "mpvpe": "MPVPE", "pa_mpvpe": "PA-MPVPE", "normal_deg": "normals (deg)"}


@torch.no_grad()
def predict(model, keypoints: torch.Tensor, layout: str, batch_size: int = 256,
            K: torch.Tensor | None = None, vertex_mirror: torch.Tensor | None = None,
            snap_weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Run a Pose2MeshNet on detector keypoints.

    Args:
        keypoints: ``(N, J, 3)`` pixels + confidence in ``layout``.
        K: ``(N, 3, 3)`` the cameras' intrinsics (pixels), for models with
            camera input; None: unknown cameras.
        vertex_mirror: given (``pose2mesh.models.mirror_permutation(body.v_template)``),
            lift with the flip test (:func:`pose2mesh.models.flip_test`).
        snap_weights: given (``(V, S)`` :func:`pose2mesh.models.lifter.anchor_weights`
            of the body's template), snap the meshes onto the 2D keypoints
            (:func:`pose2mesh.models.snap_to_keypoints`, for exact keypoints; needs ``K``).

    Returns:
        ``joints (N, S, 3)`` superset keypoints regressed from the mesh and
        ``vertices (N, V, 3)``, root-relative metres.
    """
    device = next(model.parameters()).device
    if snap_weights is not None:
        if K is None:
            raise ValueError("snapping onto the 2D keypoints needs the cameras' intrinsics K")
        snap_weights, copied = snap_weights.to(device), copied_keypoints(layout).to(device)
    out = {"joints": [], "vertices": []}
    for i, chunk in enumerate(keypoints.split(batch_size)):
        superset, presence = _joints.to_superset(chunk.to(device), layout)
        k = _chunk(K, i, batch_size, device)
        res = (model(superset, presence, K=k) if vertex_mirror is None
               else flip_test(model, superset, presence, K=k, vertex_mirror=vertex_mirror))
        verts, joints = res["vertices"], res["joints_mesh"]
        if snap_weights is not None:
            verts = snap_to_keypoints(verts, superset, presence * copied, k, model.regressor, snap_weights)
            joints = model.regress(verts)
        out["joints"].append(joints.cpu())
        out["vertices"].append(verts.cpu())
    return {k: torch.cat(v) for k, v in out.items()}


def _chunk(K: torch.Tensor | None, i: int, batch_size: int, device) -> torch.Tensor | None:
    """Rows ``[i B, (i + 1) B)`` of ``K`` on ``device`` (None stays None)."""
    return None if K is None else K[i * batch_size:(i + 1) * batch_size].to(device)


def predict_fitting(model, keypoints: torch.Tensor, layout: str, body, batch_size: int = 256,
                    K: torch.Tensor | None = None, **fit_kwargs) -> dict[str, torch.Tensor]:
    """The "optimisation fitting" baseline: fit the body to the model's PoseNet keypoints.

    The model's PoseNet lifts the keypoints (``model(superset, presence,
    mesh=False)["joints_posenet"]``, every superset point weighted 1); then
    :func:`pose2mesh.fitting.fit_body_to_keypoints` fits ``body``'s pose and
    shape to them, and the fitted mesh and its regressed keypoints are
    re-rooted at the regressed pelvis.  Same output as :func:`predict`, so
    :func:`score` applies.

    Args:
        model: a :class:`pose2mesh.models.Pose2MeshNet` (only its PoseNet runs).
        keypoints: ``(N, J, 3)`` pixels + confidence in ``layout``.
        layout: the keypoints' layout name.
        body: the :class:`pose2mesh.body.OpenBody` the model was trained with
            (the fit runs on its device).
        batch_size: PoseNet batch size.
        K: ``(N, 3, 3)`` intrinsics for a camera model, as in :func:`predict`.
        **fit_kwargs: passed to :func:`pose2mesh.fitting.fit_body_to_keypoints`
            (``steps``, ``num_betas``, ``pose_weight``, ``progress``, ...).

    Returns:
        ``joints (N, S, 3)`` superset keypoints regressed from the fitted mesh and
        ``vertices (N, V, 3)``, root-relative metres, OpenCV camera axes, on the CPU.
    """
    from pose2mesh.fitting import fit_body_to_keypoints

    device = next(model.parameters()).device
    lifted = []
    with torch.no_grad():
        for i, chunk in enumerate(keypoints.split(batch_size)):
            superset, presence = _joints.to_superset(chunk.to(device), layout)
            lifted.append(model(superset, presence, mesh=False, K=_chunk(K, i, batch_size, device))["joints_posenet"])
    fit = fit_body_to_keypoints(body, torch.cat(lifted), **fit_kwargs)
    return {"joints": fit.joints.cpu(), "vertices": fit.vertices.cpu()}


def score(pred_joints: torch.Tensor, pred_vertices: torch.Tensor, testset,
          faces: torch.Tensor | None = None) -> dict[str, float]:
    """Errors (mm) of root-relative superset predictions against a test set.

    Args:
        pred_joints: ``(N, S, 3)`` superset keypoints (root-relative metres).
        pred_vertices: ``(N, V, 3)`` vertices (root-relative metres).
        testset: the :class:`pose2mesh.data.TestSet`.
        faces: ``(F, 3)`` mesh faces; given, the result also holds
            ``normal_deg`` (:func:`pose2mesh.metrics.normal_error`, degrees).
    """
    root = testset.superset3d[:, :1].cpu()
    gt_layout = testset.joints3d.cpu() - root
    gt_vertices = testset.vertices.cpu() - root
    mix = torch.as_tensor(_joints.conversion_matrix("superset", testset.layout), dtype=pred_joints.dtype)
    pred_layout = torch.einsum("js,nsc->njc", mix, pred_joints)
    res = {
        "mpjpe": mpjpe(pred_layout, gt_layout).mean().item(),
        "pa_mpjpe": pa_mpjpe(pred_layout, gt_layout).mean().item(),
        "mpvpe": mpvpe(pred_vertices, gt_vertices).mean().item(),
        "pa_mpvpe": pa_mpvpe(pred_vertices, gt_vertices).mean().item(),
    }
    if faces is not None:
        res["normal_deg"] = normal_error(pred_vertices, gt_vertices, faces).mean().item()
    names = _joints.get_layout("superset").names
    parts = per_part_errors(pred_joints, testset.superset3d.cpu() - root, names)
    res.update({f"part_{k}": v.mean().item() for k, v in parts.items()})
    return res


def mean_pose_baseline(testset, reference) -> tuple[torch.Tensor, torch.Tensor]:
    """The trivial baseline: predict, for every sample, the mean root-relative pose and mesh of ``reference``.

    ``reference`` is a batch dict of the synthetic training distribution (``superset3d``
    ``(M, S, 3)``, ``vertices`` ``(M, V, 3)``, camera frame, metres).

    Returns:
        ``(joints (N, S, 3), vertices (N, V, 3))`` on the CPU, ``N = len(testset)``:
        superset joints and mesh vertices in metres, relative to the superset
        pelvis (joint 0), the same mean for every sample.
    """
    root = reference["superset3d"][:, :1]
    joints = (reference["superset3d"] - root).mean(0).cpu()
    vertices = (reference["vertices"] - root).mean(0).cpu()
    n = len(testset)
    return joints.expand(n, -1, -1), vertices.expand(n, -1, -1)


def write_report(rows: dict[str, dict[str, float]], out_dir: str | Path, meta: dict) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` (one table row per method) to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    parts = sorted({k for r in rows.values() for k in r if k.startswith("part_")})
    metrics = [m for m in METRICS if any(m in r for r in rows.values())]
    header = ["method"] + [METRICS[m] for m in metrics] + [p[5:] for p in parts]
    lines = [
        f"Test set: {meta.get('n')} samples, layout {meta.get('layout')}, noise {meta.get('noise')}, "
        f"missing {meta.get('missing')}, seed {meta.get('seed')}, motion `{meta.get('motion_dir')}`. Errors in mm "
        "(root-relative; per-part columns are superset MPJPE); normals: mean angle between face normals.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for name, r in rows.items():
        values = [r.get(m) for m in metrics] + [r.get(p) for p in parts]
        lines.append("| " + " | ".join([name] + [("-" if v is None else f"{v:.1f}") for v in values]) + " |")
    md_path.write_text("\n".join(lines) + "\n")
    return json_path, md_path
