"""``adapt_model_folder``: a model folder and domain text to a new folder.

The steps (settings: ``hparams/adapt.yaml``):

1. check the inputs (``AdaptationError`` names the problem);
2. read the domain text, hold out ``heldout_fraction`` of it;
3. give the domain's new characters ids (``vocabulary``);
4. ``ngram``: interpolate the folder's n-gram with a domain n-gram
   (``ngram``); otherwise the folder's n-gram is only resized;
5. ``p2t``: train the decoder with P2T on the domain text (``p2t``),
   with S2T on labeled speech when given (``labeled``);
6. write the new folder with the folder's own decoding settings
   (``export.folders.write_model_folder``).

Authors
 * MMSpeech plugin contributors 2026
"""

import logging
import time
from pathlib import Path

import ruamel.yaml
import torch
import yaml

from speechbrain_mmspeech.adaptation.domain_text import (
    AdaptationError,
    read_domain_text,
    split_heldout,
)
from speechbrain_mmspeech.adaptation.labeled import encode_labeled
from speechbrain_mmspeech.adaptation.ngram import adapt_ngram
from speechbrain_mmspeech.adaptation.p2t import train_p2t
from speechbrain_mmspeech.adaptation.vocabulary import (
    grow_vocabulary,
    new_characters,
)
from speechbrain_mmspeech.export.folders import (
    HPARAMS,
    HPARAMS_FILE,
    MODEL_FILE,
    NGRAM_LM_FILE,
    TOKENIZER_FILE,
    read_template,
    template_settings,
    write_model_folder,
)
from speechbrain_mmspeech.lm.ngram import NgramLM
from speechbrain_mmspeech.lobes.models.mmspeech import MMSpeech
from speechbrain_mmspeech.tokenizers import (
    BOS_INDEX,
    EOS_INDEX,
    PAD_INDEX,
    UNK_INDEX,
    CharTokenizer,
)

ADAPT_HPARAMS = HPARAMS / "adapt.yaml"
METHODS = ("ngram", "p2t", "both")
PHONE_HEAD_KEY = "encoder.phone_item_embedding.weight"

logger = logging.getLogger(__name__)


def load_settings(hparams_file=None, overrides=None):
    """The adaptation settings: a YAML file (default: the package's) and
    overrides.

    Arguments
    ---------
    hparams_file : str or pathlib.Path
        A YAML of settings (default ``hparams/adapt.yaml``).
    overrides : dict
        Values that replace the file's; unknown keys are refused.

    Returns
    -------
    dict

    Example
    -------
    >>> load_settings(overrides={"p2t_lr": 0.001})["p2t_lr"]
    0.001
    """
    if hparams_file is None:
        text = ADAPT_HPARAMS.read_text(encoding="utf-8")
    else:
        text = Path(hparams_file).read_text(encoding="utf-8")
    settings = yaml.safe_load(text)
    unknown = set(overrides or {}) - set(settings)
    if unknown:
        raise AdaptationError(
            f"Unknown adaptation settings {sorted(unknown)}; the settings "
            f"are {sorted(settings)}"
        )
    settings.update(overrides or {})
    return settings


def _plain(node):
    """A ruamel node as plain Python data."""
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return str(node)


def read_model_folder(folder, need_ngram):
    """The settings, model state, tokenizer and n-gram of a model folder.

    Arguments
    ---------
    folder : str or pathlib.Path
        A local model folder.
    need_ngram : bool
        Refuse a folder without ``ngram_lm.ckpt``.

    Returns
    -------
    values : dict
        The folder's settings (the inference template's plain keys).
    state : dict
        ``model.ckpt``.
    tokenizer : CharTokenizer
    ngram : NgramLM or None

    Raises
    ------
    AdaptationError
        Not a model folder, no phone head, or no n-gram when needed.
    """
    folder = Path(folder)
    for name in (HPARAMS_FILE, MODEL_FILE, TOKENIZER_FILE):
        if not (folder / name).is_file():
            raise AdaptationError(
                f"{folder} is not a model folder: it has no {name}"
            )
    tree = ruamel.yaml.YAML().load(
        (folder / HPARAMS_FILE).read_text(encoding="utf-8")
    )
    values = {
        key: _plain(tree[key])
        for key in template_settings(read_template())
        if key in tree
    }
    state = torch.load(folder / MODEL_FILE, map_location="cpu")
    architecture = values.get("architecture") or {}
    if PHONE_HEAD_KEY not in state or not architecture.get("phone_vocab_size"):
        raise AdaptationError(
            f"The model of {folder} has no phone head (no "
            f"{PHONE_HEAD_KEY}): P2T and phone-aware decoding need one"
        )
    tokenizer = CharTokenizer()
    tokenizer.load(folder / TOKENIZER_FILE)
    ngram = None
    if (folder / NGRAM_LM_FILE).is_file():
        ngram = NgramLM(
            vocab_size=architecture["text_vocab_size"],
            order=values["ngram_order"],
            bos_index=BOS_INDEX,
            eos_index=EOS_INDEX,
            unpredicted_indices=[BOS_INDEX, PAD_INDEX, UNK_INDEX],
        )
        ngram.load_state_dict(torch.load(folder / NGRAM_LM_FILE))
    elif need_ngram:
        raise AdaptationError(
            f"{folder} has no character n-gram ({NGRAM_LM_FILE}): the "
            "n-gram way adapts the folder's n-gram; use --method p2t"
        )
    return values, state, tokenizer, ngram


