"""Tests for speechbrain_mmspeech.lobes.wrappers: the MMSpeech encoder as a lobe
(and for ``lobes.memory_head`` and ``lobes.foreign_encoder``).

The lobe must give the states ``MMSpeech.encode`` computes inside a model
folder's model, load every kind of model folder (recipe-style, converted,
by hub id), train or not as ``freeze`` says, and fail clearly on bad input.
The cross-use pieces (``MemoryHead`` with SpeechBrain's ``CTCScorer`` in
MMSpeech's beam search, ``ForeignEncoder`` under MMSpeech's decoder) run in
their doctests and here.

Authors
 * MMSpeech plugin contributors 2026
"""

import pytest
import torch
from speechbrain.decoders.scorer import CTCScorer, ScorerBuilder
from speechbrain.utils.fetching import FetchConfig

from hub_cache import COMMIT, add_to_hub_cache
from speechbrain_mmspeech.decoders.seq2seq import MMSpeechBeamSearcher
from speechbrain_mmspeech.export.folders import write_model_folder
from speechbrain_mmspeech.lobes.memory_head import MemoryHead
from speechbrain_mmspeech.lobes.models.mmspeech import unpack_memory
from speechbrain_mmspeech.lobes.wrappers import (
    MMSpeechEncoder,
    load_model_folder,
)
from speechbrain_mmspeech.tokenizers import EOS_INDEX, PAD_INDEX, CharTokenizer
from tiny_models import (
    FOLDER_SETTINGS,
    FOLDER_TEXTS,
    folder_values,
    model_from_template,
)

REPO_ID = "mmspeech-test/tiny-lobe"


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    """A recipe-style model folder with random weights (7 encoder layers)."""
    tokenizer = CharTokenizer()
    tokenizer.build(FOLDER_TEXTS, FOLDER_SETTINGS["text_vocab_size"])
    settings = {**FOLDER_SETTINGS, "num_encoder_layers": 3}
    folder = tmp_path_factory.mktemp("model")
    return write_model_folder(
        folder,
        model_from_template(settings),
        tokenizer,
        folder_values(settings),
    )


def batch(seed=0):
    """Two waveforms of different lengths (the second padded)."""
    generator = torch.Generator().manual_seed(seed)
    wavs = 0.3 * torch.randn(2, 12000, generator=generator)
    wavs[1, 8000:] = 0.0
    return wavs, torch.tensor([1.0, 8000 / 12000])


def encode_inside(folder, wavs, wav_lens):
    """What ``MMSpeech.encode`` computes with the folder's own objects."""
    hparams, _ = load_model_folder(folder)
    model = hparams["model"].eval()
    with torch.no_grad():
        feats = hparams["compute_features"](wavs, wav_lens)
        feats = hparams["normalize"](feats, wav_lens)
        return unpack_memory(model.encode(feats, wav_lens))


def assert_same_states(states, hidden, padding_mask):
    """Equal on the real frames, zero on the padding."""
    valid = ~padding_mask
    assert states.shape == hidden.shape
    assert torch.allclose(states[valid], hidden[valid], atol=1e-6)
    assert not states[padding_mask].any()
    assert padding_mask.any(), "the batch must hold padding"


def test_states_equal_those_of_mmspeech_encode(model_folder):
    wavs, wav_lens = batch()
    hidden, _, padding_mask = encode_inside(model_folder, wavs, wav_lens)
    lobe = MMSpeechEncoder(model_folder)
    assert_same_states(lobe(wavs, wav_lens), hidden, padding_mask)


def test_all_hiddens_and_phone_head(model_folder):
    wavs, wav_lens = batch()
    hparams, _ = load_model_folder(model_folder)
    lobe = MMSpeechEncoder(
        model_folder, output_all_hiddens=True, apply_phone_head=True
    )
    layers, phone_log_probs = lobe(wavs, wav_lens)
    last = MMSpeechEncoder(model_folder)(wavs, wav_lens)
    # The states entering layer 1, then leaving each of the 3 layers.
    assert layers.shape == (4, *last.shape)
    assert torch.allclose(layers[-1], last, atol=1e-6)
    assert not torch.allclose(layers[0], layers[1])
    encoder = hparams["model"].encoder.eval()
    feats = hparams["compute_features"](wavs, wav_lens)
    feats = hparams["normalize"](feats, wav_lens)
    with torch.no_grad():
        expected = encoder.phone_logits(encoder(feats, wav_lens).hidden)
    assert torch.allclose(phone_log_probs, expected.log_softmax(-1), atol=1e-5)


def test_loads_converted_folders(converted):
    wavs, wav_lens = batch(seed=1)
    for layout in ["modelscope", "fairseq"]:
        folder = converted[layout]
        hidden, _, padding_mask = encode_inside(folder, wavs, wav_lens)
        lobe = MMSpeechEncoder(folder)
        assert_same_states(lobe(wavs, wav_lens), hidden, padding_mask)


@pytest.mark.usefixtures("no_network")
def test_loads_by_hub_id_offline(model_folder, tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    add_to_hub_cache(cache, REPO_ID, model_folder, COMMIT)
    monkeypatch.chdir(tmp_path)  # "org/name" must not be a local folder
    wavs, wav_lens = batch()
    lobe = MMSpeechEncoder(
        REPO_ID,
        savedir=tmp_path / "pretrained",
        fetch_config=FetchConfig(
            allow_network=False, huggingface_cache_dir=str(cache)
        ),
    )
    linked = (tmp_path / "pretrained" / "model.ckpt").resolve()
    assert linked.parent.name == "blobs"
    local = MMSpeechEncoder(model_folder)
    assert torch.equal(lobe(wavs, wav_lens), local(wavs, wav_lens))


@pytest.mark.usefixtures("no_network")
def test_unreachable_hub_id_names_the_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="org/absent: not a local"):
        MMSpeechEncoder(
            "org/absent",
            fetch_config=FetchConfig(
                allow_network=False, huggingface_cache_dir=str(tmp_path)
            ),
        )


