#!/usr/bin/env bash
# Train the default, paper and mlp presets the same way (same_budget.yaml) and
# evaluate them side by side on held-out motion (docs/eval/same_budget.md):
#
#   bash experiments/compare/same_budget.sh MOTION_DIR [N]
#
# MOTION_DIR: held-out motion, e.g. mkdir held_out && ln -s $PWD/../shared/mocap/06_*.bvh.gz held_out/
# One thread each: the paper preset on one core, default then mlp on the other.
set -euo pipefail
motion=$1; n=${2:-500}
here=$(dirname "$0")
run() { pose2mesh train "$here/same_budget.yaml" --set model="$1" --set out_dir="runs/same_budget_$1" --set data.val_motion="$motion"; }
OMP_NUM_THREADS=1 run paper & paper=$!
OMP_NUM_THREADS=1 run default
OMP_NUM_THREADS=1 run mlp
wait $paper
bash "$here/../evaluate.sh" runs/same_budget_default/best.pt "$motion" docs/eval/same_budget "$n" \
    --baseline "paper preset, same training=runs/same_budget_paper/best.pt" \
    --baseline "mlp preset, same training=runs/same_budget_mlp/best.pt"
