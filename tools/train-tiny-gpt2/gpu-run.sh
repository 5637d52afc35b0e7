#!/usr/bin/env bash
# Issue 20's prepared GPU run: several configurations of train.py at once on ONE GPU, bounded by
# a wall-clock limit, then pack_runs.py puts the best run's weights and every run's log into OUT.
# Run from the repository root (the device tool's working directory), as one command:
#
#   bash tools/train-tiny-gpt2/gpu-run.sh            # data in .gpu-data/, results in $OUT
#
# Environment: DATA (default .gpu-data: train.u16, heldout.u16, extra.u16 from prepare-data.ts),
# OUT (default $OUT, else /tmp/gpu-run-out), WORK (each run's full output, checkpoints included;
# default /tmp/atlas-gpu-runs: stays on the machine), MINUTES (training wall-clock per run,
# default 7; every run trains in parallel, so the whole command takes about MINUTES + 1.5),
# PYTHON (default python3), ONLY (space-separated run names to train a subset), and for a check
# of this script without a GPU: DEVICE=cpu EXTRA_ARGS="<options appended to every run>".
# It installs nothing and fetches nothing: without torch, a GPU or the data it stops at once.
set -u
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
DATA=${DATA:-.gpu-data}
OUT=${OUT:-/tmp/gpu-run-out}
WORK=${WORK:-/tmp/atlas-gpu-runs}
MINUTES=${MINUTES:-7}
DEVICE=${DEVICE:-cuda}
T0=$(date +%s)

if [ "$DEVICE" = cuda ] && ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  if "$PY" -c 'import torch' 2>/dev/null; then
    echo "gpu-run.sh: $PY has torch $("$PY" -c 'import torch; print(torch.__version__)') but it sees no CUDA GPU; stopping." >&2
  else
    echo "gpu-run.sh: $PY cannot import torch (nothing is installed from the internet here); stopping." >&2
  fi
  exit 3
fi
for f in train.u16 heldout.u16 extra.u16; do
  if [ ! -s "$DATA/$f" ]; then
    echo "gpu-run.sh: $DATA/$f is missing: run prepare-data.ts into $DATA and carry it (README.md, 'A prepared GPU run')." >&2
    exit 4
  fi
done
"$PY" -c 'import torch; print("torch", torch.__version__, "on", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "the CPU")'
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader 2>/dev/null || true
mkdir -p "$WORK" "$OUT"

# What every run shares: issue 20's levers. GPT-2's architecture; positions start as sinusoids;
# no dropout on attention weights and no weight decay on W_Q/W_K/W_V or positions; 20 % of rows
# a span of real text written twice and 10 % blocks of random tokens written twice (the induction
# task); a constant learning rate after warm-up until some head's induction score (the engine's
# probe) reaches 0.3 or 60 % of the time has passed, then cosine; no seeded head (the targets ask
# for heads that training forms). Scores every 100 steps and at checkpoints 1, 2, 4, 8, ...
COMMON="--data $DATA --device $DEVICE --threads 2 --n-ctx 256 --shared-vocab --extra-frac 0.5 \
  --pos-init sinusoid --pos-scale 0.2 --attn-dropout 0 --attn-decay 0 --wpe-decay 0 --wte-std 0.02 \
  --repeat-frac 0.2 --random-repeat-frac 0.1 --lr-hold-frac 0.6 --lr-hold-until-induction 0.3 \
  --min-lr 3e-5 --warmup 200 --eval-every 500 --score-every 100 --minutes $MINUTES"

# name | the run's own options. ≥ 6 layers each; every one exports ≤ 40 MB in F16
# (d_model 256 × 6 layers: 17.6 M parameters, 35 MB).
RUNS=(
  "l6-d192-b16|--n-layer 6 --n-head 6 --d-model 192 --batch 16 --lr 1e-3"
  "l6-d192-b8|--n-layer 6 --n-head 6 --d-model 192 --batch 8 --lr 7e-4"
  "l8-d192-b8|--n-layer 8 --n-head 6 --d-model 192 --batch 8 --lr 7e-4"
  "l6-d256-b16|--n-layer 6 --n-head 8 --d-model 256 --batch 16 --lr 7e-4"
  "l6-d192-b8-rr25|--n-layer 6 --n-head 6 --d-model 192 --batch 8 --lr 7e-4 --random-repeat-frac 0.25"
  "l6-d192-b32-d0|--n-layer 6 --n-head 6 --d-model 192 --batch 32 --lr 1.5e-3 --dropout 0"
)

LIMIT=$((MINUTES * 60 + 75))  # training + start-up + final evaluation; then it is stopped
pids=()
for r in "${RUNS[@]}"; do
  name=${r%%|*}
  opts=${r#*|}
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
  mkdir -p "$WORK/$name"
  # shellcheck disable=SC2086
  PYTHONUNBUFFERED=1 timeout --kill-after=15 "$LIMIT" "$PY" tools/train-tiny-gpt2/train.py $COMMON $opts ${EXTRA_ARGS:-} \
    --out "$WORK/$name" > "$WORK/$name/train.txt" 2>&1 &
  pids+=($!)
  echo "started $name: $opts"
done
wait "${pids[@]}"
for r in "${RUNS[@]}"; do
  name=${r%%|*}
  [ -f "$WORK/$name/train.txt" ] || continue
  echo "=== $name"
  tail -n 6 "$WORK/$name/train.txt"
done
"$PY" tools/train-tiny-gpt2/pack_runs.py "$WORK" "$OUT"
rc=$?
echo "gpu-run.sh: $(( $(date +%s) - T0 )) s in all"
exit $rc
