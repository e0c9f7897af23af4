"""Recipe test: train_ctc.py, character CTC on a tiny MMSpeech encoder.

A tiny MMSpeech model folder (random weights, the characters of the tiny
generated corpus) is the ``--mmspeech_source``. The recipe trains the CTC
head with the encoder frozen and fine-tuned, exports a model folder, and
SpeechBrain's stock ``EncoderASR.from_hparams`` loads it and transcribes,
with the MMSpeech folder gone. A killed run resumes where it stopped, and
two DDP processes train the fine-tuned encoder.

Authors
 * MMSpeech plugin contributors 2026
"""

import re
import shutil

import pytest
import torch

from speechbrain_mmspeech.dataio.aishell_prepare import prepare_aishell
from speechbrain_mmspeech.dataio.manifests import read_csv_column
from speechbrain_mmspeech.export.folders import write_model_folder
from speechbrain_mmspeech.tokenizers import CharTokenizer
from tiny_models import FOLDER_SETTINGS, folder_values, model_from_template
from tiny_recipe_model import RECIPE_DIR, TEXT_VOCAB, run_recipe


@pytest.fixture(scope="module")
def sources(tiny_corpus, tmp_path_factory):
    """The tiny corpus's data folder and CSVs, and a tiny MMSpeech folder."""
    root = tmp_path_factory.mktemp("ctc_sources")
    data_folder = tiny_corpus / "data_aishell"
    prepare_aishell(data_folder, root / "csv")
    tokenizer = CharTokenizer()
    tokenizer.build(
        read_csv_column(root / "csv" / "train.csv", "transcript"), TEXT_VOCAB
    )
    settings = {**FOLDER_SETTINGS, "text_vocab_size": TEXT_VOCAB}
    folder = write_model_folder(
        root / "mmspeech",
        model_from_template(settings),
        tokenizer,
        folder_values(settings),
    )
    return data_folder, root / "csv", folder


def arguments(sources, output, *extra):
    """A command line of the recipe (after the script name)."""
    data_folder, csv_folder, mmspeech = sources
    return [
        str(RECIPE_DIR / "hparams" / "ctc.yaml"),
        f"--data_folder={data_folder}",
        f"--csv_folder={csv_folder}",
        "--skip_prep=True",
        f"--mmspeech_source={mmspeech}",
        f"--output_folder={output}",
        "--device=cpu",
        "--noprogressbar",
        *extra,
    ]


def run_ctc(sources, output, *extra, processes=1):
    """Runs the recipe as a user would; returns its standard output."""
    return run_recipe(
        "train_ctc.py", *arguments(sources, output, *extra), processes=processes
    )


def checkpoint_state(output):
    """The ``model`` (lobe and head) of a run's most recent checkpoint."""
    from speechbrain_mmspeech.training.checkpoints import AtomicCheckpointer

    checkpoint = AtomicCheckpointer(output / "save").find_checkpoint()
    return torch.load(checkpoint.paramfiles["model"], map_location="cpu")


def encoder_changes(sources, output):
    """Names of the encoder weights that differ from the MMSpeech folder's."""
    source = torch.load(sources[2] / "model.ckpt", map_location="cpu")
    trained = checkpoint_state(output)
    prefix = "0.encoder."  # the lobe's encoder in the ModuleList
    return {
        key
        for key, value in trained.items()
        if key.startswith(prefix)
        and not torch.equal(value, source[key[len("0.") :]])
    }


def train_losses(output):
    """The training loss of every epoch in ``train_log.txt``."""
    log = (output / "train_log.txt").read_text(encoding="utf-8")
    return [float(x) for x in re.findall(r"train loss: (\S+) ", log)]


@pytest.fixture(scope="module")
def frozen(sources, tmp_path_factory):
    """Output folder and stdout of 3 epochs with the encoder frozen."""
    output = tmp_path_factory.mktemp("ctc_frozen")
    stdout = run_ctc(
        sources,
        output,
        "--number_of_epochs=3",
        "--lr=0.01",
        "--test_beam_size=2",
    )
    return output, stdout


