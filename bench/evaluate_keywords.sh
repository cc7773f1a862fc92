#!/usr/bin/env bash
# The emphasis on test (docs/EVALUATION.md "What was tried", keyword coverage): H&M and IKEA test, first 20 products each,
# the six rows at the shipped emphasis, then the ModICT row at emphasis 7 (the smallest that reached 0.8
# coverage on dev) and 0 (off). Resumable: a finished table is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/keep.sh
R=bench/results/keyword-emphasis
run() {  # run OUT ARGS...
  local out=$R/$1; shift
  keep "$out" python -m ecomcopy evaluate --split test --limit 20 --json "$@"
}
for D in hm ikea; do
  run eval_${D}_test_20_keywords.json --data ../shared/data/$D
done
for D in hm ikea; do
  run eval_${D}_test_20_keywords_7.json --data ../shared/data/$D --methods modict --keyword-boost 7
done
# the attributes-only setting (no salient phrases among the keywords), H&M test
run eval_hm_test_20_keywords_attributes.json --data ../shared/data/hm --keywords attributes --methods copy_reference,icl_prompt,modict
