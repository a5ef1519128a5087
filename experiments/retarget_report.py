"""Retargeting quality on real motion: mean angle between bone directions.

Loads every motion file below ``--motion`` (BVH / ASF+AMC, cached after the
first parse), retargets it onto the open default body (mean shape) and prints,
per skeleton and overall, the mean and 99th-percentile angle between
corresponding bone directions of the source skeleton and the posed body
(upper/lower arms and legs, feet, spine, neck, head; see
``pose2mesh.data.retarget.REPORT_BONES``).  Target: mean <= 5 degrees.

    python experiments/retarget_report.py --motion ../shared/mocap --fps 30
"""
import argparse
from collections import defaultdict

import numpy as np
import torch
from tqdm import tqdm

from pose2mesh.body import load_body
from pose2mesh.data import find_motion_files, load_motion
from pose2mesh.data.retarget import Retargeter, bone_direction_errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--motion", required=True, help="folder of motion files (searched recursively)")
    parser.add_argument("--fps", type=float, default=30.0, help="resampling rate (default: %(default)s)")
    parser.add_argument("--cache", default=None, help="parse cache folder (default: pose2mesh's)")
    args = parser.parse_args()

    body = load_body("default")
    retarget = Retargeter.for_body(body)
    per_skeleton = defaultdict(list)
    files = find_motion_files(args.motion)
    for path in tqdm(files, desc="retargeting"):
        motion = load_motion(path, cache_dir=args.cache, fps=args.fps)
        out = retarget(motion)
        with torch.no_grad():
            joints = body(pose=out.pose, global_orient=out.global_orient, transl=out.transl).joints.numpy()
        per_skeleton[motion.skeleton].append(bone_direction_errors(motion, joints, body.joint_names).ravel())
    print(f"bone-direction angle, source skeleton vs posed open body ({len(files)} files, {args.fps:g} fps):")
    everything = []
    for skeleton, errs in sorted(per_skeleton.items()):
        e = np.concatenate(errs)
        everything.append(e)
        print(f"  {skeleton:24s} {len(errs):4d} files  mean {e.mean():.3f} deg  p99 {np.percentile(e, 99):.3f} deg  max {e.max():.2f} deg")
    e = np.concatenate(everything)
    print(f"  {'all':24s} {len(files):4d} files  mean {e.mean():.3f} deg  p99 {np.percentile(e, 99):.3f} deg  max {e.max():.2f} deg")


if __name__ == "__main__":
    main()
