"""Tests for speechbrain_mmspeech.export.folders: inference YAML and model folders."""

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_mmspeech.export.folders import (
    INFERENCE_TEMPLATE,
    render_hparams,
    write_model_folder,
    yaml_scalar,
)
from speechbrain_mmspeech.tokenizers import CharTokenizer
from tiny_models import folder_values, tiny_model

TEMPLATE = """\
# d_model: in a comment
d_model: 768
beam_size: 5
name: "old"
encoder: !new:collections.OrderedDict
    d_model: !ref <d_model>
    beam_size: 3
"""


def test_render_replaces_exactly_the_named_top_level_keys():
    text = render_hparams(TEMPLATE, {"d_model": 64, "name": 'a "b"'})
    assert text.splitlines() == [
        "# d_model: in a comment",
        "d_model: 64",
        "beam_size: 5",
        'name: "a \\"b\\""',
        "encoder: !new:collections.OrderedDict",
        "    d_model: !ref <d_model>",
        "    beam_size: 3",
    ]
    loaded = load_hyperpyyaml(text)
    assert loaded["d_model"] == 64 and loaded["name"] == 'a "b"'
    assert loaded["encoder"]["d_model"] == 64
    assert loaded["encoder"]["beam_size"] == 3
    assert render_hparams(TEMPLATE, {}) == TEMPLATE


def test_render_raises_for_absent_or_repeated_keys():
    with pytest.raises(KeyError, match="'missing' 0 times"):
        render_hparams(TEMPLATE, {"missing": 1})
    twice = TEMPLATE + "beam_size: 7\n"
    with pytest.raises(KeyError, match="'beam_size' 2 times"):
        render_hparams(twice, {"beam_size": 1})
    # A key that only appears nested is not a top-level key.
    with pytest.raises(KeyError):
        render_hparams("a:\n    b: 1\n", {"b": 2})


@pytest.mark.parametrize(
    "value", [True, False, 0, 12, 0.25, 1e-5, "plain", "with: colon", 'q"\\']
)
def test_yaml_scalar_round_trips(value):
    loaded = load_hyperpyyaml(f"key: {yaml_scalar(value)}\n")["key"]
    assert loaded == value and type(loaded) is type(value)


def test_yaml_scalar_rejects_other_types():
    with pytest.raises(TypeError):
        yaml_scalar({"a": 1})
    with pytest.raises(TypeError):
        yaml_scalar([[1, 2]])


def test_yaml_scalar_writes_flat_lists():
    values = [0.1, -2.5, 1e-5, 3]
    assert load_hyperpyyaml(f"key: {yaml_scalar(values)}\n")["key"] == values


def test_write_model_folder(tmp_path):
    model = tiny_model(vocab_size=12)
    tokenizer = CharTokenizer()
    tokenizer.build(["你好", "你们好"], vocab_size=9)
    folder = write_model_folder(
        tmp_path / "out" / "model",
        model,
        tokenizer,
        folder_values({"d_model": 16, "beam_size": 2, "text_vocab_size": 9}),
    )
    assert sorted(p.name for p in folder.iterdir()) == [
        "hyperparams.yaml",
        "model.ckpt",
        "tokenizer.ckpt",
    ]
    hparams = (folder / "hyperparams.yaml").read_text(encoding="utf-8")
    assert hparams == render_hparams(
        INFERENCE_TEMPLATE.read_text(encoding="utf-8"),
        folder_values({"d_model": 16, "beam_size": 2, "text_vocab_size": 9}),
    )
    assert " d_model: 16," in hparams and "\nbeam_size: 2\n" in hparams
    state = torch.load(folder / "model.ckpt")
    assert state.keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value), key
    loaded = CharTokenizer()
    loaded.load(folder / "tokenizer.ckpt")
    assert loaded.tokens == tokenizer.tokens


def test_write_model_folder_overwrites_and_fails_cleanly(tmp_path):
    model, tokenizer = tiny_model(vocab_size=12), CharTokenizer()
    tokenizer.build(["ab"], vocab_size=6)
    write_model_folder(
        tmp_path, model, tokenizer, folder_values({"beam_size": 2})
    )
    write_model_folder(
        tmp_path, model, tokenizer, folder_values({"beam_size": 3})
    )
    assert "\nbeam_size: 3\n" in (tmp_path / "hyperparams.yaml").read_text()
    with pytest.raises(KeyError):
        write_model_folder(
            tmp_path / "bad", model, tokenizer, folder_values({"nope": 1})
        )
    assert list((tmp_path / "bad").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bad",
        "hyperparams.yaml",
        "model.ckpt",
        "tokenizer.ckpt",
    ]


