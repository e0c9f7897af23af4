"""Recipe tests: pretrain.py stages 1 and 2, fine-tuning from stage 2, resume.

A tiny MMSpeech is pre-trained on a generated mini-AISHELL with the three
pools (labeled speech, unpaired speech, unpaired text): stage 1 (P2T), then
stage 2 (all five tasks) from the stage-1 model, then ``train.py``
fine-tunes from the stage-2 model. A pre-training run killed in the middle
of an epoch must resume from its checkpoint without losing or repeating a
batch.

Authors
 * MMSpeech plugin contributors 2026
"""

import doctest
import importlib
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from speechbrain_mmspeech.dataio.batches import active_pools, fixed_mix_loader
from speechbrain_mmspeech.dataio.text_pool import read_text_pool
from speechbrain_mmspeech.training import settings
from speechbrain_mmspeech.training.brain import MMSpeechBrain
from tiny_recipe_model import STAGE1, TEXT_VOCAB, tiny_architecture

RECIPE_DIR = Path(__file__).resolve().parents[2] / "recipes" / "AISHELL-1"
HPARAMS = RECIPE_DIR / "hparams"

# 3 train speakers x 4 utterances, 1 dev, 1 test and 2 unpaired speakers.
POOLS_CORPUS = {
    "seed": 5,
    "n_train_speakers": 3,
    "n_dev_speakers": 1,
    "n_test_speakers": 1,
    "utts_per_speaker": 4,
    "n_unpaired_speakers": 2,
}
# Pre-training and the fine-tuning from it use the same 40 audio codes.
TINY_MODEL = [tiny_architecture(code_vocab_size=40)]
TINY_CODES = ["--n_clusters=16"]
TASK_NAMES = ("p2t", "s2c", "msp", "pp", "s2t")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A mini-AISHELL with the three pools."""
    from speechbrain_mmspeech.mini_aishell import generate_mini_aishell

    output = tmp_path_factory.mktemp("pools_aishell")
    generate_mini_aishell(output, **POOLS_CORPUS)
    return output


def pool_args(corpus, text_sentences=48):
    """Command-line arguments naming the three pools of ``corpus``."""
    return [
        f"--data_folder={corpus / 'data_aishell'}",
        f"--unpaired_speech={corpus / 'unpaired_speech' / 'unpaired.csv'}",
        f"--text_files=[{corpus / 'unpaired_text.txt'}]",
        f"--max_text_sentences={text_sentences}",
    ]


def run(script, hparams, *args):
    """Runs a recipe script as a user would; returns its standard output."""
    command = [
        sys.executable,
        script,
        str(hparams),
        "--device=cpu",
        "--noprogressbar",
        *TINY_MODEL,
        *args,
    ]
    result = subprocess.run(
        command, cwd=RECIPE_DIR, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def logged_losses(folder):
    """Per-epoch ``{name: value}`` of a train_log.txt."""
    epochs = []
    for line in (folder / "train_log.txt").read_text().splitlines():
        pairs = re.findall(r"train (\w+): ([-+.e0-9]+)", line)
        epochs.append({name: float(value) for name, value in pairs})
    return epochs


@pytest.fixture(scope="module")
def stages(corpus, tmp_path_factory):
    """Output folders of stage 1, stage 2 (from stage 1) and fine-tuning."""
    root = tmp_path_factory.mktemp("pretrain")
    stage1, stage2, finetune = root / "s1", root / "s2", root / "ft"
    run(
        "pretrain.py",
        HPARAMS / "pretrain.yaml",
        *STAGE1,
        *pool_args(corpus),
        *TINY_CODES,
        f"--output_folder={stage1}",
        "--text_batch_size=8",
        "--number_of_epochs=2",
    )
    run(
        "pretrain.py",
        HPARAMS / "pretrain.yaml",
        *pool_args(corpus),
        *TINY_CODES,
        f"--output_folder={stage2}",
        f"--init_model={stage1 / 'model.ckpt'}",
        "--speech_batch_size=2",
        "--paired_batch_size=1",
        "--text_batch_size=2",
        "--number_of_epochs=2",
    )
    stdout = run(
        "train.py",
        RECIPE_DIR / "hparams" / "finetune.yaml",
        f"--data_folder={corpus / 'data_aishell'}",
        f"--tokenizer_extra_text=[{corpus / 'unpaired_text.txt'}]",
        "--max_text_sentences=64",
        f"--pretrained_model={stage2 / 'model.ckpt'}",
        f"--output_folder={finetune}",
        "--number_of_epochs=1",
        "--beam_size=5",
    )
    return stage1, stage2, finetune, stdout


def test_stage1_trains_p2t_only(stages):
    stage1, *_ = stages
    epochs = logged_losses(stage1)
    assert len(epochs) == 2
    assert all(set(epoch) == {"loss", "p2t"} for epoch in epochs)
    assert (stage1 / "model.ckpt").is_file()
    assert (stage1 / "tokenizer.ckpt").is_file()


def test_stage2_trains_all_five_tasks_from_stage1(stages):
    stage1, stage2, *_ = stages
    epochs = logged_losses(stage2)
    assert len(epochs) == 2
    for epoch in epochs:
        assert set(epoch) == {"loss", *TASK_NAMES}
        assert all(math.isfinite(value) for value in epoch.values())
    log = (stage2 / "log.txt").read_text(encoding="utf-8")
    assert f"Loaded {stage1 / 'model.ckpt'} (0 parameters" in log
    assert (stage2 / "save" / "tokenizer.ckpt").read_bytes() == (
        stage1 / "tokenizer.ckpt"
    ).read_bytes()
    state = torch.load(stage2 / "model.ckpt", map_location="cpu")
    assert state["decoder.embed_tokens.weight"].shape[0] == TEXT_VOCAB + 40
    assert (stage2 / "codes.ckpt").is_file()


def test_finetuning_starts_from_stage2(stages):
    _, stage2, finetune, stdout = stages
    assert "Test CER:" in stdout
    log = (finetune / "log.txt").read_text(encoding="utf-8")
    assert f"Loaded {stage2 / 'model.ckpt'} (0 parameters" in log
    # The same character vocabulary, so the pre-trained rows mean the same.
    assert (finetune / "save" / "tokenizer.ckpt").read_bytes() == (
        stage2 / "tokenizer.ckpt"
    ).read_bytes()


def load_hparams(argv):
    """The recipe hyperparameters for ``argv`` (as pretrain.main reads them)."""
    return settings.load_hparams(argv)[-1]


def test_mixed_batches(corpus, tmp_path):
    import pretrain

    hparams = load_hparams(
        [
            str(HPARAMS / "pretrain.yaml"),
            *pool_args(corpus, text_sentences=0),
            *TINY_MODEL,
            *TINY_CODES,
            f"--output_folder={tmp_path}",
            "--init_model=null",
            "--speech_batch_size=4",
            "--paired_batch_size=1",
            "--text_batch_size=2",
        ]
    )
    pools = active_pools(hparams)
    pretrain.prepare_pools_on_disk(hparams, pools)
    hparams["tokenizer"].load(tmp_path / "save" / "tokenizer.ckpt")
    hparams["quantizer"].load(hparams["codes_file"])
    datasets = pretrain.build_pools(hparams, pools)
    dataset, kwargs = fixed_mix_loader(hparams, datasets)
    assert len(kwargs["batch_sampler"]) == 8 // 4  # the speech pool runs out
    loader = torch.utils.data.DataLoader(dataset, **kwargs)
    batches = list(loader)
    assert len(batches) == 2
    for batch in batches:
        assert len(batch["speech"].id) == 4
        assert len(batch["paired"].id) == 1
        assert len(batch["text"].id) == 2
        codes, code_lens = batch["speech"].code_eos
        for row, relative in zip(codes, code_lens):
            targets = row[: round(relative.item() * codes.shape[1])].tolist()
            assert targets[-1] == hparams["eos_index"]
            assert all(TEXT_VOCAB <= c < TEXT_VOCAB + 40 for c in targets[:-1])
        phones = batch["text"].phones.data
        assert (phones == hparams["p2t_task"].mask_index).any()
        assert batch["paired"].phone_targets.data.min() >= 0
    # The text pool never holds a dev or test sentence.
    texts = read_text_pool(hparams)
    held_out = {
        line.split(" ", 1)[1].replace(" ", "")
        for line in (
            corpus
            / "data_aishell"
            / "transcript"
            / "aishell_transcript_v0.8.txt"
        )
        .read_text(encoding="utf-8")
        .splitlines()
    }
    assert texts and not set(texts) & held_out


def test_text_pool_drops_dev_and_test_sentences(corpus, tmp_path):
    from speechbrain_mmspeech.dataio.aishell_prepare import prepare_aishell

    prepare_aishell(corpus / "data_aishell", tmp_path)
    dev = (tmp_path / "dev.csv").read_text(encoding="utf-8").splitlines()[1]
    dev_sentence = dev.split(",")[-1]
    text_file = tmp_path / "text.txt"
    text_file.write_text(
        f"U1 {dev_sentence}\nU2 银行 存款\nU3 \n", encoding="utf-8"
    )
    hparams = {
        "valid_csv": tmp_path / "dev.csv",
        "test_csv": tmp_path / "test.csv",
        "text_files": [text_file],
        "text_files_have_ids": True,
        "drop_heldout_sentences": True,
        "max_text_chars": 3,
        "max_text_sentences": None,
    }
    assert read_text_pool(hparams) == ["银行存"]
    # Without drop_heldout_sentences, the dev sentence is an error.
    hparams["drop_heldout_sentences"] = False
    with pytest.raises(ValueError, match=f"{text_file}:1: "):
        read_text_pool(hparams)


def test_text_with_ids_cannot_build_the_vocabulary(tmp_path):
    import pretrain

    text = tmp_path / "trans.txt"
    hparams = {
        "text_files": [text],
        "tokenizer_extra_text": [text],
        "text_files_have_ids": True,
    }
    with pytest.raises(ValueError, match="utterance ids"):
        pretrain.prepare_pools_on_disk(hparams, ["text"])


def test_active_pools_refuses_a_pool_without_tasks():
    hparams = {
        "speech_batch_size": 8,
        "paired_batch_size": 0,
        "text_batch_size": 0,
        "task_weights": {"s2c": 0.0, "msp": 0.0, "p2t": 1.0},
    }
    with pytest.raises(ValueError, match="speech"):
        active_pools(hparams)
    hparams["speech_batch_size"] = 0
    with pytest.raises(ValueError, match="nothing to train"):
        active_pools(hparams)


def test_killed_pretraining_resumes_without_losing_or_repeating_batches(
    corpus, tmp_path, kill_and_resume
):
    import pretrain

    codes = tmp_path / "codes.ckpt"  # fitted once, shared by the runs

    def argv(output):
        return [
            str(HPARAMS / "pretrain.yaml"),
            *pool_args(corpus),
            *TINY_MODEL,
            *TINY_CODES,
            f"--output_folder={output}",
            f"--codes_file={codes}",
            "--init_model=null",
            "--speech_batch_size=1",
            "--paired_batch_size=1",
            "--text_batch_size=2",
            "--number_of_epochs=2",
            "--device=cpu",
            "--noprogressbar",
            "--ckpt_interval_minutes=0",
            "--ckpt_interval_steps=2",
        ]

    batches_per_epoch = kill_and_resume(
        MMSpeechBrain, pretrain.main, argv, tmp_path
    )
    assert batches_per_epoch == 8  # the unpaired speech runs out first
    resumed = logged_losses(tmp_path / "killed")
    uninterrupted = logged_losses(tmp_path / "uninterrupted")
    assert len(resumed) == len(uninterrupted) == 2
    assert set(resumed[1]) == set(uninterrupted[1])


@pytest.mark.parametrize("module", ["pretrain", "build_codes"])
def test_docstring_examples(module, request):
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(
        importlib.import_module(module),
        extraglobs={"getfixture": request.getfixturevalue, "torch": torch},
        optionflags=flags,
    )
    assert result.failed == 0


def test_speech_pool_without_unpaired_speech_is_a_clear_error(corpus, tmp_path):
    import pretrain

    argv = [
        str(HPARAMS / "pretrain.yaml"),
        *[arg for arg in pool_args(corpus) if "unpaired_speech" not in arg],
        *TINY_MODEL,
        f"--output_folder={tmp_path}",
        "--device=cpu",
        "--noprogressbar",
    ]
    with pytest.raises(ValueError, match="unpaired_speech is not set"):
        pretrain.main(argv)
