#!/usr/bin/env bash
# The evaluation behind docs/EVALUATION.md: one adapter, H&M and IKEA test (first 20 products each, all rows
# plus the no-ban row), the attributes-only setting, and the H&M dev comparison of adapters.
#   bench/evaluate_adapter.sh ADAPTER NAME [OTHER_ADAPTER OTHER_NAME]
set -euo pipefail
cd "$(dirname "$0")/.."
A=$1; NAME=$2
ALL=copy_reference,icl_prompt,modict_no_reference,modict_random_reference,modict_no_visual,modict,modict_no_ban
R=bench/results/lm-choice
python -m ecomcopy evaluate --data ../shared/data/hm --split test --limit 20 --json --adapter "$A" --methods $ALL > $R/eval_hm_test_20_$NAME.json
python -m ecomcopy evaluate --data ../shared/data/ikea --split test --limit 20 --json --adapter "$A" --methods $ALL > $R/eval_ikea_test_20_$NAME.json
python -m ecomcopy evaluate --data ../shared/data/hm --split dev --limit 20 --json --adapter "$A" --methods copy_reference,icl_prompt,modict > $R/eval_hm_dev_20_$NAME.json
python -m ecomcopy evaluate --data ../shared/data/hm --split test --limit 20 --json --adapter "$A" --keywords attributes --methods copy_reference,icl_prompt,modict > $R/eval_hm_test_20_${NAME}_attributes.json
if [ $# -ge 4 ]; then
  python -m ecomcopy evaluate --data ../shared/data/hm --split dev --limit 20 --json --adapter "$3" --methods copy_reference,icl_prompt,modict > $R/eval_hm_dev_20_$4.json
fi
