"""Does the lifted mesh depend on the detector's layout?  Mean vertex distance between layouts.

The shipped example pose (one frame of real motion capture: CMU 06_01 "walk",
``graphs/example_keypoints.json``) is projected with its camera in the COCO-17,
OpenPose-25, H36M-17 and BlazePose-33 layouts (exact projections of the body's
keypoints of each layout, confidence 1), every version is lifted with the same
model, and the meshes are compared pairwise:

* root-relative: mean distance (mm) between corresponding vertices after
  removing each mesh's root (superset pelvis) -- what the networks predict;
* placed: the same for the meshes placed in the camera frame (includes the
  depth estimate, which is much less certain than the pose).

``--prior N`` adds N frames of the shipped pose prior (real CMU motion of the
training subjects) seen by the same camera, for a less anecdotal mean.

    python experiments/layout_consistency.py [--checkpoint best.pt] [--prior 64]

Target: root-relative mean <= 15 mm with the shipped model.
"""
from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch

from pose2mesh.api import Lifter
from pose2mesh.examples import example_record, load_example
from pose2mesh.joints import to_superset

LAYOUTS = ("coco", "openpose25", "h36m", "blazepose33")


def example_inputs() -> dict[str, np.ndarray]:
    """``layout -> (1, J, 3)`` pixels + confidence of the shipped example pose."""
    return {layout: load_example(layout).keypoints[None] for layout in LAYOUTS}


def prior_inputs(num: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``layout -> (num, J, 3)``: pose-prior frames on the example's body and at its place, seen by its camera."""
    from pose2mesh.body.open_body import OpenBody
    from pose2mesh.data.poses import PosePrior

    record = example_record()
    body = OpenBody.load()
    pose, orient = PosePrior.load().sample(num, torch.Generator().manual_seed(seed), mirror=0.0, heading=False)
    betas = torch.tensor(record["body"]["betas"])[None].expand(num, -1)
    R, K = (torch.tensor(record["camera"][k], dtype=torch.float64) for k in ("R", "K"))
    example = torch.as_tensor(load_example("coco", with_mesh=True).vertices, dtype=torch.float64)
    root_cam = body.regress_keypoints(example[None], "superset")[0, 0]  # the example's root, camera frame
    with torch.no_grad():
        out = body(pose=pose, global_orient=orient, betas=betas)
        root = body.regress_keypoints(out.vertices, "superset")[:, :1]
        verts = (out.vertices - root).double() @ R.T + root_cam
    inputs = {}
    for layout in LAYOUTS:
        uv = body.regress_keypoints(verts, layout) @ K.T
        uv = (uv[..., :2] / uv[..., 2:]).numpy()
        inputs[layout] = np.concatenate([uv, np.ones(uv.shape[:-1] + (1,))], -1)
    return inputs


def posenet_keypoints(lifter: Lifter, keypoints: np.ndarray, used: np.ndarray, layout: str) -> torch.Tensor:
    """``(N, 52, 3)`` the PoseNet's own root-relative superset keypoints (metres), on the keypoints ``lifter`` used."""
    kp = torch.as_tensor(keypoints, dtype=torch.float32)
    kp = torch.cat([kp[..., :2], torch.where(torch.as_tensor(used), kp[..., 2], 0.0)[..., None]], -1)
    with torch.inference_mode():
        return lifter.model(*to_superset(kp.to(lifter.device), layout), mesh=False)["joints_posenet"].cpu()


def consistency(lifter: Lifter, inputs: dict[str, np.ndarray], K: np.ndarray) -> dict[tuple[str, str], tuple[float, float, float]]:
    """``(layout_a, layout_b) -> (root-relative mm, placed mm, PoseNet mm)`` mean distances, over all samples.

    The first two are vertex distances between the meshes; the third is between
    the PoseNet's root-relative superset keypoints (where the disagreement starts).
    """
    results = {layout: lifter(kp, layout=layout, K=K) for layout, kp in inputs.items()}
    lifted = {layout: posenet_keypoints(lifter, kp, results[layout].used, layout) for layout, kp in inputs.items()}
    out = {}
    for a, b in itertools.combinations(LAYOUTS, 2):
        ra, rb = results[a], results[b]
        rel = np.linalg.norm(ra.vertices_rel - rb.vertices_rel, axis=-1).mean() * 1000
        placed = np.linalg.norm(ra.vertices - rb.vertices, axis=-1).mean() * 1000
        posenet = (lifted[a] - lifted[b]).norm(dim=-1).mean().item() * 1000
        out[(a, b)] = (float(rel), float(placed), posenet)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=None, help="model checkpoint (default: the shipped model)")
    parser.add_argument("--prior", type=int, default=0, help="also use this many pose-prior frames")
    args = parser.parse_args()
    lifter = Lifter.from_checkpoint(args.checkpoint) if args.checkpoint else Lifter.from_pretrained()
    K = load_example().K
    sets = [("example frame (CMU 06_01)", example_inputs())]
    if args.prior:
        sets.append((f"{args.prior} pose-prior frames", prior_inputs(args.prior)))
    print(f"model: {lifter}")
    for name, inputs in sets:
        table = consistency(lifter, inputs, K)
        print(f"\n{name}: mean vertex distance between the layouts' meshes (mm); PoseNet: between its keypoints")
        print(f"{'pair':<28}{'root-relative':>15}{'placed':>10}{'PoseNet':>10}")
        for (a, b), (rel, placed, posenet) in table.items():
            print(f"{a + ' vs ' + b:<28}{rel:>15.1f}{placed:>10.1f}{posenet:>10.1f}")
        rel, placed, posenet = np.mean(list(table.values()), axis=0)
        print(f"{'mean over pairs':<28}{rel:>15.1f}{placed:>10.1f}{posenet:>10.1f}   (target: root-relative <= 15 mm)")


if __name__ == "__main__":
    main()
