"""Tests of ``mmspeech-adapt`` on a tiny model folder (seconds).

Authors
 * MMSpeech plugin contributors 2026
"""

import pytest
import torch

from speech_audio import speak, write_wav
from speechbrain_mmspeech.adaptation.adapt import adapt_model_folder
from speechbrain_mmspeech.adaptation.cli import main
from speechbrain_mmspeech.adaptation.domain_text import AdaptationError
from speechbrain_mmspeech.adaptation.vocabulary import EMBEDDING_KEYS
from speechbrain_mmspeech.export.folders import write_model_folder
from speechbrain_mmspeech.lm.ngram import NgramLM
from speechbrain_mmspeech.tokenizers import CharTokenizer
from tiny_models import TEMPLATE_SIZES, folder_values, model_from_template

POOL = ["今天天气很好", "我们去公园", "你好世界", "天气很好"]
# 13 distinct characters: 3 of the 16 text ids are <unused_k>.
TEXT_VOCAB = 20
DOMAIN = ["球队今天夺冠", "主场比赛很好", "球员进球", "冠军球队", "足球比赛"]
QUICK_P2T = {
    "p2t_max_steps": 2,
    "p2t_batch_size": 2,
    "threads": 1,
    "heldout_fraction": 0.2,
}


@pytest.fixture
def model_folder(tmp_path):
    """A tiny folder with phone-aware decoding and a bigram."""
    tokenizer = CharTokenizer()
    tokenizer.build(POOL, vocab_size=TEXT_VOCAB)
    values = {
        **TEMPLATE_SIZES,
        "max_positions": 16,
        "rel_pos_bucket_size": 4,
        "text_vocab_size": TEXT_VOCAB,
        "code_vocab_size": 3,
        "beam_size": 2,
        "min_decode_length": 1,
        "phone_ctc_weight": 0.4,
        "phone_ctc_prefix_beam": 8,
        "ngram_lm_weight": 0.3,
        "ngram_order": 2,
    }
    ngram = NgramLM(TEXT_VOCAB, order=2).fit(map(tokenizer.encode_as_ids, POOL))
    return write_model_folder(
        tmp_path / "model",
        model_from_template(values).eval(),
        tokenizer,
        folder_values(values),
        ngram_lm=ngram,
    )


@pytest.fixture
def domain_file(tmp_path):
    path = tmp_path / "domain.txt"
    path.write_text("\n".join(DOMAIN) + "\n", encoding="utf-8")
    return path


def load_tokenizer(folder):
    tokenizer = CharTokenizer()
    tokenizer.load(folder / "tokenizer.ckpt")
    return tokenizer


def test_ngram_way_grows_vocabulary_and_keeps_old_ids_and_rows(
    model_folder, domain_file, tmp_path
):
    output = tmp_path / "adapted"
    report = adapt_model_folder(
        model_folder, [domain_file], output, method="ngram", progress=False
    )
    old, new = load_tokenizer(model_folder), load_tokenizer(output)
    new_chars = set("".join(DOMAIN)) - set(old.tokens)
    assert set(report["new_characters"]) == new_chars
    # More new characters than free ids: the vocabulary grew.
    assert len(new) == TEXT_VOCAB + len(new_chars) - 3
    for index, token in enumerate(old.tokens):
        if not token.startswith("<unused_"):
            assert new.tokens[index] == token
    for char in new_chars:
        assert new.token_to_id(char) != new.unk_index
    old_state = torch.load(model_folder / "model.ckpt")
    new_state = torch.load(output / "model.ckpt")
    kept = [i for i, t in enumerate(old.tokens) if not t.startswith("<unused_")]
    for key in EMBEDDING_KEYS:
        assert torch.equal(new_state[key][kept], old_state[key][kept])
        # The audio codes follow the text ids, unchanged.
        assert torch.equal(
            new_state[key][len(new) :], old_state[key][TEXT_VOCAB:]
        )
    others = [key for key in old_state if key not in EMBEDDING_KEYS]
    assert all(torch.equal(old_state[k], new_state[k]) for k in others)
    assert 0 < report["ngram"]["weight"] < 1


def test_both_ways_write_a_folder_that_loads_and_decodes(
    model_folder, domain_file, tmp_path
):
    from speechbrain.inference.ASR import EncoderDecoderASR

    output = tmp_path / "adapted"
    report = adapt_model_folder(
        model_folder,
        [domain_file],
        output,
        method="both",
        text_pool=[domain_file],
        overrides=QUICK_P2T,
        progress=False,
    )
    assert report["p2t"]["steps"] == 2
    old_state = torch.load(model_folder / "model.ckpt")
    new_state = torch.load(output / "model.ckpt")
    encoder = [key for key in old_state if key.startswith("encoder.")]
    assert all(torch.equal(old_state[k], new_state[k]) for k in encoder)
    asr = EncoderDecoderASR.from_hparams(
        source=str(output), savedir=str(tmp_path / "save")
    )
    tokenizer = load_tokenizer(output)
    scorers = asr.hparams.decoder.scorer.full_scorers
    assert scorers["ngramlm"].lm.vocab_size == len(tokenizer)
    assert scorers["ngramlm"].lm.mixture is not None
    # The phone scorer reads the new characters too.
    table = scorers["ctc"].char_phone_table
    assert int(table.lengths[tokenizer.token_to_id("球")].max()) > 0
    feats, lens = torch.randn(2, 120, 80), torch.tensor([1.0, 0.7])
    with torch.no_grad():
        memory = asr.mods.transformer.encode(feats, lens)
        hyps, _, _, _ = asr.hparams.decoder(memory, lens)
    assert len(hyps) == 2
    assert max(max(h) for h in hyps if h) < len(tokenizer)


