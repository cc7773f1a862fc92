#!/usr/bin/env bash
# The test tables of docs/EVALUATION.md for the shipped adapter and emphasis: the six rows on the first LIMIT
# H&M and IKEA test products, then the attributes-only setting on H&M. Resumable: a finished table is kept.
#   [LIMIT=50] bench/evaluate_test.sh NAME   -> bench/results/eval_{hm,ikea}_test_LIMIT_NAME.json (+ _attributes)
# bench/subset.py re-scores the first 20 of each, for comparison with the earlier --limit 20 tables.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=$1; LIMIT=${LIMIT:-50}
R=bench/results
run() {  # run OUT ARGS...
  local out=$R/$1; shift
  [ -s "$out" ] && return 0
  python -m ecomcopy evaluate --split test --limit "$LIMIT" --json "$@" > "$out.tmp"
  mv "$out.tmp" "$out"
}
for D in hm ikea; do
  run eval_${D}_test_${LIMIT}_$NAME.json --data ../shared/data/$D
done
run eval_hm_test_${LIMIT}_${NAME}_attributes.json --data ../shared/data/hm --keywords attributes --methods copy_reference,icl_prompt,modict
