"""Tiny MMSpeech models shared by the unit tests.

The sizes live here once; a test changes only what it needs through keyword
overrides. Each builder sets the global torch seed right before it builds,
so a test gets the same random weights from one call as from the
``torch.manual_seed`` and constructor calls it would otherwise write out.

The test files import this module by name (``import tiny_models`` or
``from tiny_models import ...``): pytest's default ``prepend`` import mode
puts ``tests/`` on ``sys.path``. It holds no tests and no doctest examples,
so ``--doctest-modules`` only imports it.

Authors
 * MMSpeech plugin contributors 2026
"""

from pathlib import Path

import torch
import yaml
from hyperpyyaml import load_hyperpyyaml

from speechbrain_mmspeech.export.folders import (
    INFERENCE_TEMPLATE,
    render_hparams,
)
from speechbrain_mmspeech.lobes.models.decoder import TextDecoder
from speechbrain_mmspeech.lobes.models.encoder import SpeechEncoder
from speechbrain_mmspeech.lobes.models.mmspeech import (
    ARCHITECTURE_KEYS,
    MMSpeech,
)
from speechbrain_mmspeech.lobes.models.transformer_lm import TransformerLM

# The recipes' architecture presets; the architecture keys a test leaves
# out take the Base preset's values.
PRESETS = Path(__file__).resolve().parents[1] / "hparams"
BASE_PRESET = PRESETS / "base.yaml"

D_MODEL = 16
# Keywords of SpeechEncoder.
ENCODER_SIZES = {
    "d_model": D_MODEL,
    "nhead": 2,
    "num_layers": 2,
    "d_ffn": 32,
    "subsample_channels": 4,
    "context_layer": 1,
    "pos_conv_depth": 1,
    "pos_conv_kernel": 3,
    "pos_conv_groups": 2,
}
# Keywords of TextDecoder, but for ``vocab_size``.
DECODER_SIZES = {
    "d_model": D_MODEL,
    "nhead": 2,
    "num_layers": 1,
    "d_ffn": 32,
    "max_positions": 16,
    "rel_pos_bucket_size": 4,
}
# The same model as inference-template keys; the vocabularies and the
# decoder positions are left to each test.
TEMPLATE_SIZES = {
    **{
        key: value
        for key, value in ENCODER_SIZES.items()
        if key != "num_layers"
    },
    "num_encoder_layers": ENCODER_SIZES["num_layers"],
    "num_decoder_layers": DECODER_SIZES["num_layers"],
}

# The texts, vocabulary size and settings of a tiny model folder that decodes
# whatever reaches its decoder into text ("" then means it was not decoded).
FOLDER_TEXTS = ["今天天气很好", "我们去公园", "你好世界"]
FOLDER_TEXT_VOCAB = 24
FOLDER_SETTINGS = {
    **TEMPLATE_SIZES,
    "max_positions": 16,
    "rel_pos_bucket_size": 4,
    "text_vocab_size": FOLDER_TEXT_VOCAB,
    "code_vocab_size": 3,
    "beam_size": 2,
    "no_repeat_ngram_size": 2,
    "min_decode_length": 1,
}

# A tiny language model, as inference-template keys.
LM_TEMPLATE_SIZES = {
    "lm_architecture": {"d_model": 16, "nhead": 2, "num_layers": 1, "d_ffn": 32}
}


def set_seed(seed):
    """Sets the global torch seed, unless ``seed`` is None.

    Arguments
    ---------
    seed : int or None
        The seed; None leaves the random state as it is.
    """
    if seed is not None:
        torch.manual_seed(seed)


def tiny_encoder(seed=0, **overrides):
    """A tiny ``SpeechEncoder`` (in training mode).

    Arguments
    ---------
    seed : int or None
        Global torch seed set just before construction; None sets none.
    **overrides
        ``SpeechEncoder`` keywords that replace or add to ``ENCODER_SIZES``.

    Returns
    -------
    SpeechEncoder
        The encoder, randomly initialised.
    """
    set_seed(seed)
    return SpeechEncoder(**{**ENCODER_SIZES, **overrides})


def tiny_decoder(vocab_size, seed=0, **overrides):
    """A tiny ``TextDecoder`` of ``vocab_size`` tokens, as ``tiny_encoder``.

    ``seed`` and ``overrides`` (of ``DECODER_SIZES``) work as there.
    """
    set_seed(seed)
    return TextDecoder(vocab_size=vocab_size, **{**DECODER_SIZES, **overrides})


def tiny_model(vocab_size, encoder=None, decoder=None, seed=0):
    """A tiny ``MMSpeech`` (in training mode).

    The seed is set once, then the encoder and the decoder are built in
    that order.

    Arguments
    ---------
    vocab_size : int
        Size of the decoder's token table (text tokens and audio codes).
    encoder : dict, optional
        Overrides of ``ENCODER_SIZES``.
    decoder : dict, optional
        Overrides of ``DECODER_SIZES``.
    seed : int or None
        Global torch seed set just before construction; None sets none.

    Returns
    -------
    MMSpeech
        The model, randomly initialised.
    """
    set_seed(seed)
    return MMSpeech(
        tiny_encoder(seed=None, **(encoder or {})),
        tiny_decoder(vocab_size, seed=None, **(decoder or {})),
    )


def tiny_language_model(vocab, seed=0):
    """A tiny untrained ``TransformerLM`` of ``LM_TEMPLATE_SIZES`` (eval mode).

    Arguments
    ---------
    vocab : int
        Number of text ids.
    seed : int or None
        Global torch seed set just before construction; None sets none.

    Returns
    -------
    speechbrain_mmspeech.lobes.models.transformer_lm.TransformerLM
    """
    set_seed(seed)
    return TransformerLM.from_architecture(
        LM_TEMPLATE_SIZES["lm_architecture"], vocab=vocab
    ).eval()


def folder_values(settings):
    """Flat test settings as ``write_model_folder`` takes them.

    The tests write a folder's settings as one flat dict (usually
    ``TEMPLATE_SIZES`` and some more); the architecture keys among them go
    into the ``architecture`` mapping, completed with the Base preset.

    Arguments
    ---------
    settings : dict
        Architecture keys and other template settings, flat.

    Returns
    -------
    dict
    """
    base = yaml.safe_load(BASE_PRESET.read_text(encoding="utf-8"))
    architecture = {
        key: settings.get(key, base[key]) for key in ARCHITECTURE_KEYS
    }
    others = {k: v for k, v in settings.items() if k not in ARCHITECTURE_KEYS}
    return {"architecture": architecture, **others}


def model_from_template(hparams, seed=0):
    """The ``model`` entry of the inference template, as ``tiny_model``.

    ``hparams`` are flat test settings (see ``folder_values``); ``seed``
    works as in ``tiny_model``.
    """
    set_seed(seed)
    template = INFERENCE_TEMPLATE.read_text(encoding="utf-8")
    values = folder_values(hparams)
    return load_hyperpyyaml(render_hparams(template, values))["model"]


def load_folder(interface, folder, savedir, **overrides):
    """A model folder loaded on the CPU by ``interface.from_hparams``
    (``EncoderDecoderASR``, ``MMSpeechASR``) with YAML ``overrides``."""
    return interface.from_hparams(
        source=str(folder),
        savedir=str(savedir),
        run_opts={"device": "cpu"},
        overrides=overrides,
    )
