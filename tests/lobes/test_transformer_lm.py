"""Tests for speechbrain_mmspeech.lobes.models.transformer_lm: training, fusion, rescoring, folders.

A "rigged" MMSpeech whose decoder gives the same next-token scores whatever
the input (it slightly prefers ``ASR_CHOICE`` to ``LM_CHOICE``) and a rigged
language model that strongly prefers ``LM_CHOICE`` make cases where the LM
must win, in fusion and in rescoring.

Authors
 * MMSpeech plugin contributors 2026
"""

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.decoders.scorer import RescorerBuilder, ScorerBuilder
from speechbrain.inference.ASR import EncoderDecoderASR

from speech_audio import speech_batch
from speechbrain_mmspeech.decoders.scorers import (
    MINUS_INF,
    TransformerLMRescorer,
    TransformerLMScorer,
    rescore_nbest,
)
from speechbrain_mmspeech.decoders.seq2seq import MMSpeechBeamSearcher
from speechbrain_mmspeech.export.folders import (
    INFERENCE_TEMPLATE,
    LM_FILE,
    LM_SECTION,
    render_hparams,
    write_model_folder,
)
from speechbrain_mmspeech.inference.ASR import MMSpeechASR, encode_whole
from speechbrain_mmspeech.tokenizers import CharTokenizer
from speechbrain_mmspeech.training.checkpoints import load_language_model
from tiny_models import (
    LM_TEMPLATE_SIZES,
    TEMPLATE_SIZES,
    folder_values,
    model_from_template,
    tiny_language_model,
)

TEXTS = ["今天天气很好", "我们去公园", "你好世界"]
TEXT_VOCAB = 20
CODE_VOCAB = 10
BOS, PAD, EOS = 0, 1, 2
ASR_CHOICE = 5  # the decoder's favourite text token
LM_CHOICE = 7  # the decoder's second choice, the LM's favourite
CODE = 25  # an audio code the decoder would emit without restrictions
TINY = {
    **TEMPLATE_SIZES,
    "max_positions": 12,
    "rel_pos_bucket_size": 4,
    "text_vocab_size": TEXT_VOCAB,
    "code_vocab_size": CODE_VOCAB,
    "beam_size": 3,
    "no_repeat_ngram_size": 0,
}
TINY_LM = {**LM_TEMPLATE_SIZES, "rescoring_topk": 3}


def tiny_lm(vocab=TEXT_VOCAB, seed=0):
    """A small untrained LM over the text ids."""
    return tiny_language_model(vocab, seed)


def rig_lm(lm, favourite, strength=10.0):
    """Makes an LM predict ``favourite`` after any prefix."""
    output = lm.output_proj.layers[-1].w
    with torch.no_grad():
        output.weight.zero_()
        output.bias.zero_()
        output.bias[favourite] = strength
    return lm


def build_model():
    """A tiny MMSpeech built from the inference template."""
    return model_from_template(TINY).eval()


def rig_model(model):
    """Fixes the decoder's next-token scores, whatever the input.

    The final LayerNorm outputs e_0, so the tied logits are column 0 of the
    embeddings: an audio code first, then <s> and <pad>, then ASR_CHOICE,
    then LM_CHOICE (0.2 lower), the other text tokens, and </s> last.
    """
    decoder = model.decoder
    scores = torch.zeros(TEXT_VOCAB + CODE_VOCAB)
    scores[ASR_CHOICE], scores[LM_CHOICE] = 2.0, 1.8
    scores[[BOS, PAD]] = 9.0
    scores[CODE] = 10.0
    scores[EOS] = -10.0
    with torch.no_grad():
        decoder.layer_norm.weight.zero_()
        decoder.layer_norm.bias.zero_()
        decoder.layer_norm.bias[0] = 1.0
        decoder.embed_tokens.weight[:, 0] = scores
    return model


def make_searcher(model, **overrides):
    """The searcher of the inference template, with overrides."""
    options = {
        "text_vocab_size": TEXT_VOCAB,
        "banned_indices": [BOS, PAD],
        "bos_index": BOS,
        "eos_index": EOS,
        "beam_size": 3,
        "min_decode_ratio": 0.0,
        "max_decode_ratio": 1.0,
        "using_eos_threshold": False,
    }
    options.update(overrides)
    return MMSpeechBeamSearcher(model, **options)


def fusion_scorer(lm, weight):
    """A ScorerBuilder adding ``weight * log p_LM`` (padded to the decoder)."""
    return ScorerBuilder(
        full_scorers=[
            TransformerLMScorer(lm, vocab_size=TEXT_VOCAB + CODE_VOCAB)
        ],
        weights={"transformerlm": weight},
    )