def test_frozen_encoder_trains_the_head_only(sources, frozen):
    output, stdout = frozen
    assert re.search(r"Test CER: greedy \S+%, beam 2: \S+%", stdout)
    for name in ["train_log.txt", "log.txt", "hyperparams.yaml", "cer.txt"]:
        assert (output / name).is_file(), name
    assert encoder_changes(sources, output) == set()
    losses = train_losses(output)
    assert len(losses) == 3 and losses[-1] < losses[0]


def test_fine_tuned_encoder_changes(sources, tmp_path):
    output = tmp_path / "fine_tuned"
    run_ctc(
        sources,
        output,
        "--number_of_epochs=1",
        "--freeze_encoder=False",
        "--encoder_time_mask_prob=0.2",
        "--test_beam_size=0",
    )
    changed = encoder_changes(sources, output)
    assert any(".layers." in key for key in changed)


def test_folder_loads_with_stock_encoder_asr(sources, frozen, tmp_path):
    """EncoderASR transcribes as the trained modules do, without the
    MMSpeech folder the encoder came from."""
    from speechbrain.inference.ASR import EncoderASR

    from speechbrain_mmspeech.dataio.audio import load_audio

    output, _ = frozen
    folder = tmp_path / "model"
    shutil.copytree(output / "model", folder)
    moved = tmp_path / "mmspeech_moved"
    shutil.move(sources[2], moved)
    try:
        asr = EncoderASR.from_hparams(
            source=str(folder),
            savedir=str(tmp_path / "savedir"),
            run_opts={"device": "cpu"},
        )
    finally:
        shutil.move(moved, sources[2])
    rows = read_csv_column(sources[1] / "test.csv", "wav")
    texts = [asr.transcribe_file(wav) for wav in rows]
    assert all(isinstance(text, str) for text in texts)

    # The same greedy decoding with the lobe and head of the averaged
    # checkpoints, as the recipe tested them.
    from speechbrain.decoders.ctc import ctc_greedy_decode
    from speechbrain.nnet.linear import Linear

    from speechbrain_mmspeech.lobes.wrappers import MMSpeechEncoder

    lobe = MMSpeechEncoder(sources[2])
    head = Linear(input_size=lobe.d_model, n_neurons=TEXT_VOCAB)
    model = torch.nn.ModuleList([lobe, head])
    model.load_state_dict(torch.load(folder / "model.ckpt", map_location="cpu"))
    model.eval()
    expected = []
    for wav in rows:
        signal = load_audio(wav).unsqueeze(0)
        with torch.no_grad():
            log_probs = head(lobe(signal)).log_softmax(-1)
        ids = ctc_greedy_decode(log_probs, torch.ones(1), blank_id=1)[0]
        expected.append(asr.tokenizer.decode_ids(ids))
    assert texts == expected


def test_killed_run_resumes(sources, tmp_path, kill_and_resume):
    from train_ctc import CTCBrain, main

    def argv(output):
        return arguments(
            sources,
            output,
            "--number_of_epochs=2",
            "--dynamic_batching=False",
            "--batch_size=1",
            "--ckpt_interval_minutes=0",
            "--ckpt_interval_steps=2",
            "--freeze_encoder=False",
            "--test_beam_size=0",
        )

    assert kill_and_resume(CTCBrain, main, argv, tmp_path) >= 5


def test_fine_tuning_on_two_processes(sources, tmp_path):
    """DDP with the lobe trained, without find_unused_parameters (the
    YAML sets it False)."""
    output = tmp_path / "ddp"
    stdout = run_ctc(
        sources,
        output,
        "--number_of_epochs=1",
        "--freeze_encoder=False",
        "--max_batch_length_train=4",
        "--test_beam_size=0",
        processes=2,
    )
    assert stdout.count("Test CER:") == 1
    assert any(".layers." in key for key in encoder_changes(sources, output))
    assert (output / "model" / "model.ckpt").is_file()
