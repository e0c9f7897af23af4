#!/usr/bin/env bash
# MMSpeech pre-training ablation on mini-AISHELL (README "Pre-training").
#
# Four rows, each fine-tuned with the same command (25 epochs) on the same
# 1,000 labeled utterances and tested on the same 200 test utterances:
#   none     no pre-training
#   p2t      stage 1 only (P2T on unpaired text)
#   s2c_msp  S2C + MSP on unpaired speech only
#   all5     stage 1, then stage 2 (all five tasks)
# and, on request only, the diagnostics:
#   p2t_pp_s2t stage 1, then stage 2 without the unpaired speech (P2T + PP
#            + S2T): is it S2C + MSP that hurts, or the joint training?
#   all5_nomsp all5 with the MSP loss weight at 0
# and the measurement behind the choice of code features:
#   all5_enc all5 with codes from k-means over the encoder states of the
#            "none" model instead of fbank (needs the none row)
# Pools: 1,000 labeled utterances (20 speakers), 3,000 unpaired utterances
# (60 speakers, transcripts withheld), about 10,000 unpaired sentences (every
# People's Daily clause that no utterance reads). Stage 1 runs 15 epochs over
# the text pool, stage 2 8 epochs over the unpaired speech pool.
#
#   bash run_pretrain_ablation.sh            # all rows
#   bash run_pretrain_ablation.sh p2t all5   # some rows
#   bash run_pretrain_ablation.sh all5_enc   # the code-feature measurement
#
# DATA (corpus folder) and OUT (results folder) can be set; FT_OPTS adds
# options to every fine-tuning run, whose folders and result lines then carry
# FT_TAG (e.g. FT_OPTS="--lr=5e-4" FT_TAG=_lr5e-4). Each step is
# skipped if its output exists, so a killed run continues where it stopped.
# Wall times go to $OUT/times.txt, test CERs to $OUT/results.txt.
set -euo pipefail
cd "$(dirname "$0")"
data="${DATA:-data/ablation}"
out="${OUT:-results/ablation}"
rows=("$@")
read -r -a ft_opts <<< "${FT_OPTS:-}"
tag="${FT_TAG:-}"
[ ${#rows[@]} -gt 0 ] || rows=(none p2t all5 s2c_msp)
mkdir -p "$out"

labeled="$data/data_aishell"
speech="$data/unpaired_speech/unpaired.csv"
text="$data/unpaired_text.txt"
codes="$out/codes/codes.ckpt"
run_opts=(--device=cpu --noprogressbar)
pools=(--data_folder="$labeled" --unpaired_speech="$speech"
       --text_files="[$text]")
# The fine-tuning budget of every row. The character vocabulary is built
# from the same files as in pre-training, and the decoder keeps the code
# block, so every row fine-tunes the very same architecture.
finetune=(hparams/finetune.yaml --data_folder="$labeled"
          --tokenizer_extra_text="[$text]" --architecture="{code_vocab_size: 1000}"
          --number_of_epochs=25 --max_batch_length_train=40
          --valid_search_interval=10 "${run_opts[@]}" "${ft_opts[@]}")

timed() {  # timed <name> <command...>: runs it, appends its wall time
    local name=$1 start
    shift
    start=$(date +%s)
    "$@"
    echo "$name $(( $(date +%s) - start )) s" >> "$out/times.txt"
}

if [ ! -f "$labeled/transcript/aishell_transcript_v0.8.txt" ]; then
    timed corpus python3 -m speechbrain_mmspeech.mini_aishell "$data" \
        --n-train-speakers 20 --n-dev-speakers 4 --n-test-speakers 4 --utts-per-speaker 50 \
        --n-unpaired-speakers 60
fi

stage1() {
    [ -f "$out/p2t/model.ckpt" ] || timed stage1 python3 pretrain.py \
        hparams/pretrain.yaml "${pools[@]}" --number_of_epochs=15 \
        --speech_batch_size=0 --paired_batch_size=0 --text_batch_size=32 \
        --output_folder="$out/p2t" "${run_opts[@]}"
}

build_codes() {  # build_codes <codes file> [extra build_codes.py options]
    local file=$1
    shift
    [ -f "$file" ] || timed "codes_$(basename "$(dirname "$file")")" \
        python3 build_codes.py hparams/pretrain.yaml "${pools[@]}" \
        --codes_file="$file" --output_folder="$(dirname "$file")" "$@"
}

stage2() {  # stage2 <row> <codes file> [extra pretrain.py options]
    local row=$1 file=$2
    shift 2
    [ -f "$out/$row/model.ckpt" ] || timed "pretrain_$row" python3 \
        pretrain.py hparams/pretrain.yaml "${pools[@]}" \
        --number_of_epochs=8 --codes_file="$file" --output_folder="$out/$row" \
        "${run_opts[@]}" "$@"
}

finetune_row() {  # finetune_row <row> [pre-trained model.ckpt]
    local row=$1 model=${2:-null}
    local ft="$out/ft_$row$tag"
    [ -f "$ft/cer.txt" ] || timed "finetune_$row$tag" python3 train.py \
        "${finetune[@]}" --pretrained_model="$model" --output_folder="$ft"
    if [ "$model" != null ]; then
        # Pre-training and fine-tuning must share the character vocabulary.
        cmp "$(dirname "$model")/tokenizer.ckpt" \
            "$ft/save/tokenizer.ckpt"
    fi
    echo "$row$tag $(grep -m1 '%WER' "$ft/cer.txt")" >> "$out/results.txt"
}

for row in "${rows[@]}"; do
    case $row in
        none)
            finetune_row none ;;
        p2t)
            stage1
            finetune_row p2t "$out/p2t/model.ckpt" ;;
        s2c_msp)
            build_codes "$codes"
            stage2 s2c_msp "$codes" --init_model=null \
                --paired_batch_size=0 --text_batch_size=0
            finetune_row s2c_msp "$out/s2c_msp/model.ckpt" ;;
        all5)
            stage1
            build_codes "$codes"
            stage2 all5 "$codes" --init_model="$out/p2t/model.ckpt"
            finetune_row all5 "$out/all5/model.ckpt" ;;
        p2t_pp_s2t)
            stage1
            stage2 p2t_pp_s2t "$codes" --init_model="$out/p2t/model.ckpt" \
                --speech_batch_size=0
            finetune_row p2t_pp_s2t "$out/p2t_pp_s2t/model.ckpt" ;;
        all5_nomsp)
            stage1
            build_codes "$codes"
            stage2 all5_nomsp "$codes" --init_model="$out/p2t/model.ckpt" \
                --msp_weight=0
            finetune_row all5_nomsp "$out/all5_nomsp/model.ckpt" ;;
        all5_enc)
            stage1
            encoder_codes="$out/codes_encoder/codes.ckpt"
            build_codes "$encoder_codes" --code_feature_type=encoder \
                --code_encoder_checkpoint="$out/ft_none/model/model.ckpt"
            stage2 all5_enc "$encoder_codes" --code_feature_type=encoder \
                --code_encoder_checkpoint="$out/ft_none/model/model.ckpt" \
                --init_model="$out/p2t/model.ckpt"
            finetune_row all5_enc "$out/all5_enc/model.ckpt" ;;
        *)
            echo "unknown row $row (none, p2t, s2c_msp, all5, p2t_pp_s2t, all5_nomsp, all5_enc)" >&2
            exit 1 ;;
    esac
done
cat "$out/results.txt"
