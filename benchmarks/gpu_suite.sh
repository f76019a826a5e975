#!/usr/bin/env bash
# The GPU figures in one call (under 8 minutes on one data-centre GPU):
#   1. training images/s of the study's 128x128 network, fed by the real loader, and the GPU's utilisation
#      meanwhile (sampled by nvidia-smi): does the loader keep up?
#   2. projection seconds per face at 1024x1024 (StyleGAN2 config-f + LPIPS-VGG), batch 1 and 8, bf16;
#   3. the StyleFlow lighting edit, ms per face (batch 1 and 16);
#   4. DPR, ms per face (batch 1 and 8);
#   5. the gpu-marked tests.
# Usage: benchmarks/gpu_suite.sh          (on the GPU machine, from the repository root)
#        benchmarks/gpu_suite.sh --tiny   (CPU, tiny settings: checks that every step runs, in about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
OUT="${OUT:-$(mktemp -d)}"

if [[ "${1:-}" == "--tiny" ]]; then
  DEVICE=cpu TRAIN="--steps 1 --workers 0 --models demo" PROJECT="--scale tiny --batch 2 --steps 4"
  RELIGHT="--batch 2 --repeat 1 --variants 1" DPR="--batch 2 --repeat 1 --size 64" TESTS="-m gpu --co"
else
  DEVICE=cuda TRAIN="--steps 50 --workers 8 --models study" PROJECT="--scale ffhq --amp --batch 8 --steps 30"
  RELIGHT="--batch 16 --repeat 5" DPR="--batch 8 --repeat 10" TESTS="-m gpu"
fi

step() {  # step NAME SECONDS COMMAND...: one figure, bounded in time, its output kept in $OUT
  local name="$1" limit="$2"
  shift 2
  echo "== ${name}"
  timeout "${limit}" "$@" 2>&1 | tee "${OUT}/${name}.log" || echo "${name}: failed or timed out (${limit} s)"
}

if command -v nvidia-smi >/dev/null 2>&1 && [[ "${DEVICE}" == cuda ]]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 500 >"${OUT}/util.csv" &
  SAMPLER=$!
fi
# shellcheck disable=SC2086  # the option strings are meant to split
step train 150 "${PY}" benchmarks/train_step.py --device "${DEVICE}" ${TRAIN}
if [[ -n "${SAMPLER:-}" ]]; then
  kill "${SAMPLER}" || true
  awk '{ s += $1; n += 1 } END { if (n) printf "GPU utilisation during training: mean %.0f %% over %d samples\n", s / n, n }' \
    "${OUT}/util.csv"
fi
# shellcheck disable=SC2086
step project 150 "${PY}" benchmarks/project.py --device "${DEVICE}" ${PROJECT}
# shellcheck disable=SC2086
step relight 60 "${PY}" benchmarks/relight.py --device "${DEVICE}" ${RELIGHT}
# shellcheck disable=SC2086
step dpr 30 "${PY}" benchmarks/dpr.py --device "${DEVICE}" ${DPR}
# shellcheck disable=SC2086
step tests 60 "${PY}" -m pytest -q ${TESTS}
echo "logs in ${OUT}"
