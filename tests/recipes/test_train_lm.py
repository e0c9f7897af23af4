"""Recipe test: train_lm.py on a tiny generated corpus, and its guards.

A tiny LM is trained for three epochs on a few hundred sentences of the tiny
mini-AISHELL's text corpus plus its training transcripts, with the
vocabulary of an "ASR output folder" the test builds (CSVs and
tokenizer.ckpt). The LM's sizes are the same in the three YAML files that
build it.

Authors
 * MMSpeech plugin contributors 2026
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from speechbrain_mmspeech.dataio.manifests import read_csv_column
from speechbrain_mmspeech.dataio.text_pool import (
    HeldoutPolicy,
    heldout_sentences,
    read_training_lines,
    training_sentences,
)
from speechbrain_mmspeech.lobes.models.transformer_lm import TransformerLM
from speechbrain_mmspeech.tokenizers import CharTokenizer
from speechbrain_mmspeech.training.checkpoints import load_language_model

RECIPE_DIR = Path(__file__).resolve().parents[2] / "recipes" / "AISHELL-1"
LM_HPARAMS = RECIPE_DIR / "hparams" / "lm.yaml"
VOCAB = 600  # the tiny corpus uses at most 500 characters
TEXT_LINES = 300
TINY_LM = {"d_model": 32, "nhead": 2, "num_layers": 1, "d_ffn": 64}
TINY_LM_OVERRIDE = (
    "--lm_architecture={"
    + ", ".join(f"{key}: {value}" for key, value in TINY_LM.items())
    + "}"
)


@pytest.fixture(scope="module")
def asr_output(tiny_corpus, tmp_path_factory):
    """What the LM recipe reads from an ASR run: CSVs and tokenizer.ckpt."""
    from speechbrain_mmspeech.dataio.aishell_prepare import prepare_aishell

    output = tmp_path_factory.mktemp("asr_output")
    prepare_aishell(tiny_corpus / "data_aishell", output / "data")
    tokenizer = CharTokenizer()
    texts = list(read_csv_column(output / "data" / "train.csv", "transcript"))
    corpus = tiny_corpus / "text_corpus.txt"
    texts += corpus.read_text(encoding="utf-8").splitlines()
    tokenizer.build(texts, VOCAB)
    (output / "save").mkdir()
    tokenizer.save(output / "save" / "tokenizer.ckpt")
    return output


@pytest.fixture(scope="module")
def text_file(tiny_corpus, tmp_path_factory):
    """The first lines of the tiny corpus' text (no dev/test sentences)."""
    lines = (tiny_corpus / "text_corpus.txt").read_text(encoding="utf-8")
    path = tmp_path_factory.mktemp("text") / "text.txt"
    path.write_text(
        "\n".join(lines.splitlines()[:TEXT_LINES]) + "\n", encoding="utf-8"
    )
    return path


def lm_argv(asr_output, output, text_files, epochs, vocab=VOCAB):
    """Arguments of a tiny, fast LM run."""
    return [
        str(LM_HPARAMS),
        f"--asr_output_folder={asr_output}",
        f"--output_folder={output}",
        f"--text_files=[{','.join(str(path) for path in text_files)}]",
        f"--number_of_epochs={epochs}",
        f"--text_vocab_size={vocab}",
        "--batch_size=16",
        "--n_warmup_steps=10",
        "--lr=0.003",
        "--device=cpu",
        "--noprogressbar",
        TINY_LM_OVERRIDE,
    ]


