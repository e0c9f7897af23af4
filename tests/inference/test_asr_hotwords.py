"""Hotwords through the inference interfaces of a tiny model folder."""

import pytest
from speechbrain.inference.ASR import EncoderDecoderASR

from speech_audio import PHRASES, speech_batch, write_wav
from speechbrain_mmspeech.decoders.hotwords import HotwordError
from speechbrain_mmspeech.export.folders import write_model_folder
from speechbrain_mmspeech.inference.ASR import MMSpeechASR
from speechbrain_mmspeech.inference.cli import main
from speechbrain_mmspeech.tokenizers import CharTokenizer
from tiny_models import FOLDER_SETTINGS as TINY
from tiny_models import FOLDER_TEXT_VOCAB as TEXT_VOCAB
from tiny_models import FOLDER_TEXTS as TEXTS
from tiny_models import folder_values, load_folder, model_from_template


def write_folder(folder, **settings):
    tokenizer = CharTokenizer()
    tokenizer.build(TEXTS, TEXT_VOCAB)
    model = model_from_template(TINY)
    values = folder_values({**TINY, **settings})
    return write_model_folder(folder, model, tokenizer, values)


@pytest.fixture(scope="module")
def phone_folder(tmp_path_factory):
    """A folder that decodes with the phone head (hence has hotwords)."""
    return write_folder(tmp_path_factory.mktemp("phone"), phone_ctc_weight=0.3)


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    (signal,), _ = speech_batch([PHRASES[0]])
    path = tmp_path_factory.mktemp("audio") / "a.wav"
    return write_wav(path, signal.numpy(), 16000)


def test_hotwords_per_call_and_from_the_folder(phone_folder, wav, tmp_path):
    asr = load_folder(MMSpeechASR, phone_folder, tmp_path / "a")
    scorer = asr.hotword_scorer()
    assert asr.transcriber.searcher.scorer.full_scorers["hotword"] is scorer
    assert scorer.hotwords is None  # the template's default list: none
    text = asr.transcribe_file(wav, hotwords=["天气", "公园"])
    assert isinstance(text, str)
    assert scorer.hotwords is None  # a call's list does not stay
    words, _ = asr.transcribe_batch(*speech_batch(), hotwords=["你好"])
    assert len(words) == 2
    # The stock interface takes a default list through the folder's keys.
    stock = load_folder(
        EncoderDecoderASR, phone_folder, tmp_path / "b", hotwords=["天气"]
    )
    assert stock.hparams.hotword_scorer.hotwords == ["天气"]
    assert isinstance(stock.transcribe_file(wav), str)


def test_bad_hotwords_are_named(phone_folder, wav, tmp_path):
    asr = load_folder(MMSpeechASR, phone_folder, tmp_path / "a")
    with pytest.raises(HotwordError, match="empty"):
        asr.transcribe_file(wav, hotwords=[])
    with pytest.raises(HotwordError, match="'ABC' has no Chinese"):
        asr.transcribe_file(wav, hotwords=["天气", "ABC"])
    with pytest.raises(HotwordError, match="one string"):
        asr.transcribe_file(wav, hotwords="天气")
    with pytest.raises(HotwordError, match="'熊猫'.*vocabulary"):
        asr.transcribe_file(wav, hotwords=["熊猫"])
    plain = write_folder(tmp_path / "plain")
    asr = load_folder(MMSpeechASR, plain, tmp_path / "c")
    with pytest.raises(HotwordError, match="phone-aware decoding"):
        asr.transcribe_file(wav, hotwords=["天气"])


def test_command_line_hotwords(phone_folder, wav, tmp_path, capsys):
    names = tmp_path / "names.txt"
    names.write_text("天气\n公园\n", encoding="utf-8")
    args = [str(phone_folder), str(wav), "--no-progress", "--threads", "1"]
    assert main([*args, "--hotwords", str(names)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{wav}\t") and out.count("\n") == 1
    assert main([*args, "--hotwords", str(tmp_path / "missing.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    names.write_text("ABC\n", encoding="utf-8")
    assert main([*args, "--hotwords", str(names)]) == 2
    assert "'ABC' has no Chinese" in capsys.readouterr().err
