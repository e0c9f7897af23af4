#!/usr/bin/env bash
# The main job, end to end on the synthetic mini-AISHELL corpus, as MMSpeech
# trains: generate the corpus -> stage-1 P2T on the text pool (every People's
# Daily clause but the dev/test sentences) -> fine-tuning with S2T + PP on the
# labeled speech and P2T on the text pool -> test CER (phone-aware decoding and
# the text pool's character trigram) -> CER, PER and decoded-syllable error on
# test, on unseen voices and on the out-of-domain tests -> transcribe one
# test utterance.
#
#   bash run_mini_aishell.sh [extra train.py overrides, e.g. --number_of_epochs=2]
#
# MINI_AISHELL (corpus folder) and OUTPUT (results folder) can be set; so can
# the time budget: JOB_MINUTES (the whole job, default 18: the limit is 20),
# STAGE1_SENTENCES (text sentences of stage 1) and FT_EPOCHS (the most
# fine-tuning epochs). The fine-tuning trains as many epochs as fit in what
# is left of JOB_MINUTES, so a slower machine trains fewer, on a complete
# schedule, instead of overrunning.
set -euo pipefail
cd "$(dirname "$0")"
data="${MINI_AISHELL:-data/mini_aishell}"
out="${OUTPUT:-results/mini_aishell}"
stage1_sentences="${STAGE1_SENTENCES:-8192}"
ft_epochs="${FT_EPOCHS:-12}"
job_minutes="${JOB_MINUTES:-18}"
start=$(date +%s)

transcript="$data/data_aishell/transcript/aishell_transcript_v0.8.txt"
if [ ! -f "$transcript" ]; then
    # The package's mmspeech-mini-aishell command, through this python3.
    python3 -m speechbrain_mmspeech.mini_aishell "$data"
fi
echo "Corpus ready after $(( $(date +%s) - start )) s"

# Stage 1: P2T only, on the text pool (no audio codes: no stage 2 follows).
python3 pretrain.py hparams/pretrain.yaml \
    --speech_batch_size=0 --paired_batch_size=0 --text_batch_size=32 \
    --data_folder="$data/data_aishell" \
    --text_files="[$data/text_corpus.txt]" \
    --output_folder="$out/stage1" --architecture="{code_vocab_size: 0}" \
    --max_text_sentences="$stage1_sentences" --number_of_epochs=1 \
    --device=cpu --noprogressbar
now=$(date +%s)
echo "Stage 1 done after $(( now - start )) s"

# The fine-tuning gets what is left of the job's minutes. Out of them,
# train.py keeps time for what follows its epochs (its start and test,
# evaluate.py, the transcription), in epochs of the speed it measures:
# that part took 1.35 and 1.44 epochs' time (f0832f3, 280b961).
left_seconds=$(( job_minutes * 60 - (now - start) ))
ft_minutes=$(python3 -c "print(round(max($left_seconds, 60) / 60, 2))")
echo "Fine-tuning: at most $ft_epochs epochs; $ft_minutes minutes left"

# Stage 3: fine-tuning from stage 1 (same vocabulary: the same transcripts
# and text files build it), as 2 one-thread processes under DDP (gloo): on
# 2 cores they train 1.2x faster than one process on 2 threads (README.md,
# "Hearing the syllables"). Each process batches 20 s of audio, so that an
# update sees about as many utterances as one process at the YAML's 80 s.
OMP_NUM_THREADS=1 python3 -m torch.distributed.run --standalone \
    --nproc_per_node=2 train.py hparams/finetune.yaml \
    --data_folder="$data/data_aishell" \
    --output_folder="$out" --pretrained_model="$out/stage1/model.ckpt" \
    --number_of_epochs="$ft_epochs" --valid_search_interval="$ft_epochs" \
    --training_minutes="$ft_minutes" --training_reserved_epochs=1.5 \
    --max_batch_length_train=20 --distributed_backend=gloo \
    --device=cpu --noprogressbar "$@"

# CER, the phone head's error rate (PER) and the decoded text's syllable
# error (SER) on the test set, on the test sentences read by voices never
# heard in training, then on the out-of-domain tests (a topic held out of
# all training text; the test sentences with shuffled words). The telephone
# and clipped versions of the test are scored by the same command (see
# README.md).
python3 evaluate.py "$out/model" "$out/data/test.csv" \
    "$data"/extra_tests/unseen_voices.csv \
    "$data"/extra_tests/topic.csv "$data"/extra_tests/shuffled.csv

wav=$(find "$out/data" -name test.csv -exec sed -n 2p {} \; | cut -d, -f3)
utt=$(basename "$wav" .wav)
echo "Reference:     $(grep "^$utt " "$transcript" | cut -d' ' -f2- | tr -d ' ')"
mmspeech-transcribe "$out/model" "$wav" --no-progress
echo "Main job finished in $(( $(date +%s) - start )) s"
