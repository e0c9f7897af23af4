"""Tests for speechbrain_mmspeech.export.ctc: CTC model folders for EncoderASR.

Authors
 * MMSpeech plugin contributors 2026
"""

import shutil

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.decoders.ctc import CTCBeamSearcher
from speechbrain.inference.ASR import EncoderASR
from speechbrain.nnet.linear import Linear

from speechbrain_mmspeech.export.ctc import (
    ctc_vocab_list,
    render_ctc_hparams,
    write_ctc_model_folder,
    yaml_block_scalar,
)
from speechbrain_mmspeech.export.folders import write_model_folder
from speechbrain_mmspeech.lobes.wrappers import MMSpeechEncoder
from speechbrain_mmspeech.tokenizers import PAD_INDEX, CharTokenizer
from tiny_models import (
    FOLDER_SETTINGS,
    FOLDER_TEXTS,
    folder_values,
    model_from_template,
)


@pytest.fixture
def lobe_and_head(tmp_path):
    """A lobe on a tiny MMSpeech folder (then deleted) and a CTC head."""
    tokenizer = CharTokenizer()
    tokenizer.build(FOLDER_TEXTS, FOLDER_SETTINGS["text_vocab_size"])
    mmspeech = write_model_folder(
        tmp_path / "mmspeech",
        model_from_template(FOLDER_SETTINGS),
        tokenizer,
        folder_values(FOLDER_SETTINGS),
    )
    lobe = MMSpeechEncoder(mmspeech)
    shutil.rmtree(mmspeech)
    torch.manual_seed(3)
    head = Linear(input_size=lobe.d_model, n_neurons=len(tokenizer))
    return lobe, head, tokenizer


def test_folder_loads_with_encoder_asr(lobe_and_head, tmp_path):
    lobe, head, tokenizer = lobe_and_head
    folder = write_ctc_model_folder(
        tmp_path / "ctc",
        lobe,
        head,
        tokenizer,
        {"output_neurons": len(tokenizer), "blank_index": PAD_INDEX},
    )
    asr = EncoderASR.from_hparams(
        source=str(folder),
        savedir=str(tmp_path / "savedir"),
        run_opts={"device": "cpu"},
    )
    wavs = 0.3 * torch.randn(
        2, 16000, generator=torch.Generator().manual_seed(0)
    )
    lens = torch.tensor([1.0, 0.6])
    with torch.no_grad():
        expected = head(lobe.eval()(wavs, lens)).log_softmax(-1)
    assert torch.allclose(asr.encode_batch(wavs, lens), expected, atol=1e-6)
    texts, _ = asr.transcribe_batch(wavs, lens)
    assert len(texts) == 2
    assert all(
        set(text) <= set(tokenizer.tokens) | {"\u2047"} for text in texts
    )


def test_folder_hparams_survive_any_text(lobe_and_head):
    """Comments with "<...>", blank lines, trailing spaces, no final newline."""
    lobe, _, _ = lobe_and_head
    texts = [
        lobe.folder_hparams,
        lobe.folder_hparams.rstrip("\n"),
        "a: 1  \n\n   \n# <not a ref>\nb: !ref <a>\n\n",
    ]
    for text in texts:
        block = yaml_block_scalar(text, indent=8, parent_indent=4)
        read = load_hyperpyyaml("lobe:\n    text: " + block)
        assert read["lobe"]["text"] == text
        rendered = render_ctc_hparams(text, {"output_neurons": 3})
        assert "output_neurons: 3\n" in rendered
        assert "    folder_hparams: " + block in rendered


def test_beam_search_writes_the_characters(lobe_and_head):
    _, _, tokenizer = lobe_and_head
    vocab = ctc_vocab_list(tokenizer)
    searcher = CTCBeamSearcher(
        blank_index=PAD_INDEX, vocab_list=vocab, beam_size=3
    )
    ids = [tokenizer.token_to_id(char) for char in "今天"]
    log_probs = torch.full((1, 5, len(vocab)), -20.0)
    for frame, index in enumerate([ids[0], PAD_INDEX, ids[1], ids[1], 3]):
        log_probs[0, frame, index] = 0.0
    hyps = searcher(log_probs, torch.ones(1))
    assert hyps[0][0].text == "今天\u2047"