def read_pool(paths):
    """The original text pool: normalised non-empty lines of the files.

    Arguments
    ---------
    paths : list of str or pathlib.Path

    Returns
    -------
    list of str
    """
    return read_domain_text(paths) if paths else []


def adapt_model_folder(
    source,
    domain_files,
    output,
    method="both",
    text_pool=(),
    hparams_file=None,
    overrides=None,
    progress=True,
    labeled=None,
):
    """Adapts a model folder to a domain from text alone.

    Arguments
    ---------
    source : str or pathlib.Path
        A local model folder (with a phone head; with ``ngram_lm.ckpt`` for
        the n-gram way).
    domain_files : list of str or pathlib.Path
        Domain text, one sentence a line.
    output : str or pathlib.Path
        The new model folder; must not exist.
    method : str
        ``ngram``, ``p2t`` or ``both``.
    text_pool : list of str or pathlib.Path
        The original text pool's files (P2T mixes it in; optional).
    hparams_file : str or pathlib.Path
        Settings (default ``hparams/adapt.yaml``).
    overrides : dict
        Settings that replace the file's.
    progress : bool
        Show progress bars.
    labeled : str or pathlib.Path
        A labeled manifest (``ID``, ``duration``, ``wav``, ``transcript``):
        P2T then mixes in S2T batches of it (optional; P2T ways only).

    Returns
    -------
    dict
        What was done: sentences, new characters, n-gram weight and
        perplexities, P2T steps and losses, seconds.

    Raises
    ------
    AdaptationError
        For inputs it cannot use.
    """
    start = time.perf_counter()
    if method not in METHODS:
        raise AdaptationError(
            f"method must be one of {METHODS}, not {method!r}"
        )
    output = Path(output)
    if output.exists():
        raise AdaptationError(
            f"The output folder {output} exists: give a new folder"
        )
    settings = load_settings(hparams_file, overrides)
    torch.set_num_threads(settings["threads"])
    use_ngram, use_p2t = method in ("ngram", "both"), method in ("p2t", "both")
    if labeled is not None and not use_p2t:
        raise AdaptationError(
            "Labeled speech (--labeled) trains the decoder with P2T: use "
            "--method p2t or both"
        )
    values, state, tokenizer, ngram = read_model_folder(source, use_ngram)
    sentences = read_domain_text(domain_files)
    train, heldout = split_heldout(
        sentences, settings["heldout_fraction"], settings["seed"]
    )
    report = {
        "method": method,
        "sentences": len(train),
        "heldout": len(heldout),
    }

    characters = new_characters(tokenizer, sentences)
    tokenizer, state, architecture, new_ids = grow_vocabulary(
        tokenizer, state, values["architecture"], characters
    )
    values["architecture"] = architecture
    report["new_characters"] = "".join(characters)
    if ngram is not None:
        ngram = ngram.resized(architecture["text_vocab_size"])
    if use_ngram:
        if not heldout:
            raise AdaptationError(
                "The n-gram way needs at least two domain sentences (one is "
                "held out to choose the interpolation weight)"
            )
        ngram, report["ngram"] = adapt_ngram(
            ngram,
            [tokenizer.encode_as_ids(s) for s in train],
            [tokenizer.encode_as_ids(s) for s in heldout],
            settings["ngram_weights"],
            settings["ngram_ppl_tolerance"],
        )
    model = MMSpeech.from_architecture(
        architecture, dropout=settings["p2t_dropout"] if use_p2t else 0.0
    )
    model.load_state_dict(state)
    if use_p2t:
        encoded = None
        if labeled is not None:
            encoded = encode_labeled(
                source,
                labeled,
                settings["labeled_max_utterances"],
                settings["seed"],
                progress,
            )
            report["labeled"] = len(encoded)
        report["p2t"] = train_p2t(
            model,
            tokenizer,
            train,
            read_pool(text_pool),
            settings,
            progress,
            labeled=encoded,
        )
    model.eval()
    write_model_folder(output, model, tokenizer, values, ngram_lm=ngram)
    report["seconds"] = round(time.perf_counter() - start, 1)
    logger.info("mmspeech-adapt: %s", report)
    return report