def run_train_lm(argv):
    """Runs train_lm.py as a user would; returns its standard output."""
    command = [sys.executable, "train_lm.py", *argv]
    result = subprocess.run(
        command, cwd=RECIPE_DIR, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def trained_lm(asr_output, text_file, tmp_path_factory):
    """Output folder of a three-epoch LM run, and what it printed."""
    output = tmp_path_factory.mktemp("lm")
    stdout = run_train_lm(lm_argv(asr_output, output, [text_file], epochs=3))
    return output, stdout


def epoch_losses(train_log):
    """Training loss and dev perplexity per epoch, from train_log.txt."""
    pattern = re.compile(
        r"epoch: (\d+),.* train loss: ([0-9.e+-]+) .*valid PPL: ([0-9.e+-]+)"
    )
    return {
        int(epoch): (float(loss), float(ppl))
        for epoch, loss, ppl in pattern.findall(train_log)
    }


def test_lm_trains_and_its_loss_falls(trained_lm):
    output, stdout = trained_lm
    assert re.search(r"Dev perplexity: [0-9.]+", stdout), stdout
    log = (output / "train_log.txt").read_text(encoding="utf-8")
    losses = epoch_losses(log)
    assert sorted(losses) == [1, 2, 3]
    assert losses[3][0] < losses[1][0]
    assert losses[3][1] < losses[1][1]
    assert "best epoch" in log
    lm = TransformerLM.from_architecture(TINY_LM, vocab=VOCAB)
    load_language_model(lm, output / "lm.ckpt")


def test_rerun_resumes(trained_lm, asr_output, text_file):
    output, _ = trained_lm
    run_train_lm(lm_argv(asr_output, output, [text_file], epochs=4))
    log = (output / "log.txt").read_text(encoding="utf-8")
    for epoch in range(1, 5):
        assert log.count(f"Going into epoch {epoch}\n") == 1, epoch


def test_time_budget_ends_the_run(asr_output, text_file, tmp_path):
    """A budget that one epoch already spends stops the run after the next
    (of 3), as in the fine-tuning."""
    output = tmp_path / "lm"
    argv = lm_argv(asr_output, output, [text_file], epochs=3)
    run_train_lm([*argv, "--training_minutes=0.0001"])
    log = (output / "log.txt").read_text(encoding="utf-8")
    assert "Time budget: 2 epochs" in log
    assert "Going into epoch 3" not in log
    epochs = (output / "train_log.txt").read_text(encoding="utf-8")
    assert sorted(epoch_losses(epochs)) == [1, 2]


def test_dev_or_test_sentence_in_the_text_is_refused(
    asr_output, text_file, tmp_path
):
    import train_lm

    test_sentence = read_csv_column(
        asr_output / "data" / "test.csv", "transcript"
    )[0]
    leaking = tmp_path / "leaking.txt"
    leaking.write_text(f"第一句\n{test_sentence}。\n", encoding="utf-8")
    argv = lm_argv(asr_output, tmp_path / "lm", [text_file, leaking], 1)
    with pytest.raises(ValueError, match=f"{leaking}:2: "):
        train_lm.main(argv)

    hparams = {
        "text_files": [leaking],
        "use_train_transcripts": False,
        "valid_csv": asr_output / "data" / "dev.csv",
        "test_csv": asr_output / "data" / "test.csv",
        "drop_heldout_sentences": True,
        "max_sentence_chars": 200,
    }
    assert training_sentences(hparams) == ["第一句"]


def test_default_text_has_no_dev_or_test_sentence(tiny_corpus, asr_output):
    hparams = {
        "text_files": [tiny_corpus / "text_corpus.txt"],
        "use_train_transcripts": True,
        "train_csv": asr_output / "data" / "train.csv",
        "valid_csv": asr_output / "data" / "dev.csv",
        "test_csv": asr_output / "data" / "test.csv",
    }
    lines = read_training_lines(hparams)
    heldout = heldout_sentences(hparams)
    assert heldout and len(lines) > TEXT_LINES
    policy = HeldoutPolicy(heldout, drop=True)
    assert all(policy.sentence(*line) is not None for line in lines)


def test_tokenizer_size_must_match(asr_output, tmp_path):
    import train_lm

    argv = lm_argv(asr_output, tmp_path, [], epochs=1, vocab=VOCAB + 1)
    with pytest.raises(ValueError, match=f"--text_vocab_size={VOCAB}"):
        train_lm.main(argv)