def test_folder_with_phone_aware_decoding_loads_and_uses_it(tmp_path):
    from speechbrain.inference.ASR import EncoderDecoderASR

    from speechbrain_mmspeech.decoders.phone_ctc import CTCScorer
    from tiny_models import TEMPLATE_SIZES, model_from_template

    tokenizer = CharTokenizer()
    tokenizer.build(["今天天气很好", "我们去公园"], vocab_size=16)
    values = {
        **TEMPLATE_SIZES,
        "max_positions": 16,
        "rel_pos_bucket_size": 4,
        "text_vocab_size": 16,
        "code_vocab_size": 0,
        "beam_size": 2,
        "phone_ctc_weight": 0.4,
        "phone_ctc_prefix_beam": 8,
        "phone_ctc_heteronyms": False,
    }
    folder = write_model_folder(
        tmp_path / "model",
        model_from_template(values),
        tokenizer,
        folder_values(values),
    )
    asr = EncoderDecoderASR.from_hparams(
        source=str(folder),
        savedir=str(tmp_path / "save"),
        run_opts={"device": "cpu"},
    )
    searcher = asr.hparams.decoder
    assert isinstance(searcher.scorer.full_scorers["ctc"], CTCScorer)
    assert searcher.ctc_weight == pytest.approx(0.4)
    assert searcher.attn_weight == pytest.approx(0.6)
    assert asr.mods.decoder.searcher is searcher  # what transcribe_batch runs

    calls = []
    scorer = searcher.scorer.full_scorers["ctc"]
    original = scorer.score

    def counting_score(*args):
        calls.append(1)
        return original(*args)

    scorer.score = counting_score
    feats, lens = torch.randn(2, 120, 80), torch.tensor([1.0, 0.7])
    with torch.no_grad():
        memory = asr.mods.transformer.encode(feats, lens)
        hyps, _, _, _ = searcher(memory, lens)
    assert calls and len(hyps) == 2
    # Without the setting the folder has no scorer at all.
    plain = write_model_folder(
        tmp_path / "plain",
        model_from_template(values),
        tokenizer,
        folder_values({**values, "phone_ctc_weight": 0.0}),
    )
    text = (plain / "hyperparams.yaml").read_text(encoding="utf-8")
    assert "phone_ctc" not in text and "scorer:" not in text


@pytest.mark.parametrize("phone_ctc_weight", [0.0, 0.4])
def test_folder_with_an_ngram_lm_loads_and_uses_it(tmp_path, phone_ctc_weight):
    from speechbrain.inference.ASR import EncoderDecoderASR

    from speechbrain_mmspeech.lm.ngram import NgramLM, NgramLMScorer
    from tiny_models import TEMPLATE_SIZES, model_from_template

    texts = ["今天天气很好", "我们去公园"]
    tokenizer = CharTokenizer()
    tokenizer.build(texts, vocab_size=16)
    ngram_lm = NgramLM(16, order=2).fit(map(tokenizer.encode_as_ids, texts))
    values = {
        **TEMPLATE_SIZES,
        "max_positions": 16,
        "rel_pos_bucket_size": 4,
        "text_vocab_size": 16,
        "code_vocab_size": 4,
        "beam_size": 2,
        "phone_ctc_weight": phone_ctc_weight,
        "ngram_lm_weight": 0.25,
        "ngram_order": 2,
    }
    folder = write_model_folder(
        tmp_path / "model",
        model_from_template(values),
        tokenizer,
        folder_values(values),
        ngram_lm=ngram_lm,
    )
    assert (folder / "ngram_lm.ckpt").is_file()
    asr = EncoderDecoderASR.from_hparams(
        source=str(folder),
        savedir=str(tmp_path / "save"),
        run_opts={"device": "cpu"},
    )
    searcher = asr.hparams.decoder
    scorer = searcher.scorer.full_scorers["ngramlm"]
    assert isinstance(scorer, NgramLMScorer)
    assert searcher.scorer.weights["ngramlm"] == 0.25
    assert ("ctc" in searcher.scorer.full_scorers) == (phone_ctc_weight > 0)
    histories = torch.arange(16)[:, None]
    assert torch.equal(scorer.lm.probs(histories), ngram_lm.probs(histories))
    feats, lens = torch.randn(2, 120, 80), torch.tensor([1.0, 0.7])
    with torch.no_grad():
        memory = asr.mods.transformer.encode(feats, lens)
        hyps, _, _, _ = searcher(memory, lens)
    assert len(hyps) == 2
    # Exported again without it: no n-gram file, section or setting left.
    write_model_folder(
        folder, model_from_template(values), tokenizer, folder_values(values)
    )
    assert not (folder / "ngram_lm.ckpt").exists()
    assert "ngram_lm" not in (folder / "hyperparams.yaml").read_text()
