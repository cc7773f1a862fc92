#!/usr/bin/env bash
# Keyword emphasis sweep (docs/EVALUATION.md "Keyword emphasis B = 4"): the ModICT row on H&M and IKEA dev,
# first 20 products each, for several logit bonuses; the shipped default is chosen from these, never from test.
#   bench/keyword_boost.sh [BOOST ...]    (default: 0 1 2 3 4)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/keep.sh
R=bench/results/keyword-emphasis
[ $# -gt 0 ] || set -- 0 1 2 3 4
for B in "$@"; do
  for D in hm ikea; do
    keep $R/kwboost_${D}_dev_20_$B.json \
      python -m ecomcopy evaluate --data ../shared/data/$D --split dev --limit 20 --json --methods modict --keyword-boost "$B"
  done
done
