#!/usr/bin/env bash
# The default model's GPU recipe, cut into calls that each fit a 10-minute command limit
# (the lent GPU machines of this project: no registry, ../shared does not travel, ~30 min
# of device time per session). Run from the repository root:
#
#   bash experiments/gpu/session.sh prepare      # HERE, once: .carry/held_out (CMU 06) and .whl (roma)
#   bash experiments/gpu/session.sh check        # on the GPU (~5 min): device tests, train speed
#                                                 #   fp32 vs bf16 autocast, lift speed eager vs compile,
#                                                 #   data engine speed
#   START=1 bash experiments/gpu/session.sh train 9   # on the GPU: experiments/default.yaml for <= 9 min;
#   bash experiments/gpu/session.sh train 9      #   then resume, repeated until it says "done"
#   bash experiments/gpu/session.sh finish       # on the GPU: export, evaluate (3 test sets), pack
#
# Budget of a 30-minute session: ~1-2 min to start the machine, ~5 for check, so ~20 for train
# (2-3 calls; each call's first ~30 s is set-up) and finish: set `steps` in experiments/default.yaml
# from check's "18 min = N steps" line before the first train call if the recipe does not fit.
# GPU calls carry `.carry` and `.whl`; results land in $OUT (default outputs/gpu): at most
# a few files (check.txt, train.txt, val.csv, metrics.csv, model_gpu.pt, eval.tgz).
# Training state stays in runs/default between calls (kept while the machine is warm).
set -euo pipefail
phase=${1:?usage: session.sh prepare|check|train MINUTES|finish}
OUT=${OUT:-outputs/gpu}
mkdir -p "$OUT" runs
motion=.carry/held_out

if [ "$phase" = prepare ]; then
    mkdir -p "$motion" .whl
    cp ../shared/mocap/06_*.bvh.gz "$motion"/
    python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 -d .whl \
        "roma==$(python -c 'import importlib.metadata as m; print(m.version("roma"))')"
    du -sh .carry .whl
    exit 0
fi

# On the GPU machine: its python3 has torch; roma comes from the carried wheel.
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --root-user-action=ignore --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi
if ! command -v python > /dev/null; then  # experiments/*.sh call `python`
    mkdir -p /tmp/pybin && ln -sf "$(command -v python3)" /tmp/pybin/python && export PATH=/tmp/pybin:$PATH
fi
export PYTHONUNBUFFERED=1
[ -d "$motion" ] || { echo "no $motion: run 'session.sh prepare' here and carry .carry" >&2; exit 2; }

case "$phase" in
check)
    DEVICE=${DEVICE:-cuda}; steps=${PROBE_STEPS:-150}  # (DEVICE=cpu PROBE_STEPS=6: a dry run here)
    [ "$steps" -ge 3 ] || { echo "PROBE_STEPS must be >= 3" >&2; exit 2; }
    {
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
        python -c 'import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.is_available())'
        python -m pytest -q tests/train/test_devices.py tests/api/test_lift_devices.py 2>&1 | tail -5 || true
        for amp in false true; do  # $steps joint steps of the recipe's batch, fp32 then bf16 autocast
            python -m pose2mesh train experiments/default.yaml --set posenet_pretrain_steps=0 --set steps=$steps \
                --set device=$DEVICE --set log_every=$(( steps / 3 )) --set val_every=1000000 --set data.val_size=16 --set ckpt_every=1000000 \
                --set amp=$amp --set out_dir=runs/probe_amp_$amp > runs/probe_amp_$amp.log 2>&1 \
                || { tail -5 runs/probe_amp_$amp.log; exit 1; }
            echo "amp=$amp: samples/s per $(( steps / 3 )) steps: $(tail -n +2 runs/probe_amp_$amp/metrics.csv | awk -F, '{printf "%s ", $NF}')"
            # the last reading (warm) -> how many joint steps of 128 fit 18 minutes (validation not counted)
            tail -n 1 runs/probe_amp_$amp/metrics.csv | awk -F, '{printf "  18 min = %d steps of 128 (experiments/default.yaml: steps)\n", $NF * 1080 / 128}'
        done
        python experiments/benchmarks/lift_speed.py --device $DEVICE --configs shipped default --compile --train
        python experiments/benchmarks/data_throughput.py --batch 128 1024 --repeats 5  # the data engine (GPU too)
    } 2>&1 | tee "$OUT/check.txt"
    ;;
train)
    minutes=${2:?usage: session.sh train MINUTES}
    # state lives in runs/default on the GPU machine only while it stays warm: never restart silently
    if [ ! -f runs/default/last.pt ] && [ "${START:-0}" != 1 ]; then
        echo "no runs/default/last.pt here (a fresh machine?): START=1 starts the recipe from step 0" >&2
        exit 2
    fi
    status=0
    python -m pose2mesh train experiments/default.yaml --resume --max-minutes "$minutes" \
        --set data.val_motion=$motion > runs/train_call.log 2>&1 || status=$?
    tr '\r' '\n' < runs/train_call.log | { grep -Ev '(it/s|s/it)\]$' || true; } | tail -20 | tee "$OUT/train.txt"
    [ "$status" = 0 ] || exit "$status"
    for f in val.csv metrics.csv; do [ ! -f runs/default/$f ] || cp runs/default/$f "$OUT"/; done
    python - <<'EOF' | tee -a "$OUT/train.txt"
import torch, yaml
step = torch.load("runs/default/last.pt", map_location="cpu", weights_only=True)["step"]
total = yaml.safe_load(open("experiments/default.yaml"))["steps"]
print(f"step {step} of {total}: " + ("done" if step >= total else "not done, run 'session.sh train MINUTES' again"))
EOF
    ;;
finish)
    ckpt=runs/default/best.pt; [ -f "$ckpt" ] || ckpt=runs/default/last.pt  # best: by validation MPJPE
    python -m pose2mesh export-model "$ckpt" --out "$OUT/model_gpu.pt"
    bash experiments/evaluate.sh "$OUT/model_gpu.pt" "$motion" runs/gpu_eval 500 \
        --baseline "shipped CPU model=graphs/model_default.pt"
    tar czf "$OUT/eval.tgz" -C runs gpu_eval
    cat runs/gpu_eval/*/report.md | grep -E '^\| (model|shipped)' || true
    ;;
*)
    echo "unknown phase '$phase': prepare, check, train MINUTES or finish" >&2
    exit 2
    ;;
esac
