"""Recipe test: train.py on a few dozen generated utterances, then inference.

A tiny MMSpeech is fine-tuned for two epochs on a generated mini-AISHELL,
tested, exported, and loaded back with SpeechBrain's stock
``EncoderDecoderASR.from_hparams``. A second call with one more epoch must
resume from the checkpoint instead of starting over.

Authors
 * MMSpeech plugin contributors 2026
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tiny_recipe_model import TEXT_VOCAB
from tiny_recipe_model import TINY_MODEL as TINY_RECIPE_MODEL

RECIPE_DIR = Path(__file__).resolve().parents[2] / "recipes" / "AISHELL-1"

# 4 train speakers x 8 utterances, 1 dev and 1 test speaker.
SMALL_CORPUS = {
    "seed": 11,
    "n_train_speakers": 4,
    "n_dev_speakers": 1,
    "n_test_speakers": 1,
    "utts_per_speaker": 8,
}

TINY_MODEL = [
    *TINY_RECIPE_MODEL,
    "--valid_search_interval=1",
    "--beam_size=2",
    # P2T on a slice of the text pool; the vocabulary from the transcripts
    # alone keeps the runs fast (tests/test_training.py checks that the
    # default vocabulary covers the text pool).
    "--max_text_sentences=64",
    "--tokenizer_extra_text=[]",
]


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    """A mini-AISHELL of a few dozen utterances."""
    from speechbrain_mmspeech.mini_aishell import generate_mini_aishell

    output = tmp_path_factory.mktemp("small_aishell")
    generate_mini_aishell(output, **SMALL_CORPUS)
    return output / "data_aishell"


def run_train(data_folder, output_folder, epochs, *extra):
    """Runs the recipe as a user would; returns its standard output."""
    command = [
        sys.executable,
        "train.py",
        "hparams/finetune.yaml",
        f"--data_folder={data_folder}",
        f"--output_folder={output_folder}",
        f"--number_of_epochs={epochs}",
        "--device=cpu",
        "--noprogressbar",
        *TINY_MODEL,
        *extra,
    ]
    result = subprocess.run(
        command, cwd=RECIPE_DIR, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def trained(small_corpus, tmp_path_factory):
    """Output folder of a two-epoch run, and what it printed."""
    output = tmp_path_factory.mktemp("finetune")
    stdout = run_train(small_corpus, output, epochs=2)
    return output, stdout


def test_training_writes_results(trained):
    output, stdout = trained
    for name in ["train_log.txt", "log.txt", "hyperparams.yaml", "cer.txt"]:
        assert (output / name).is_file(), name
    for split in ["train", "dev", "test"]:
        assert (output / "data" / f"{split}.csv").is_file()
    assert "Test CER:" in stdout
    log = (output / "train_log.txt").read_text(encoding="utf-8")
    # Batches held labeled speech and text: each task's loss is logged.
    for task in ["s2t", "pp", "p2t"]:
        assert f"train {task}: " in log.splitlines()[0], task
    assert "epoch: 1" in log and "epoch: 2" in log and "test CER" in log


def test_exported_folder_loads_with_stock_interface(trained, tmp_path):
    from speechbrain.inference.ASR import EncoderDecoderASR

    output, _ = trained
    model_folder = output / "model"
    for name in ["hyperparams.yaml", "model.ckpt", "tokenizer.ckpt"]:
        assert (model_folder / name).is_file(), name
    asr = EncoderDecoderASR.from_hparams(
        source=str(model_folder),
        savedir=str(tmp_path / "savedir"),
        run_opts={"device": "cpu"},
    )
    test_csv = (output / "data" / "test.csv").read_text(encoding="utf-8")
    wav = test_csv.splitlines()[1].split(",")[2]
    text = asr.transcribe_file(wav)
    assert isinstance(text, str)
    vocabulary = set(asr.tokenizer.tokens)
    assert all(char in vocabulary or char == "\u2047" for char in text)


def test_phone_error_rate_scores_every_reference_phone(trained, capsys):
    """The phone-head diagnostic scores all phones of every test utterance."""
    import phone_error_rate

    from speechbrain_mmspeech.dataio.manifests import read_csv_rows
    from speechbrain_mmspeech.text import normalize_text
    from speechbrain_mmspeech.tokenizers import PinyinTokenizer

    output, _ = trained
    test_csv = output / "data" / "test.csv"
    stats = phone_error_rate.main([str(output / "model"), str(test_csv)])
    rows = read_csv_rows(test_csv)
    pinyin = PinyinTokenizer()
    n_phones = sum(
        len(pinyin.encode_as_ids(normalize_text(row["transcript"])))
        for row in rows
    )
    summary = stats.per.summarize()
    assert summary["num_scored_sents"] == len(rows)
    assert summary["num_scored_tokens"] == n_phones
    for score in stats.per.scores:
        assert all(1 <= phone <= 120 for phone in score["hyp_tokens"])
    assert not stats.cer.scores and not stats.ser.scores  # no search
    assert f"over {len(rows)} utterances" in capsys.readouterr().out


@pytest.mark.parametrize("lm_mode", ["fusion", "rescoring"])
def test_test_stage_with_a_language_model(
    trained, small_corpus, tmp_path, lm_mode
):
    """A finished run tests again with the LM and exports it in the folder."""
    from speechbrain_mmspeech.inference.ASR import MMSpeechASR
    from speechbrain_mmspeech.lobes.models.transformer_lm import TransformerLM

    output = tmp_path / "finetune"
    shutil.copytree(trained[0], output)
    sizes = {"d_model": 16, "nhead": 2, "num_layers": 1, "d_ffn": 32}
    lm = TransformerLM.from_architecture(sizes, vocab=TEXT_VOCAB)
    torch.save(lm.state_dict(), tmp_path / "lm.ckpt")
    stdout = run_train(
        small_corpus,
        output,
        2,
        f"--lm_mode={lm_mode}",
        f"--lm_file={tmp_path / 'lm.ckpt'}",
        "--lm_weight=0.2",
        "--rescoring_topk=2",
        f"--model_folder={output / 'model_lm'}",
        "--lm_architecture={"
        + ", ".join(f"{k}: {v}" for k, v in sizes.items())
        + "}",
    )
    assert f"LM {lm_mode} weight 0.2" in stdout
    log = (output / "train_log.txt").read_text(encoding="utf-8")
    assert f"LM: {lm_mode}" in log.splitlines()[-1]
    folder = output / "model_lm"
    assert (folder / "lm.ckpt").is_file()
    asr = MMSpeechASR.from_hparams(
        source=str(folder),
        savedir=str(tmp_path / "savedir"),
        run_opts={"device": "cpu"},
    )
    assert asr.lm_mode == lm_mode
    test_csv = (output / "data" / "test.csv").read_text(encoding="utf-8")
    assert isinstance(
        asr.transcribe_file(test_csv.splitlines()[1].split(",")[2]), str
    )


def test_test_stage_with_an_ngram_lm(trained, small_corpus, tmp_path):
    """A finished run tests again with the n-gram LM of the text pool."""
    from speechbrain.inference.ASR import EncoderDecoderASR

    from speechbrain_mmspeech.lm.ngram import NgramLMScorer

    output = tmp_path / "finetune"
    shutil.copytree(trained[0], output)
    stdout = run_train(
        small_corpus,
        output,
        2,
        "--ngram_lm_weight=0.3",
        f"--model_folder={output / 'model_ngram'}",
    )
    assert "3-gram LM weight 0.3" in stdout
    assert (output / "save" / "ngram_lm_3gram.ckpt").is_file()
    log = (output / "train_log.txt").read_text(encoding="utf-8")
    assert "n-gram LM weight: 3.00e-01, n-gram order: 3" in log.splitlines()[-1]
    folder = output / "model_ngram"
    assert (folder / "ngram_lm.ckpt").is_file()
    asr = EncoderDecoderASR.from_hparams(
        source=str(folder),
        savedir=str(tmp_path / "savedir"),
        run_opts={"device": "cpu"},
    )
    scorer = asr.hparams.decoder.scorer.full_scorers["ngramlm"]
    assert isinstance(scorer, NgramLMScorer)
    test_csv = (output / "data" / "test.csv").read_text(encoding="utf-8")
    assert isinstance(
        asr.transcribe_file(test_csv.splitlines()[1].split(",")[2]), str
    )


def test_rerun_resumes_from_checkpoint(trained, small_corpus):
    output, _ = trained
    run_train(small_corpus, output, epochs=3)
    log = (output / "log.txt").read_text(encoding="utf-8")
    # Epochs 1 and 2 ran once (first run); the rerun only adds epoch 3.
    assert log.count("Going into epoch 1") == 1
    assert log.count("Going into epoch 2") == 1
    assert log.count("Going into epoch 3") == 1


def test_time_budget_ends_the_run_and_its_schedule(small_corpus, tmp_path):
    """A budget that one epoch already spends stops the run after the next
    (of 4), whose learning rate reaches 0; a rerun keeps the count."""
    output = tmp_path / "budget"
    budget = "--training_minutes=0.0001"
    run_train(small_corpus, output, 4, budget)
    log = (output / "log.txt").read_text(encoding="utf-8")
    assert "Time budget: 2 epochs" in log
    assert "Going into epoch 3" not in log
    epochs = (output / "train_log.txt").read_text(encoding="utf-8")
    last_epoch = [line for line in epochs.splitlines() if "epoch: 2" in line]
    assert "lr: 0.00e+00" in last_epoch[0]
    run_train(small_corpus, output, 4, budget)
    log = (output / "log.txt").read_text(encoding="utf-8")
    assert "Going into epoch 3" not in log


def test_killed_run_resumes_without_losing_or_repeating_batches(
    small_corpus, tmp_path, kill_and_resume
):
    import train

    from speechbrain_mmspeech.training.brain import MMSpeechBrain

    def argv(output):
        return [
            str(RECIPE_DIR / "hparams" / "finetune.yaml"),
            f"--data_folder={small_corpus}",
            f"--output_folder={output}",
            "--number_of_epochs=2",
            "--device=cpu",
            "--noprogressbar",
            "--ckpt_interval_minutes=0",
            "--ckpt_interval_steps=2",
            "--max_batch_length_train=6",
            *TINY_MODEL,
        ]

    assert kill_and_resume(MMSpeechBrain, train.main, argv, tmp_path) >= 6


def test_folder_cuts_continuous_speech_at_the_longest_training_utterance(
    trained, tmp_path
):
    """The exported max_segment_seconds is the longest training utterance
    (rounded up to 0.1 s); speech without a pause, several times longer, is
    cut into segments no longer than that."""
    import soundfile as sf
    from speechbrain.inference.ASR import EncoderDecoderASR

    from speechbrain_mmspeech.dataio.manifests import read_csv_rows

    output, _ = trained
    longest = max(
        float(row["duration"])
        for row in read_csv_rows(output / "data" / "train.csv")
    )
    asr = EncoderDecoderASR.from_hparams(
        source=str(output / "model"),
        savedir=str(tmp_path / "savedir"),
        run_opts={"device": "cpu"},
    )
    stored = asr.hparams.max_segment_seconds
    assert longest <= stored < longest + 0.1 + 1e-9
    rows = read_csv_rows(output / "data" / "test.csv")
    pieces = []
    for row in rows:
        audio, rate = sf.read(row["wav"], dtype="float32")
        pieces.append(torch.from_numpy(audio))
    continuous = torch.cat(pieces)  # utterances back to back, no pause
    assert len(continuous) > 3 * stored * rate
    segmented = asr.mods.encoder(continuous.unsqueeze(0), torch.ones(1))
    segments = segmented.segments[0]
    assert len(segments) >= 3
    assert all((end - start) / rate <= stored + 1e-6 for start, end in segments)


def test_evaluate_prints_cer_phone_and_syllable_errors(trained, small_corpus):
    """evaluate.py scores the test set and the out-of-domain tests."""
    output, _ = trained
    extra = small_corpus.parent / "extra_tests"
    manifests = [output / "data" / "test.csv", extra / "topic.csv"]
    manifests.append(extra / "shuffled.csv")
    command = [
        sys.executable,
        "evaluate.py",
        str(output / "model"),
        *map(str, manifests),
        "--threads=1",
        "--override",
        "phone_ctc_weight=0.9",
    ]
    result = subprocess.run(
        command, cwd=RECIPE_DIR, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if "CER" in line]
    assert len(lines) == 3
    for manifest, line in zip(manifests, lines):
        assert line.startswith(str(manifest))
        assert "phone_ctc_weight=0.9" in line
        for metric in ["CER", "PER", "SER", "RTF"]:
            assert f"{metric} " in line