def memory_of(model, batch=2, frames=40):
    """Encoder memory of random features (deterministic)."""
    torch.manual_seed(3)
    with torch.no_grad():
        return model.encode(torch.randn(batch, frames, 80))


def search(searcher, memory):
    """Runs a searcher; returns its four outputs with lists of int hyps."""
    with torch.no_grad():
        hyps, lengths, scores, log_probs = searcher(
            memory, torch.ones(memory.shape[0])
        )
    return [[int(t) for t in hyp] for hyp in hyps], lengths, scores, log_probs


def test_lm_loss_falls_on_tiny_text():
    tokenizer = CharTokenizer()
    tokenizer.build(TEXTS, TEXT_VOCAB)
    ids = [tokenizer.encode_as_ids(text) for text in TEXTS]
    inputs = torch.nn.utils.rnn.pad_sequence(
        [torch.tensor([BOS, *seq]) for seq in ids],
        batch_first=True,
        padding_value=PAD,
    )
    targets = torch.nn.utils.rnn.pad_sequence(
        [torch.tensor([*seq, EOS]) for seq in ids],
        batch_first=True,
        padding_value=-100,
    )
    lm = tiny_lm().train()
    optimizer = torch.optim.Adam(lm.parameters(), lr=0.01)
    losses = []
    for _ in range(30):
        logits = lm(inputs)
        loss = torch.nn.functional.cross_entropy(
            logits.transpose(1, 2), targets, ignore_index=-100
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


def test_bos_is_not_padding():
    """Upstream masks id 0 (our <s>) as padding; ours masks <pad> only."""
    lm = tiny_lm()
    tokens = torch.tensor([[BOS, 5, 6, PAD, PAD]])
    _, padding = lm.make_masks(tokens)
    assert padding.tolist() == [[False, False, False, True, True]]
    logits = lm(tokens)
    assert torch.isfinite(logits).all()
    # Padding after the text changes nothing before it.
    assert torch.allclose(logits[:, :3], lm(tokens[:, :3]), atol=1e-5)


def test_scorer_pads_to_the_decoder_vocabulary():
    lm = tiny_lm()
    scorer = TransformerLMScorer(lm, vocab_size=TEXT_VOCAB + CODE_VOCAB)
    prefix = torch.tensor([[BOS, 5], [BOS, 6]])
    scores, memory = scorer.score(torch.tensor([7, 8]), prefix, None, None)
    assert memory.tolist() == [[BOS, 5, 7], [BOS, 6, 8]]
    expected = torch.log_softmax(lm(memory)[:, -1], dim=-1)
    assert scores.shape == (2, TEXT_VOCAB + CODE_VOCAB)
    assert torch.allclose(scores[:, :TEXT_VOCAB], expected, atol=1e-5)
    assert (scores[:, TEXT_VOCAB:] == MINUS_INF).all()
    too_small = TransformerLMScorer(lm, vocab_size=TEXT_VOCAB - 1)
    with pytest.raises(ValueError, match="more than the decoder"):
        too_small.score(torch.tensor([7]), None, None, None)


def test_builders_key_our_classes_as_transformerlm():
    lm = tiny_lm()
    assert list(fusion_scorer(lm, 0.5).full_scorers) == ["transformerlm"]
    tokenizer = CharTokenizer()
    tokenizer.build(TEXTS, TEXT_VOCAB)
    rescorer = RescorerBuilder(
        rescorers=[TransformerLMRescorer(lm, tokenizer)],
        weights={"transformerlm": 0.5},
    )
    assert list(rescorer.rescorers) == ["transformerlm"]


def test_fusion_makes_the_lm_choice_win():
    model = rig_model(build_model())
    memory = memory_of(model)
    lm = rig_lm(tiny_lm(), LM_CHOICE)
    plain, _, _, _ = search(make_searcher(model), memory)
    fused, _, _, _ = search(
        make_searcher(model, scorer=fusion_scorer(lm, 0.5)), memory
    )
    assert all(hyp and set(hyp) == {ASR_CHOICE} for hyp in plain)
    assert all(hyp and set(hyp) == {LM_CHOICE} for hyp in fused)


def test_fusion_keeps_the_text_restriction():
    """The LM's favourite audio code stays banned: restriction comes first."""
    model = rig_model(build_model())
    lm = rig_lm(tiny_lm(vocab=TEXT_VOCAB + CODE_VOCAB), CODE, strength=50.0)
    scorer = ScorerBuilder(
        full_scorers=[TransformerLMScorer(lm)], weights={"transformerlm": 1.0}
    )
    fused, _, _, _ = search(
        make_searcher(model, scorer=scorer), memory_of(model)
    )
    assert all(hyp and all(3 < t < TEXT_VOCAB for t in hyp) for hyp in fused)


def test_zero_weight_fusion_decodes_exactly_as_without_lm():
    model = build_model()  # not rigged: varied hypotheses
    memory = memory_of(model, batch=3)
    lm = tiny_lm()
    plain = search(make_searcher(model), memory)
    fused = search(make_searcher(model, scorer=fusion_scorer(lm, 0.0)), memory)
    assert plain[0] == fused[0]
    for expected, actual in zip(plain[1:], fused[1:]):
        assert torch.equal(expected, actual)


def test_rescorer_reorders_a_constructed_nbest():
    tokenizer = CharTokenizer()
    tokenizer.build(TEXTS, TEXT_VOCAB)
    favourite = tokenizer.encode_as_ids("园")[0]
    lm = rig_lm(tiny_lm(), favourite)
    nbest, scores = [["你好世界", "你好公园"]], [-0.1, -0.2]

    def rescore(weight):
        rescorer = RescorerBuilder(
            rescorers=[TransformerLMRescorer(lm, tokenizer)],
            weights={"transformerlm": weight},
        )
        return rescorer.rescore(nbest, [list(scores)])

    assert rescore(0.0) == ([["你好世界", "你好公园"]], [scores])
    texts, new_scores = rescore(1.0)
    assert texts == [["你好公园", "你好世界"]]
    assert new_scores[0][0] > new_scores[0][1]


def test_rescorer_length_normalization():
    tokenizer = CharTokenizer()
    tokenizer.build(TEXTS, TEXT_VOCAB)
    lm = tiny_lm()
    hyps = [["你好", "今天天气很好"]]
    total = TransformerLMRescorer(lm, tokenizer, length_normalization=False)
    per_token = TransformerLMRescorer(lm, tokenizer)
    expected = total.rescore_hyps(hyps) / torch.tensor([3.0, 7.0])
    assert torch.allclose(per_token.rescore_hyps(hyps), expected)


def test_rescore_nbest_picks_the_lm_choice_from_the_beam():
    model = rig_model(build_model())
    memory = memory_of(model, batch=1)
    searcher = make_searcher(model, return_topk=True, topk=3)
    with torch.no_grad():
        topk_hyps, topk_lengths, topk_scores, _ = searcher(
            memory, torch.ones(1)
        )
    tokenizer = CharTokenizer()
    tokenizer.build(TEXTS, TEXT_VOCAB)
    lm = rig_lm(tiny_lm(), LM_CHOICE)

    def best(weight):
        rescorer = RescorerBuilder(
            rescorers=[TransformerLMRescorer(lm, tokenizer)],
            weights={"transformerlm": weight},
        )
        hyps, texts = rescore_nbest(
            rescorer, tokenizer, topk_hyps, topk_lengths, topk_scores
        )
        assert texts == [tokenizer.decode_ids(hyps[0])]
        return hyps[0]

    beam_best = best(0.0)
    assert set(beam_best) == {ASR_CHOICE}
    assert beam_best == topk_hyps[0, 0, : len(beam_best)].tolist()
    assert LM_CHOICE in best(1.0)


def write_folder(folder, language_model=None, **lm_values):
    """A model folder of the rigged model, with or without the LM."""
    tokenizer = CharTokenizer()
    tokenizer.build(TEXTS, TEXT_VOCAB)
    values = dict(TINY)
    if language_model is not None:
        values.update(TINY_LM, **lm_values)
    model = rig_model(build_model())
    return write_model_folder(
        folder,
        model,
        tokenizer,
        folder_values(values),
        language_model=language_model,
    )


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Model folders without and with the rigged LM (same model)."""
    lm = rig_lm(tiny_lm(), LM_CHOICE)
    root = tmp_path_factory.mktemp("folders")
    return {
        "plain": write_folder(root / "plain"),
        "lm": write_folder(root / "lm", lm, lm_weight=0.5),
    }


def transcribe(interface, folder, savedir, **overrides):
    """Loads a folder and transcribes ``speech_batch``; returns ids and asr.

    Speech, not noise: audio without speech is never decoded.
    """
    asr = interface.from_hparams(
        source=str(folder),
        savedir=str(savedir),
        run_opts={"device": "cpu"},
        overrides=overrides,
    )
    words, tokens = asr.transcribe_batch(*speech_batch())
    assert words == [asr.tokenizer.decode_ids(hyp) for hyp in tokens]
    return [[int(t) for t in hyp] for hyp in tokens], asr


def test_folder_without_lm_has_no_lm_parts(folders):
    folder = folders["plain"]
    assert not (folder / LM_FILE).exists()
    text = (folder / "hyperparams.yaml").read_text(encoding="utf-8")
    assert "lm_" not in text and "scorer" not in text and "with lm" not in text
    template = INFERENCE_TEMPLATE.read_text(encoding="utf-8")
    assert text == render_hparams(template, folder_values(TINY))
    hparams = load_hyperpyyaml(text)
    assert hparams["decoder"].scorer is None
    assert set(hparams["pretrainer"].loadables) == {"model", "tokenizer"}


def test_folder_with_lm_decodes_with_it(folders, tmp_path):
    folder = folders["lm"]
    assert (folder / LM_FILE).is_file()
    text = (folder / "hyperparams.yaml").read_text(encoding="utf-8")
    assert "\nlm_weight: 0.5\n" in text and "# with lm" not in text
    with_lm, asr = transcribe(EncoderDecoderASR, folder, tmp_path / "a")
    assert all(hyp and set(hyp) == {LM_CHOICE} for hyp in with_lm)
    # The LM loaded is the one written.
    saved = torch.load(folder / LM_FILE)
    for key, value in asr.mods.lm_model.state_dict().items():
        assert torch.equal(value, saved[key]), key
    without, _ = transcribe(EncoderDecoderASR, folders["plain"], tmp_path / "b")
    assert all(hyp and set(hyp) == {ASR_CHOICE} for hyp in without)


def test_folder_without_lm_decodes_as_the_searcher_alone(folders, tmp_path):
    tokens, asr = transcribe(EncoderDecoderASR, folders["plain"], tmp_path)
    wavs, lens = speech_batch()
    memory = encode_whole(asr, wavs, lens)
    searcher = make_searcher(asr.mods.transformer, beam_size=TINY["beam_size"])
    with torch.no_grad():
        expected, _, _, _ = searcher(memory, lens)
    assert tokens == [[int(t) for t in hyp] for hyp in expected]
    # The same folder with an LM at weight 0 decodes the same way.
    zero, _ = transcribe(
        EncoderDecoderASR, folders["lm"], tmp_path / "lm", lm_weight=0.0
    )
    assert zero == tokens


def test_mmspeech_asr_rescoring(folders, tmp_path):
    plain, _ = transcribe(MMSpeechASR, folders["plain"], tmp_path / "a")
    rescored, asr = transcribe(
        MMSpeechASR, folders["lm"], tmp_path / "b", lm_mode="rescoring"
    )
    assert asr.lm_mode == "rescoring"
    assert all(LM_CHOICE in hyp for hyp in rescored)
    unchanged, _ = transcribe(
        MMSpeechASR,
        folders["lm"],
        tmp_path / "c",
        lm_mode="rescoring",
        lm_weight=0.0,
    )
    assert unchanged == plain
    with pytest.raises(ValueError, match="lm_mode"):
        transcribe(MMSpeechASR, folders["lm"], tmp_path / "d", lm_mode="none")


def test_lm_keys_are_set_only_with_the_lm_section():
    template = INFERENCE_TEMPLATE.read_text(encoding="utf-8")
    # A folder without an LM leaves the LM's settings out with the section.
    text = render_hparams(template, {"lm_weight": 0.1})
    assert "lm_weight" not in text and "lm_model" not in text
    text = render_hparams(template, {"lm_weight": 0.1}, [LM_SECTION])
    assert "\nlm_weight: 0.1\n" in text
    # A key that no section defines is still refused.
    with pytest.raises(KeyError, match="lm_wieght"):
        render_hparams(template, {"lm_wieght": 0.1}, [LM_SECTION])


def test_load_language_model_names_the_file_on_mismatch(tmp_path):
    path = tmp_path / LM_FILE
    torch.save(tiny_lm(vocab=TEXT_VOCAB + 1).state_dict(), path)
    with pytest.raises(ValueError, match=str(path)):
        load_language_model(tiny_lm(), path)
    torch.save(tiny_lm(seed=1).state_dict(), path)
    loaded = load_language_model(tiny_lm(), path)
    assert not loaded.training
