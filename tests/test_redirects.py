"""The import paths from before the subpackages still work, with a warning.

Model folders written before release 0.2 name the old modules in their
``hyperparams.yaml`` (``!new:speechbrain_mmspeech.frontend.MMSpeechFbank``),
which HyperPyYAML resolves with ``pydoc.locate``; code imports them. Both
keep working for one release, through ``speechbrain_mmspeech._redirects``,
with a ``DeprecationWarning``. ``data/pre_layout_hyperparams.yaml`` is the
``hyperparams.yaml`` of a tiny folder written by commit 9ff8902 (before the
move), for the architecture below.
"""

import importlib
import pydoc
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.inference.ASR import EncoderDecoderASR

from speechbrain_mmspeech._redirects import (
    MOVED_INTO_SUBPACKAGE,
    MOVED_MODULES,
    MovedModule,
)
from speechbrain_mmspeech.export.folders import (
    HPARAMS_FILE,
    read_template,
    render_hparams,
    write_model_folder,
)
from speechbrain_mmspeech.inference.ASR import MMSpeechASR
from speechbrain_mmspeech.tokenizers import CharTokenizer

REPO = Path(__file__).resolve().parents[1]
OLD_HPARAMS = Path(__file__).parent / "data" / "pre_layout_hyperparams.yaml"
# Every path the shipped and recipe YAML files named before the move.
OLD_YAML_PATHS = [
    "speechbrain_mmspeech.checkpoints.AtomicCheckpointer",
    "speechbrain_mmspeech.codes.EncoderUnitFeatures",
    "speechbrain_mmspeech.codes.FbankUnitFeatures",
    "speechbrain_mmspeech.codes.PseudoCodeQuantizer",
    "speechbrain_mmspeech.ctc.ctc_vocab_list",
    "speechbrain_mmspeech.decoding.MMSpeechBeamSearcher",
    "speechbrain_mmspeech.frontend.FeatureNormalization",
    "speechbrain_mmspeech.frontend.MMSpeechFbank",
    "speechbrain_mmspeech.frontend.ValidatingAudioNormalizer",
    "speechbrain_mmspeech.lm.TransformerLM.from_architecture",
    "speechbrain_mmspeech.lm.TransformerLMRescorer",
    "speechbrain_mmspeech.lm.TransformerLMScorer",
    "speechbrain_mmspeech.lobes.MMSpeechEncoder",
    "speechbrain_mmspeech.model.MMSpeech.from_architecture",
    "speechbrain_mmspeech.model.build_speech_encoder",
    "speechbrain_mmspeech.ngram.NgramLM",
    "speechbrain_mmspeech.ngram.NgramLMScorer",
    "speechbrain_mmspeech.phone_scoring.CTCScorer",
    "speechbrain_mmspeech.quantization.load_model",
    "speechbrain_mmspeech.segmentation.SpeechSegmenter",
    "speechbrain_mmspeech.tasks.MaskedSpeechPredictionTask",
    "speechbrain_mmspeech.tasks.PhonePredictionTask",
    "speechbrain_mmspeech.tasks.PhoneToTextTask",
    "speechbrain_mmspeech.tasks.SpeechToCodeTask",
    "speechbrain_mmspeech.tasks.SpeechToTextTask",
    "speechbrain_mmspeech.tasks.TaskLossTracker",
    "speechbrain_mmspeech.transcriber.SegmentTranscriber",
]
ARCHITECTURE = {
    "n_mels": 80, "d_model": 16, "nhead": 2, "num_encoder_layers": 2,
    "num_decoder_layers": 1, "d_ffn": 32, "subsample_channels": 4,
    "context_layer": 1, "pos_conv_depth": 1, "pos_conv_kernel": 3,
    "pos_conv_groups": 2, "phone_vocab_size": 141, "max_positions": 8,
    "rel_pos_bucket_size": 4, "text_vocab_size": 12, "code_vocab_size": 0,
    "scale_embedding": True, "entangle_position_embedding": True,
}  # fmt: skip


@pytest.mark.parametrize("path", OLD_YAML_PATHS)
def test_old_yaml_paths_resolve_to_the_moved_objects(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        found = pydoc.locate(path)
    assert found is not None, path
    module = getattr(found, "__module__", None) or found.__self__.__module__
    assert module.startswith("speechbrain_mmspeech.")
    assert module.count(".") >= 2, f"{path} -> {module}: not a new module"


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_every_moved_module_redirects_with_a_warning(old):
    assert isinstance(
        importlib.import_module(f"speechbrain_mmspeech.{old}"), MovedModule
    )
    fresh = MovedModule(f"speechbrain_mmspeech.{old}", MOVED_MODULES[old])
    for index, new in enumerate(MOVED_MODULES[old]):
        module = importlib.import_module(f"speechbrain_mmspeech.{new}")
        name = [n for n in vars(module) if not n.startswith("_")][-1]
        if index == 0:  # the warning comes once, at the first name
            with pytest.deprecated_call():
                assert getattr(fresh, name) is getattr(module, name)
        assert getattr(fresh, name) is getattr(module, name)


@pytest.mark.parametrize("old", sorted(MOVED_INTO_SUBPACKAGE))
def test_subpackages_answer_the_old_module_names(old):
    package = importlib.import_module(f"speechbrain_mmspeech.{old}")
    for new in MOVED_INTO_SUBPACKAGE[old]:
        module = importlib.import_module(f"speechbrain_mmspeech.{new}")
        name = next(
            n
            for n in reversed(list(vars(module)))
            if not n.startswith("_") and n[0].isupper()
        )
        with pytest.deprecated_call():
            assert getattr(package, name) is getattr(module, name)
    with pytest.raises(AttributeError):
        package.no_such_name  # noqa: B018


def test_an_old_import_warns_in_a_fresh_python():
    code = (
        "from speechbrain_mmspeech.decoding import MMSpeechBeamSearcher\n"
        "from speechbrain_mmspeech.training import MMSpeechBrain\n"
    )
    ok = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    strict = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert strict.returncode != 0
    assert "speechbrain_mmspeech.decoding moved to" in strict.stderr


def test_a_folder_written_before_the_move_loads(tmp_path):
    old_hparams = OLD_HPARAMS.read_text(encoding="utf-8")
    assert "!new:speechbrain_mmspeech.frontend.MMSpeechFbank" in old_hparams
    values = {"architecture": ARCHITECTURE, "beam_size": 1}
    rendered = render_hparams(read_template(), values)
    model = load_hyperpyyaml(rendered)["model"]
    tokenizer = CharTokenizer()
    tokenizer.build(["你好世界"], ARCHITECTURE["text_vocab_size"])
    folder = write_model_folder(tmp_path / "model", model, tokenizer, values)
    (folder / HPARAMS_FILE).write_text(old_hparams, encoding="utf-8")
    silence = torch.zeros(1, 16000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for interface in (EncoderDecoderASR, MMSpeechASR):
            asr = interface.from_hparams(
                source=str(folder),
                savedir=str(tmp_path / interface.__name__),
                run_opts={"device": "cpu"},
            )
            words, _ = asr.transcribe_batch(silence, torch.ones(1))
            assert words == [""]