@pytest.fixture
def labeled_manifest(tmp_path):
    """Two spoken pool sentences as a labeled manifest."""
    rows = ["ID,duration,wav,transcript"]
    for k, (text, pinyin) in enumerate(
        [
            ("你好世界", "ni3 hao3 shi4 jie4"),
            ("天气很好", "tian1 qi4 hen3 hao3"),
        ]
    ):
        audio = speak(pinyin)
        wav = write_wav(tmp_path / f"u{k}.wav", audio)
        rows.append(f"u{k},{len(audio) / 16000:.2f},{wav},{text}")
    path = tmp_path / "labeled.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_labeled_speech_adds_s2t_to_p2t(
    model_folder, domain_file, labeled_manifest, tmp_path
):
    def adapt(name, labeled):
        output = tmp_path / name
        report = adapt_model_folder(
            model_folder,
            [domain_file],
            output,
            method="p2t",
            overrides={**QUICK_P2T, "labeled_batch_size": 2},
            progress=False,
            labeled=labeled,
        )
        return report, torch.load(output / "model.ckpt")

    report, with_speech = adapt("with_speech", labeled_manifest)
    assert report["labeled"] == 2 and report["p2t"]["steps"] == 2
    _, text_only = adapt("text_only", None)
    old_state = torch.load(model_folder / "model.ckpt")
    for key, value in with_speech.items():
        if key.startswith("encoder."):  # frozen: S2T moves the decoder only
            assert torch.equal(value, old_state[key])
    decoder = [key for key in with_speech if key.startswith("decoder.")]
    assert any(not torch.equal(with_speech[k], text_only[k]) for k in decoder)
    with pytest.raises(AdaptationError, match="--method p2t or both"):
        adapt_model_folder(
            model_folder,
            [domain_file],
            tmp_path / "ngram",
            method="ngram",
            labeled=labeled_manifest,
        )
    unlabeled = tmp_path / "unlabeled.csv"
    unlabeled.write_text(
        labeled_manifest.read_text(encoding="utf-8").replace("你好世界", ""),
        encoding="utf-8",
    )
    with pytest.raises(AdaptationError, match="no transcript for 1 rows"):
        adapt("bad", unlabeled)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_inputs_are_refused_clearly(model_folder, domain_file, tmp_path):
    out = tmp_path / "out"
    empty = write(tmp_path / "empty.txt", "\n \n")
    latin = write(tmp_path / "latin.txt", "hello world\nabc, def.\n")
    cases = [
        ([empty], model_folder, "ngram", "empty"),
        ([latin], model_folder, "ngram", "no Chinese"),
        ([tmp_path / "missing.txt"], model_folder, "ngram", "does not exist"),
    ]
    no_ngram = tmp_path / "no_ngram"
    no_ngram.mkdir()
    for name in ["hyperparams.yaml", "model.ckpt", "tokenizer.ckpt"]:
        (no_ngram / name).write_bytes((model_folder / name).read_bytes())
    cases.append(([domain_file], no_ngram, "ngram", "no character n-gram"))
    no_phones = tmp_path / "no_phones"
    no_phones.mkdir()
    for name in ["hyperparams.yaml", "tokenizer.ckpt", "ngram_lm.ckpt"]:
        (no_phones / name).write_bytes((model_folder / name).read_bytes())
    state = torch.load(model_folder / "model.ckpt")
    del state["encoder.phone_item_embedding.weight"]
    torch.save(state, no_phones / "model.ckpt")
    cases.append(([domain_file], no_phones, "p2t", "no phone head"))
    cases.append(([domain_file], tmp_path, "p2t", "not a model folder"))
    for files, folder, method, message in cases:
        with pytest.raises(AdaptationError, match=message):
            adapt_model_folder(
                folder, files, out, method=method, progress=False
            )
    out.mkdir()
    with pytest.raises(AdaptationError, match="exists"):
        adapt_model_folder(model_folder, [domain_file], out, progress=False)
    with pytest.raises(AdaptationError, match="Unknown adaptation settings"):
        adapt_model_folder(
            model_folder, [domain_file], tmp_path / "o2", overrides={"lr": 1}
        )


def test_cli_reports_bad_input_with_exit_code_2(model_folder, tmp_path, capsys):
    latin = write(tmp_path / "latin.txt", "hello\n")
    code = main([str(model_folder), str(latin), "-o", str(tmp_path / "o")])
    assert code == 2
    assert "no Chinese" in capsys.readouterr().err
