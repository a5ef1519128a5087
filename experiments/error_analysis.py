"""Where does a model's error come from?  Error breakdowns on held-out motion.

Builds the three test sets of ``experiments/evaluate.sh`` (COCO-17; ground-truth
2D, detector noise, 30 % missing; same seeds, so the same samples) and
reports, for the keypoints regressed from the mesh and for the PoseNet's own
keypoints (COCO-17, root-relative at the superset pelvis, mm):

* the alignment ladder: plain MPJPE, after the best scale alone (about the
  root), after the best rotation + translation (no scale), after a full
  similarity (PA-MPJPE); and the error split into depth (camera z) and
  image-plane (camera x, y) parts;
* the error by camera: elevation (camera above / level with / below the
  person), vertical field of view, and viewing direction (front/back vs side
  views, from the ground-truth hip axis);
* the missing-keypoint penalty split into the keypoints still given and the
  keypoints taken away (same samples as the ground-truth 2D test);
* what is left of the ground-truth-2D error when the image positions come from
  the exact 2D input (each keypoint regressed from the mesh keeps its depth
  and moves onto the ray through its 2D keypoint, the pose placed by
  reprojection as ``pose2mesh.models.snap_to_keypoints`` places it), and when
  in addition the true distance to the camera (the root's true depth) is
  used: then only the keypoints' depth errors remain;
* MPVPE by body region (each vertex in the region of the joint with its
  largest skinning weight): hands, feet, head and neck, the rest of the body;
* with ``--train-motion DIR``, the same ground-truth 2D test on motion of
  subjects the model was trained on: a model that overfits its training motion
  is much better there.

    python experiments/error_analysis.py graphs/model_default.pt held_out \
        [--train-motion DIR] [--n 500] [--out docs/eval/default/error_analysis.md]

Camera frame: OpenCV (x right, y down, z forward), metres; body frame: Y up.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from pose2mesh import joints as _joints
from pose2mesh.camera import solve_translation
from pose2mesh.body import load_body
from pose2mesh.data import make_test_set
from pose2mesh.metrics.evaluate import predict
from pose2mesh.metrics.pose import mpjpe, pa_mpjpe, umeyama
from pose2mesh.train.checkpoint import load_model

SETTINGS = {"ground-truth 2D": dict(noise="none"), "detector noise": dict(noise="detector"),
            "30 % missing": dict(noise="none", missing=0.3)}


@torch.no_grad()
def lift(model, testset) -> dict[str, torch.Tensor]:
    """COCO keypoints ``(N, 17, 3)`` root-relative metres: ``mesh`` (regressed from the mesh), ``posenet``; and ``gt``."""
    mix = torch.as_tensor(_joints.conversion_matrix("superset", testset.layout), dtype=torch.float32)
    superset, presence = _joints.to_superset(testset.keypoints, testset.layout)
    out = {"mesh": [], "posenet": []}
    for xy, p, K in zip(superset.split(256), presence.split(256), testset.K.split(256)):
        res = model(xy, p, K=K)  # the test cameras, as pose2mesh evaluate
        out["mesh"].append(res["joints_mesh"])
        out["posenet"].append(res["joints_posenet"])
    root = testset.superset3d[:, :1]
    res = {k: torch.einsum("js,nsc->njc", mix, torch.cat(v)) for k, v in out.items()}
    res["gt"] = torch.einsum("js,nsc->njc", mix, testset.superset3d - root)
    return res


def ladder(pred: torch.Tensor, gt: torch.Tensor) -> dict[str, float]:
    """Mean errors (mm) of ``(N, J, 3)`` root-relative predictions under growing alignments.

    ``depth z``: mean absolute error along the camera axis; ``image plane xy``: mean norm of the x, y error.
    """
    scale = (pred * gt).sum((1, 2)) / (pred * pred).sum((1, 2)).clamp_min(1e-12)
    R, s, t = umeyama(pred, gt, scale=False)
    rigid = pred @ R.transpose(-1, -2) + t[:, None]
    diff = pred - gt
    return {
        "MPJPE": mpjpe(pred, gt).mean().item(),
        "scale-aligned": mpjpe(pred * scale[:, None, None], gt).mean().item(),
        "rigid-aligned": mpjpe(rigid, gt).mean().item(),
        "PA-MPJPE": pa_mpjpe(pred, gt).mean().item(),
        "depth z": 1000 * diff[..., 2].abs().mean().item(),
        "image plane xy": 1000 * diff[..., :2].norm(dim=-1).mean().item(),
    }


def at_image_positions(pred: torch.Tensor, uv: torch.Tensor, weights: torch.Tensor, K: torch.Tensor,
                       root: torch.Tensor) -> torch.Tensor:
    """Root-relative ``(N, J, 3)`` keypoints moved onto the rays through their 2D keypoints at their placed depth.

    ``root (N, 3)`` is where the root is placed in the camera frame (metres); keypoints with weight 0 stay.
    """
    rays = torch.cat([uv, torch.ones_like(uv[..., :1])], -1) @ torch.linalg.inv(K).transpose(-1, -2)
    moved = rays * (pred[..., 2:] + root[:, None, 2:]) - root[:, None]
    return torch.where((weights > 0)[..., None], moved, pred)


def vertex_regions(body) -> np.ndarray:
    """``(V,)`` region name of each vertex: that of the joint with its largest skinning weight."""
    def region(joint: str) -> str:
        if any(k in joint for k in ("Hand", "Thumb", "Finger")):
            return "hands"
        if any(k in joint for k in ("Foot", "Toe")):
            return "feet"
        return "head and neck" if joint in ("Neck1", "Head") else "body"

    names = np.array([region(j) for j in body.joint_names])
    return names[body.skin_weights.argmax(1).cpu().numpy()]


def camera_groups(testset) -> dict[str, dict[str, torch.Tensor]]:
    """Boolean ``(N,)`` masks of samples by camera elevation, field of view and viewing direction."""
    # the camera's optical axis in the body frame is row 2 of R (body -> camera);
    # body Y is up, so a camera looking down has a negative Y component there
    elevation = torch.rad2deg(-torch.asin(testset.R[:, 2, 1].clamp(-1, 1)))
    fov = torch.rad2deg(2 * torch.atan(testset.image_size[:, 1] / (2 * testset.K[:, 1, 1])))
    names = _joints.get_layout("superset").names
    hips = testset.superset3d[:, names.index("left_hip")] - testset.superset3d[:, names.index("right_hip")]
    sideways = hips[:, 2].abs() / hips[:, [0, 2]].norm(dim=-1).clamp_min(1e-9)  # 0: front/back view, 1: side view
    return {
        "camera elevation": {"below (< -5 deg)": elevation < -5, "level (-5..15 deg)": (elevation >= -5) & (elevation < 15),
                             "above (15..30 deg)": (elevation >= 15) & (elevation < 30), "high (>= 30 deg)": elevation >= 30},
        "vertical field of view": {"15-40 deg": fov < 40, "40-65 deg": (fov >= 40) & (fov < 65), "65-90 deg": fov >= 65},
        "view": {"front / back (hip axis within 30 deg of the image plane)": sideways < math.sin(math.radians(30)),
                 "oblique": (sideways >= math.sin(math.radians(30))) & (sideways < math.sin(math.radians(60))),
                 "side (hip axis within 30 deg of the optical axis)": sideways >= math.sin(math.radians(60))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("motion", help="held-out motion folder (e.g. held_out: CMU subject 06)")
    parser.add_argument("--train-motion", help="motion of training subjects, for the overfitting check")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="write the markdown report here too")
    args = parser.parse_args()

    model, _ = load_model(args.checkpoint, device="cpu")
    model.eval()
    sets = {name: make_test_set(args.motion, layout="coco", n=args.n, seed=args.seed, **kw) for name, kw in SETTINGS.items()}
    lifted = {name: lift(model, ts) for name, ts in sets.items()}

    lines = [f"# Error analysis: `{args.checkpoint}`", "",
             f"Test sets of `experiments/evaluate.sh` ({args.n} frames of `{args.motion}`, COCO-17, seed {args.seed}); "
             "COCO keypoints, root-relative (superset pelvis), mm. Regenerate: "
             f"`python experiments/error_analysis.py {args.checkpoint} {args.motion}"
             + (f" --train-motion {args.train_motion}" if args.train_motion else "") + f" --n {args.n}`.", "",
             "## Alignment ladder", ""]
    keys = list(ladder(lifted["ground-truth 2D"]["mesh"], lifted["ground-truth 2D"]["gt"]))
    lines += ["| test | keypoints | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    for name, res in lifted.items():
        for which, label in (("mesh", "from the mesh"), ("posenet", "PoseNet")):
            row = ladder(res[which], res["gt"])
            lines.append(f"| {name} | {label} | " + " | ".join(f"{row[k]:.1f}" for k in keys) + " |")

    lines += ["", "## By camera (keypoints from the mesh, MPJPE / PA-MPJPE)", ""]
    lines += ["| group | samples | " + " | ".join(SETTINGS) + " |", "|---|---|" + "---|" * len(SETTINGS)]
    for title, groups in camera_groups(sets["ground-truth 2D"]).items():
        lines.append(f"| **{title}** | | " + " | " * (len(SETTINGS) - 1) + " |")
        for label, mask in groups.items():
            cells = []
            for res in lifted.values():
                p, g = res["mesh"][mask], res["gt"][mask]
                cells.append(f"{mpjpe(p, g).mean().item():.1f} / {pa_mpjpe(p, g).mean().item():.1f}" if mask.any() else "-")
            lines.append(f"| {label} | {int(mask.sum())} | " + " | ".join(cells) + " |")

    lines += ["", "## The missing-keypoint penalty", ""]
    full, miss = lifted["ground-truth 2D"], lifted["30 % missing"]
    given = sets["30 % missing"].keypoints[..., 2] > 0
    taken = (sets["ground-truth 2D"].keypoints[..., 2] > 0) & ~given
    lines += ["| keypoints | share | ground-truth 2D | 30 % missing | penalty | share of the mean penalty |", "|---|---|---|---|---|---|"]
    errors = {which: tuple((res[which] - res["gt"]).norm(dim=-1) * 1000 for res in (full, miss))
              for which in ("mesh", "posenet")}  # per keypoint, mm
    for which, label in (("mesh", "from the mesh"), ("posenet", "PoseNet")):
        e_full, e_miss = errors[which]
        for group, mask in (("given in both", given), ("taken away", taken), ("absent in both (out of frame)", ~given & ~taken)):
            share = mask.float().mean().item()
            a, b = e_full[mask].mean().item(), e_miss[mask].mean().item()
            lines.append(f"| {label}: {group} | {100 * share:.0f} % | {a:.1f} | {b:.1f} | {b - a:+.1f} | {share * (b - a):+.1f} |")
        lines.append(f"| {label}: all | 100 % | {e_full.mean().item():.1f} | {e_miss.mean().item():.1f} | "
                     f"{(e_miss - e_full).mean().item():+.1f} | |")
    # without a hip the pelvis, the root every keypoint is measured from, is a guess too
    layout = _joints.get_layout("coco")
    hips = given[:, layout.index("left_hip")] & given[:, layout.index("right_hip")]
    e_full, e_miss = errors["mesh"]
    for group, rows in (("both hips given", hips), ("a hip not given", ~hips)):
        mask = given & rows[:, None]
        a, b = e_full[mask].mean().item(), e_miss[mask].mean().item()
        lines.append(f"| from the mesh: given in both, samples with {group} ({100 * rows.float().mean().item():.0f} % of them) "
                     f"| {100 * mask.float().mean().item():.0f} % | {a:.1f} | {b:.1f} | {b - a:+.1f} | |")

    lines += ["", "## Ground-truth 2D: with exact image positions, and the true distance too (keypoints from the mesh)", "",
              "| keypoints | MPJPE | PA-MPJPE | depth z | image plane xy |", "|---|---|---|---|---|"]
    ts = sets["ground-truth 2D"]
    uv, w, pred, gt = ts.keypoints[..., :2], ts.keypoints[..., 2], full["mesh"], full["gt"]
    placed = solve_translation(pred, uv, ts.K, weights=w)
    for label, t in (("as lifted", None), ("image positions from the 2D input (placed by reprojection)", placed),
                     ("image positions from the 2D input, at the true distance", ts.superset3d[:, 0])):
        p = pred if t is None else at_image_positions(pred, uv, w, ts.K, t)
        row = ladder(p, gt)
        lines.append(f"| {label} | {row['MPJPE']:.1f} | {row['PA-MPJPE']:.1f} | {row['depth z']:.1f} | "
                     f"{row['image plane xy']:.1f} |")
    true_z = ts.superset3d[:, 0, 2]
    lines += ["", f"Placed by reprojection, the root's depth is off by {100 * ((placed[:, 2] - true_z).abs() / true_z).mean():.1f} % "
              "on average (|placed - true| / true): the body's size, which one image cannot tell."]

    lines += ["", "## MPVPE by body region (mesh vertices, model given the cameras)", ""]
    regions = vertex_regions(load_body("default"))
    lines += ["| region | share of the vertices | " + " | ".join(SETTINGS) + " |", "|---|---|" + "---|" * len(SETTINGS)]
    errors = {}
    for name, ts in sets.items():
        verts = predict(model, ts.keypoints, ts.layout, K=ts.K)["vertices"]
        errors[name] = 1000 * (verts - (ts.vertices - ts.superset3d[:, :1])).norm(dim=-1).mean(0)  # (V,) mm
    for region in ("body", "head and neck", "hands", "feet"):
        mask = torch.as_tensor(regions == region)
        cells = [f"{e[mask].mean().item():.1f} (adds {e[mask].sum().item() / len(e):.1f} to MPVPE)" for e in errors.values()]
        lines.append(f"| {region} | {100 * mask.float().mean().item():.0f} % | " + " | ".join(cells) + " |")
    rest = torch.as_tensor((regions != "hands") & (regions != "feet"))
    cells = [f"{e.mean().item():.1f}, without hands and feet {e[rest].mean().item():.1f}" for e in errors.values()]
    lines.append("| all (MPVPE) | 100 % | " + " | ".join(cells) + " |")

    if args.train_motion:
        ts = make_test_set(args.train_motion, layout="coco", n=args.n, seed=args.seed, noise="none")
        res = lift(model, ts)
        lines += ["", "## Training subjects vs held-out (ground-truth 2D)", "",
                  "| motion | MPJPE (mesh) | PA-MPJPE (mesh) | MPJPE (PoseNet) |", "|---|---|---|---|"]
        for label, r in ((f"held out: `{args.motion}`", full), (f"trained on: `{args.train_motion}`", res)):
            lines.append(f"| {label} | {mpjpe(r['mesh'], r['gt']).mean().item():.1f} | "
                         f"{pa_mpjpe(r['mesh'], r['gt']).mean().item():.1f} | {mpjpe(r['posenet'], r['gt']).mean().item():.1f} |")

    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
