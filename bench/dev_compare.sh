#!/usr/bin/env bash
# One decoding or adapter variant on dev (never test): the ModICT row on the first LIMIT (20) H&M and IKEA dev products.
#   [LIMIT=20] bench/dev_compare.sh NAME [evaluate options...]   -> bench/results/dev-variants/dev_{hm,ikea}_LIMIT_NAME.json
# e.g. bench/dev_compare.sh b3 --keyword-boost 3;  bench/dev_compare.sh longer --adapter runs/qwen-merchant-more/adapter
# Resumable: a finished table is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/keep.sh
NAME=$1; shift; LIMIT=${LIMIT:-20}
for D in hm ikea; do
  keep bench/results/dev-variants/dev_${D}_${LIMIT}_$NAME.json \
    python -m ecomcopy evaluate --data ../shared/data/$D --split dev --limit $LIMIT --json --methods modict "$@"
done
