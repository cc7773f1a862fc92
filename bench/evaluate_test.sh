#!/usr/bin/env bash
# The test tables of docs/EVALUATION.md for the shipped adapter and decoding: the six rows (and the plain prompt
# without the copy guard) on the first LIMIT H&M and IKEA test products, then the attributes-only setting on
# H&M. Resumable: a finished table is kept.
#   [LIMIT=50] [ROWS=a,b,...] [ATTRIBUTES=0] bench/evaluate_test.sh NAME [evaluate options...]
#     -> bench/results/test-tables/eval_{hm,ikea}_test_LIMIT_NAME.json (+ _attributes); e.g. options: --no-repeat 4
# bench/subset.py re-scores the first 20 of each, for comparison with the earlier --limit 20 tables.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=$1; shift; LIMIT=${LIMIT:-50}
OPTIONS=("$@")  # decoding options for every run, e.g. --no-repeat 4
. bench/keep.sh
R=bench/results/test-tables
run() {  # run OUT ARGS...
  local out=$R/$1; shift
  keep "$out" python -m ecomcopy evaluate --split test --limit "$LIMIT" --json "$@" "${OPTIONS[@]}"
}
ROWS=${ROWS:-copy_reference,icl_prompt,icl_prompt_no_ban,modict_no_reference,modict_random_reference,modict_no_visual,modict}
for D in hm ikea; do
  run eval_${D}_test_${LIMIT}_$NAME.json --data ../shared/data/$D --methods $ROWS
done
[ "${ATTRIBUTES:-1}" = 0 ] || run eval_hm_test_${LIMIT}_${NAME}_attributes.json --data ../shared/data/hm --keywords attributes --methods copy_reference,icl_prompt,modict
