"""Recipe tests: train.py, pretrain.py and train_lm.py on 2 CPU processes.

Each recipe is started as a user would under DDP, ``python -m
torch.distributed.run --standalone --nproc_per_node=2 ...
--distributed_backend=gloo``, on a generated mini-AISHELL, and compared with
one process that accumulates the gradients of 2 batches
(``--grad_accumulation_factor=2``). Both see the same batch sequence and take
an update on the same two batches (DDP: process ``r`` trains on batches
``r, r + 2, ...``; with accumulation: batches ``2k`` and ``2k + 1``), and
DDP's mean of the two processes' gradients is the accumulation's sum of
halves. The gradients then differ by float rounding only (DDP sums in
buckets), but Adam divides each gradient by its running RMS, which turns a
rounding difference of a near-zero gradient into a step difference of a
fraction of the learning rate (0.0015): measured up to 3e-4 after 4 updates.
The test therefore allows 1e-3 per weight (less than one step), and requires
the logged losses (3 significant digits) to be equal. Dropout and the random masks
are off, so that the two runs draw no different random numbers.

Authors
 * MMSpeech plugin contributors 2026
"""

import re

import pytest
import torch

from tiny_recipe_model import (
    DETERMINISTIC,
    NO_AUGMENTATION,
    RECIPE_DIR,
    STAGE1,
    TINY_MODEL,
    run_recipe,
    tiny_architecture,
)

HPARAMS = RECIPE_DIR / "hparams"

# 4 train speakers x 6 utterances, 1 dev and 1 test speaker.
DDP_CORPUS = {
    "seed": 13,
    "n_train_speakers": 4,
    "n_dev_speakers": 1,
    "n_test_speakers": 1,
    "utts_per_speaker": 6,
    "n_unpaired_speakers": 2,
}


def run(script, *args, processes=1):
    """Runs a recipe on the CPU, on 1 process or on 2; returns stdout."""
    return run_recipe(
        script, *args, "--device=cpu", "--noprogressbar", processes=processes
    )


def last_checkpoint_weights(output):
    """The model of the most recent checkpoint of a run."""
    from speechbrain_mmspeech.training.checkpoints import AtomicCheckpointer

    checkpoint = AtomicCheckpointer(output / "save").find_checkpoint()
    return torch.load(checkpoint.paramfiles["model"], map_location="cpu")


def assert_same_weights(one, two, atol=1e-3):
    """Two state dicts with the same keys and values within ``atol``."""
    assert one.keys() == two.keys()
    for key in one:
        torch.testing.assert_close(one[key], two[key], atol=atol, rtol=0)


def logged(output, pattern):
    """Every match of ``pattern`` in a run's ``train_log.txt``."""
    log = (output / "train_log.txt").read_text(encoding="utf-8")
    return re.findall(pattern, log)


def schedule(output):
    """The ``Schedule: N updates`` line of a run's log."""
    log = (output / "log.txt").read_text(encoding="utf-8")
    return re.findall(r"Schedule: \d+ updates, \d+ warm-up", log)


@pytest.fixture(scope="module")
def ddp_corpus(tmp_path_factory):
    """A mini-AISHELL of a few dozen utterances."""
    from speechbrain_mmspeech.mini_aishell import generate_mini_aishell

    output = tmp_path_factory.mktemp("ddp_aishell")
    generate_mini_aishell(output, **DDP_CORPUS)
    return output


@pytest.fixture(scope="module")
def finetuned(ddp_corpus, tmp_path_factory):
    """One epoch of train.py on 1 process (accumulating 2) and on 2."""
    root = tmp_path_factory.mktemp("ddp_finetune")
    args = [
        HPARAMS / "finetune.yaml",
        f"--data_folder={ddp_corpus / 'data_aishell'}",
        "--number_of_epochs=1",
        # 8 batches: an even number, so that both runs update on the same pairs
        # (with an odd one, DDP pads with batch 0 and accumulation drops the
        # last batch).
        "--max_batch_length_train=9",
        "--max_text_sentences=32",
        "--tokenizer_extra_text=[]",
        "--valid_search_interval=1",
        "--beam_size=2",
        *TINY_MODEL,
        *DETERMINISTIC,
        *NO_AUGMENTATION,
    ]
    single = run(
        "train.py",
        *args,
        f"--output_folder={root / 'single'}",
        "--grad_accumulation_factor=2",
    )
    ddp = run("train.py", *args, f"--output_folder={root / 'ddp'}", processes=2)
    return root / "single", root / "ddp", single, ddp


def test_finetuning_on_two_processes_matches_one(finetuned):
    single, ddp, _, ddp_stdout = finetuned
    # The schedule counts one process' batches: as many updates as one
    # process taking a step every 2 batches.
    assert schedule(ddp) == schedule(single) != []
    assert_same_weights(
        last_checkpoint_weights(single), last_checkpoint_weights(ddp)
    )
    pattern = r"train loss: (\S+), .* valid loss: (\S+), valid ACC: (\S+),"
    assert logged(ddp, pattern) == logged(single, pattern) != []
    # Only the main process printed and wrote the model folder.
    assert ddp_stdout.count("Test CER:") == 1
    assert sorted(p.name for p in ddp.iterdir() if p.is_dir()) == [
        "data",
        "model",
        "save",
    ]


def test_each_test_utterance_is_scored_once(finetuned):
    single, ddp, *_ = finetuned
    n_test = len((ddp / "data" / "test.csv").read_text().splitlines()) - 1
    for output in (single, ddp):
        cer = (output / "cer.txt").read_text(encoding="utf-8")
        assert re.search(rf"%SER .* \[ \d+ / {n_test} \]", cer), cer[:300]
    assert logged(ddp, r"test CER: (\S+)") == logged(single, r"test CER: (\S+)")


