#!/usr/bin/env bash
# Evaluate a checkpoint on held-out motion in the three reported settings:
# ground-truth 2D, detector-like noise, and 30 % of keypoints missing (COCO-17 input).
#
#   bash experiments/evaluate.sh CHECKPOINT MOTION_DIR OUT_DIR [N]
#
# MOTION_DIR must hold motion of CMU subjects the model never saw (the held-out
# subjects 02/07/09, or the validation subject 06 of the shared mocap:
# mkdir held_out && ln -s $PWD/../shared/mocap/06_*.bvh.gz held_out/).
# Extra arguments after N (e.g. --baseline "MLP=runs/same_budget_mlp/best.pt") go to every run;
# the optimisation-fitting baseline is always measured.
set -euo pipefail
ckpt=$1; motion=$2; out=$3; n=${4:-1000}; shift $(( $# < 4 ? $# : 4 ))
python -m pose2mesh evaluate "$ckpt" --motion "$motion" --layout coco --noise none --n "$n" --fitting "$@" --out "$out/gt2d"
python -m pose2mesh evaluate "$ckpt" --motion "$motion" --layout coco --noise detector --n "$n" --fitting "$@" --out "$out/detector"
python -m pose2mesh evaluate "$ckpt" --motion "$motion" --layout coco --noise none --missing 0.3 --n "$n" --fitting "$@" --out "$out/missing30"
