#!/usr/bin/env bash
# The draft checker's metrics of today's drafts: the plain prompt and ModICT rows on the first LIMIT (20) dev
# products per domain, shipped decoding. Output: bench/results/checker/dev_{hm,ikea}_LIMIT_NAME.json
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/keep.sh
NAME=${1:-shipped}; LIMIT=${LIMIT:-20}
for d in hm ikea; do
  keep bench/results/checker/dev_${d}_${LIMIT}_${NAME}.json \
    python -m ecomcopy evaluate --data ../shared/data/$d --split dev --limit "$LIMIT" --methods icl_prompt,modict --json "${@:2}"
done
