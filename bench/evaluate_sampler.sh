#!/usr/bin/env bash
# The ModICT row after a change of the inference path (docs/PERFORMANCE.md "no drop in the metrics"):
# H&M and IKEA test, first 20 products, same command as the rows in docs/EVALUATION.md.
#   bench/evaluate_sampler.sh NAME
set -euo pipefail
cd "$(dirname "$0")/.."
R=bench/results/performance
for D in hm ikea; do
  python -m ecomcopy evaluate --data ../shared/data/$D --split test --limit 20 --json --methods modict > $R/eval_${D}_test_20_modict_$1.json
done
