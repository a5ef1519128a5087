"""Fidelity of the exported open body against anny's own forward pass.

Poses and shapes ``--num`` random bodies (phenotypes uniform in [0, 1]^6, local
rotations with N(0, 0.4^2) rad axis-angle components, any global orientation)
with anny (``cmu_mb`` rig, ``notoes`` topology) and with pose2mesh's shipped
``graphs/body_default.npz``, and prints the mean / max vertex and joint error in
millimetres.  The shape of each anny body is given to our layer as the betas of
its rest mesh (least squares), so the figure includes the shape-space
truncation.  Needs ``pip install 'pose2mesh[train]'``.

    python experiments/body_fidelity.py --num 200
"""
import argparse

from pose2mesh.body.export import measure_fidelity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=200, help="random bodies (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    res = measure_fidelity(args.num, args.seed)
    print(f"open body vs anny over {args.num} random poses and shapes:")
    print(f"  vertices: mean {res['vertex_mean_mm']:.3f} mm, max {res['vertex_max_mm']:.3f} mm")
    print(f"  joints:   mean {res['joint_mean_mm']:.3f} mm, max {res['joint_max_mm']:.3f} mm")


if __name__ == "__main__":
    main()