def test_ddp_model_folder_loads_with_stock_interface(finetuned, tmp_path):
    from speechbrain.inference.ASR import EncoderDecoderASR

    _, ddp, *_ = finetuned
    asr = EncoderDecoderASR.from_hparams(
        source=str(ddp / "model"),
        savedir=str(tmp_path / "savedir"),
        run_opts={"device": "cpu"},
    )
    wav = (ddp / "data" / "test.csv").read_text().splitlines()[1].split(",")[2]
    assert isinstance(asr.transcribe_file(wav), str)


def test_time_budget_on_two_processes(ddp_corpus, tmp_path):
    """Both processes fix the same epoch count (their mean time) and stop."""
    output = tmp_path / "budget"
    run(
        "train.py",
        HPARAMS / "finetune.yaml",
        f"--data_folder={ddp_corpus / 'data_aishell'}",
        f"--output_folder={output}",
        "--number_of_epochs=3",
        "--training_minutes=0.0001",
        "--max_text_sentences=32",
        "--tokenizer_extra_text=[]",
        "--beam_size=2",
        *TINY_MODEL,
        processes=2,
    )
    assert len(logged(output, r"epoch: \d+, lr")) == 2
    log = (output / "log.txt").read_text(encoding="utf-8")
    assert "Time budget: 2 epochs" in log


def test_pretraining_stage1_on_two_processes_matches_one(ddp_corpus, tmp_path):
    args = [
        HPARAMS / "pretrain.yaml",
        *STAGE1,
        f"--data_folder={ddp_corpus / 'data_aishell'}",
        f"--text_files=[{ddp_corpus / 'unpaired_text.txt'}]",
        "--max_text_sentences=32",
        "--text_batch_size=4",
        "--number_of_epochs=1",
        *TINY_MODEL,
        *DETERMINISTIC,
    ]
    run(
        "pretrain.py",
        *args,
        f"--output_folder={tmp_path / 'single'}",
        "--grad_accumulation_factor=2",
    )
    stdout = run(
        "pretrain.py", *args, f"--output_folder={tmp_path / 'ddp'}", processes=2
    )
    assert stdout.count("Pre-trained model:") == 1
    assert schedule(tmp_path / "ddp") == schedule(tmp_path / "single") != []
    weights = [
        torch.load(tmp_path / run / "model.ckpt", map_location="cpu")
        for run in ("single", "ddp")
    ]
    assert_same_weights(*weights)
    pattern = r"train loss: (\S+)"
    assert logged(tmp_path / "ddp", pattern) == logged(
        tmp_path / "single", pattern
    )


def test_pretraining_stage2_on_two_processes(ddp_corpus, tmp_path):
    """Stage 2 (five tasks, three pools) runs on 2 processes.

    Its random masks (S2C/MSP, P2T) are drawn per process, so its losses are
    not compared with one process'; the schedule and the outputs are.
    """
    args = [
        HPARAMS / "pretrain.yaml",
        f"--data_folder={ddp_corpus / 'data_aishell'}",
        f"--unpaired_speech={ddp_corpus / 'unpaired_speech' / 'unpaired.csv'}",
        f"--text_files=[{ddp_corpus / 'unpaired_text.txt'}]",
        "--max_text_sentences=32",
        "--n_clusters=8",
        "--speech_batch_size=2",
        "--paired_batch_size=1",
        "--text_batch_size=2",
        "--number_of_epochs=1",
        "--init_model=null",
        tiny_architecture(code_vocab_size=20),
    ]
    run(
        "pretrain.py",
        *args,
        f"--output_folder={tmp_path / 'single'}",
        "--grad_accumulation_factor=2",
    )
    stdout = run(
        "pretrain.py", *args, f"--output_folder={tmp_path / 'ddp'}", processes=2
    )
    assert stdout.count("Pre-trained model:") == 1
    assert schedule(tmp_path / "ddp") == schedule(tmp_path / "single") != []
    state = torch.load(tmp_path / "ddp" / "model.ckpt", map_location="cpu")
    assert all(torch.isfinite(value).all() for value in state.values())


def test_language_model_on_two_processes(finetuned, ddp_corpus, tmp_path):
    """The LM trains on 2 processes; dev perplexity counts every token once.

    The LM's batches are not comparable with one process' (Brain gives
    DDP runs a ``DistributedSampler`` with its own shuffle), so the losses
    are not compared; the dev perplexity of the 2-process run is that of
    its model on the whole dev set, which the test recomputes.
    """
    import train_lm

    single, *_ = finetuned
    # Text that no utterance reads (the LM refuses dev/test sentences).
    corpus = ddp_corpus / "unpaired_text.txt"
    text = tmp_path / "text.txt"
    lines = corpus.read_text(encoding="utf-8").splitlines()[:200]
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    vocab = "--text_vocab_size=120"
    args = [
        HPARAMS / "lm.yaml",
        f"--asr_output_folder={single}",
        f"--output_folder={tmp_path / 'lm'}",
        f"--text_files=[{text}]",
        "--number_of_epochs=1",
        "--batch_size=16",
        "--n_warmup_steps=10",
        "--lm_architecture={d_model: 16, nhead: 2, num_layers: 1, d_ffn: 32}",
        vocab,
    ]
    stdout = run("train_lm.py", *args, processes=2)
    assert stdout.count("Dev perplexity:") == 1
    perplexity = float(re.search(r"Dev perplexity: (\S+)", stdout)[1])
    # The same model, scored by one process on the whole dev set.
    brain = train_lm.main(
        [str(a) for a in args] + ["--device=cpu", "--noprogressbar"]
    )
    assert brain.dev_perplexity == pytest.approx(perplexity, abs=0.006)
