#!/usr/bin/env bash
# The main job, end to end on the synthetic mini-AISHELL corpus:
# generate the corpus -> fine-tune MMSpeech (CPU preset) -> test CER ->
# transcribe one test utterance through EncoderDecoderASR.from_hparams.
#
#   bash run_mini_aishell.sh [extra train.py overrides, e.g. --number_of_epochs=2]
#
# MINI_AISHELL (corpus folder) and OUTPUT (results folder) can be set.
set -euo pipefail
cd "$(dirname "$0")"
data="${MINI_AISHELL:-data/mini_aishell}"
out="${OUTPUT:-results/mini_aishell}"
start=$(date +%s)

transcript="$data/data_aishell/transcript/aishell_transcript_v0.8.txt"
if [ ! -f "$transcript" ]; then
    python3 mini_aishell.py "$data"
fi
echo "Corpus ready after $(( $(date +%s) - start )) s"

python3 train.py hparams/finetune.yaml --data_folder="$data/data_aishell" \
    --output_folder="$out" --device=cpu --noprogressbar "$@"

wav=$(find "$out/data" -name test.csv -exec sed -n 2p {} \; | cut -d, -f3)
utt=$(basename "$wav" .wav)
echo "Reference:     $(grep "^$utt " "$transcript" | cut -d' ' -f2- | tr -d ' ')"
python3 transcribe.py "$out/model" "$wav"
echo "Main job finished in $(( $(date +%s) - start )) s"