def test_built_from_folder_hparams_text(model_folder):
    """The text alone builds the architecture; weights are loaded after."""
    wavs, wav_lens = batch()
    loaded = MMSpeechEncoder(model_folder)
    rebuilt = MMSpeechEncoder(folder_hparams=loaded.folder_hparams)
    assert not torch.allclose(rebuilt(wavs, wav_lens), loaded(wavs, wav_lens))
    rebuilt.load_state_dict(loaded.state_dict())
    assert torch.equal(rebuilt(wavs, wav_lens), loaded(wavs, wav_lens))


def training_step(lobe, steps=1):
    """Steps of SGD on a head over the lobe; returns the lobe's weights."""
    head = torch.nn.Linear(lobe.d_model, 3)
    params = [*lobe.parameters(), *head.parameters()]
    optimizer = torch.optim.SGD([p for p in params if p.requires_grad], lr=0.1)
    before = {k: v.clone() for k, v in lobe.state_dict().items()}
    lobe.train()
    wavs, wav_lens = batch()
    for _ in range(steps):
        optimizer.zero_grad()
        head(lobe(wavs, wav_lens)).pow(2).mean().backward()
        optimizer.step()
    after = lobe.state_dict()
    return {k for k in before if not torch.equal(before[k], after[k])}


def test_frozen_lobe_keeps_its_weights(model_folder):
    lobe = MMSpeechEncoder(model_folder, freeze=True)
    assert not any(p.requires_grad for p in lobe.parameters())
    assert training_step(lobe) == set()
    # Brain puts every module in training mode: the frozen encoder stays
    # in eval mode (no dropout), so its states do not change with the mode.
    lobe.train()
    assert not lobe.encoder.training
    wavs, wav_lens = batch()
    assert torch.equal(lobe(wavs, wav_lens), lobe.eval()(wavs, wav_lens))


def test_fine_tuned_lobe_updates_its_weights(model_folder):
    lobe = MMSpeechEncoder(model_folder, freeze=False)
    changed = training_step(lobe)
    assert any(k.startswith("encoder.encoder.layers.") for k in changed)
    assert any(k.startswith("encoder.subsample.") for k in changed)
    # What the forward pass does not use gets no update (DDP-safe).
    assert not any("phone_pos_conv" in k for k in changed)
    assert not any("phone_item_embedding" in k for k in changed)


def test_frozen_feature_extractor(model_folder):
    lobe = MMSpeechEncoder(
        model_folder, freeze=False, freeze_feature_extractor=True
    )
    changed = training_step(lobe)
    assert any(k.startswith("encoder.encoder.layers.") for k in changed)
    assert not any(k.startswith("encoder.subsample.") for k in changed)
    assert not any(k.startswith("encoder.post_subsample_proj") for k in changed)


def test_clear_errors(model_folder, tmp_path):
    with pytest.raises(
        FileNotFoundError, match="no such MMSpeech model folder"
    ):
        MMSpeechEncoder(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "hyperparams.yaml").write_text(
        (model_folder / "hyperparams.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    with pytest.raises(FileNotFoundError, match="model.ckpt is missing"):
        MMSpeechEncoder(empty)
    with pytest.raises(ValueError, match="either source"):
        MMSpeechEncoder()
    lobe = MMSpeechEncoder(model_folder)
    with pytest.raises(ValueError, match=r"\[batch, time\] waveforms"):
        lobe(torch.zeros(1, 1, 16000))


def test_ctc_scorer_over_a_head_in_mmspeech_search(model_folder):
    """SpeechBrain's CTCScorer with a head on the lobe's states, used by
    MMSpeechBeamSearcher: the weight moves the hypotheses towards the head.
    """
    hparams, _ = load_model_folder(model_folder)
    model = hparams["model"].eval()
    vocab = model.decoder.embed_tokens.num_embeddings
    text_vocab = FOLDER_SETTINGS["text_vocab_size"]
    # A head that emits blanks and id 7 only: with a large CTC weight, the
    # hypotheses hold nothing but 7s.
    head = torch.nn.Linear(model.encoder.d_model, text_vocab)
    torch.nn.init.zeros_(head.weight)
    with torch.no_grad():
        head.bias.fill_(-10.0)
        head.bias[PAD_INDEX] = 0.0
        head.bias[7] = -1.0

    def searcher(ctc_weight):
        scorer = None
        if ctc_weight:
            scorer = ScorerBuilder(
                full_scorers=[
                    CTCScorer(
                        ctc_fc=MemoryHead(head, vocab_size=vocab),
                        blank_index=PAD_INDEX,
                        eos_index=EOS_INDEX,
                    )
                ],
                weights={"ctc": ctc_weight},
            )
        return MMSpeechBeamSearcher(
            model,
            text_vocab_size=text_vocab,
            banned_indices=[0, PAD_INDEX],
            bos_index=0,
            eos_index=EOS_INDEX,
            beam_size=3,
            min_decode_ratio=0.0,
            max_decode_ratio=1.0,
            using_eos_threshold=False,
            scorer=scorer,
        )

    wavs, wav_lens = batch()
    with torch.no_grad():
        feats = hparams["compute_features"](wavs, wav_lens)
        feats = hparams["normalize"](feats, wav_lens)
        memory = model.encode(feats, wav_lens)
        alone, _, _, _ = searcher(0.0)(memory, wav_lens)
        joint, _, _, _ = searcher(0.9)(memory, wav_lens)
    assert all(hyp and set(hyp) == {7} for hyp in joint)
    assert alone != joint
