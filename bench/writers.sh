#!/usr/bin/env bash
# The writer candidates (backbone x frozen LM / LoRA) side by side on the first LIMIT products of SPLIT per domain:
# each trained writer with its own ablation rows, each backbone's plain prompt on its untrained LM.
#   [LIMIT=50] [SPLIT=dev] [ROWS=modict,modict_no_reference,modict_random_reference] [DECODING="--keyword-boost 0"]
#       bench/writers.sh NAME=ADAPTER ...   (DECODING: `evaluate` options for every writer, e.g. a decoding variant,
#       split on spaces, no quoting; a finished table is kept by NAME, so give each DECODING its own NAME)
#     ADAPTER: an adapter path stem, or prompt:LM for the plain prompt on LM (e.g. prompt:qwen2.5-1.5b)
#     -> bench/results/writers/SPLIT_{hm,ikea}_LIMIT_NAME.json   (resumable: a finished table is kept)
# e.g. bench/writers.sh q05-frozen=assets/modict/qwen2.5-0.5b/adapter q15-prompt=prompt:qwen2.5-1.5b q15-lora=runs/qwen15-lora-s1/adapter
# Choose on dev; run the chosen writer on test with SPLIT=test LIMIT=100.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/keep.sh
LIMIT=${LIMIT:-50}; SPLIT=${SPLIT:-dev}
ROWS=${ROWS:-modict,modict_no_reference,modict_random_reference}
read -ra DECODING <<< "${DECODING:-}"
R=bench/results/writers; mkdir -p $R
for pair in "$@"; do
  NAME=${pair%%=*}; WRITER=${pair#*=}
  if [[ $WRITER == prompt:* ]]; then
    ARGS=(--adapter none --lm "${WRITER#prompt:}" --methods copy_reference,icl_prompt)
  else
    ARGS=(--adapter "$WRITER" --methods "$ROWS")
  fi
  for D in hm ikea; do
    keep $R/${SPLIT}_${D}_${LIMIT}_$NAME.json \
      python -m ecomcopy evaluate --data ../shared/data/$D --split "$SPLIT" --limit "$LIMIT" --json "${ARGS[@]}" ${DECODING[@]+"${DECODING[@]}"}
  done
done
