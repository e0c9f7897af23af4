"""The text pool, the character vocabulary and the held-out sentences.

The text pool (``text_files``) is every sentence of the given files that is
not a dev or test transcript (``heldout_sentences``); the character
vocabulary covers the training transcripts and that text; the character
n-gram LM of the test stage is fitted on the same pool.

Authors
 * MMSpeech plugin contributors 2026
"""

import logging
from collections import Counter
from pathlib import Path

import torch

from speechbrain_mmspeech.dataio.fileio import write_atomically
from speechbrain_mmspeech.dataio.manifests import read_csv_column
from speechbrain_mmspeech.export.folders import TOKENIZER_FILE
from speechbrain_mmspeech.text import normalize_text

logger = logging.getLogger(__name__)


def prepare_tokenizer(hparams):
    """Builds the character vocabulary once (``save_folder/tokenizer.ckpt``).

    The vocabulary covers the training transcripts and the files of
    ``tokenizer_extra_text`` (the text pool), so that the decoder can write
    characters that no labeled utterance contains.

    Arguments
    ---------
    hparams : dict
        ``save_folder``, ``train_csv``, ``tokenizer_extra_text``,
        ``tokenizer``, ``architecture`` (its ``text_vocab_size``).
    """
    path = Path(hparams["save_folder"]) / TOKENIZER_FILE
    if path.exists():
        return
    texts = list(read_csv_column(hparams["train_csv"], "transcript"))
    for text_file in hparams["tokenizer_extra_text"]:
        texts.extend(Path(text_file).read_text(encoding="utf-8").splitlines())
    tokenizer = hparams["tokenizer"]
    tokenizer.build(texts, hparams["architecture"]["text_vocab_size"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(path)


def report_unknown_characters(hparams, tokenizer):
    """Logs, per split, transcript characters outside the vocabulary.

    They are trained and scored as ``<unk>`` (and so always count as errors
    in the CER); this makes the count visible instead of silent.

    Arguments
    ---------
    hparams : dict
        ``train_csv``, ``valid_csv``, ``test_csv``.
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        The vocabulary.
    """
    for csv_key in ["train_csv", "valid_csv", "test_csv"]:
        unknown = Counter()
        for transcript in read_csv_column(hparams[csv_key], "transcript"):
            text = normalize_text(transcript)
            ids = tokenizer.encode_as_ids(text)
            unknown.update(
                char
                for char, index in zip(text, ids)
                if index == tokenizer.unk_index
            )
        if unknown:
            logger.warning(
                "%s: %d characters outside the vocabulary (%d distinct, "
                "e.g. %s) become <unk>",
                hparams[csv_key],
                sum(unknown.values()),
                len(unknown),
                "".join(char for char, _ in unknown.most_common(10)),
            )


def heldout_sentences(hparams):
    """The normalised dev and test transcripts.

    Arguments
    ---------
    hparams : dict
        ``valid_csv`` and ``test_csv``.

    Returns
    -------
    set of str
        The sentences that no text-only training may see.
    """
    sentences = set()
    for key in ["valid_csv", "test_csv"]:
        texts = read_csv_column(hparams[key], "transcript")
        sentences.update(normalize_text(text) for text in texts)
    return sentences - {""}


def read_text_pool(hparams):
    """Normalised sentences of ``text_files``, minus every dev/test one.

    Lines are normalised (``normalize_text``) and cut to
    ``max_text_chars`` characters; with ``text_files_have_ids`` the first
    field of each line (an utterance id, as in AISHELL-2's ``trans.txt``) is
    dropped. Empty lines and sentences of the labeled dev or test sets are
    left out. ``max_text_sentences`` keeps only the first ones.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters.

    Returns
    -------
    list of str
        The sentences, in file order.
    """
    excluded = heldout_sentences(hparams)
    sentences, n_excluded = [], 0
    limit = hparams["max_text_sentences"]
    for path in hparams["text_files"]:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if hparams["text_files_have_ids"]:
                    fields = line.split(maxsplit=1)
                    line = fields[1] if len(fields) == 2 else ""
                text = normalize_text(line)
                if not text:
                    continue
                if text in excluded:
                    n_excluded += 1
                    continue
                sentences.append(text[: hparams["max_text_chars"]])
                if limit and len(sentences) == limit:
                    break
    logger.info(
        "Text pool: %d sentences (%d dev/test sentences left out)",
        len(sentences),
        n_excluded,
    )
    return sentences


def prepare_ngram_lm(hparams):
    """Fits ``ngram_lm`` on the text pool once, if ``ngram_lm_weight`` > 0.

    The pool is ``read_text_pool``'s (dev and test sentences left out),
    encoded with the recipe's tokenizer. The fitted tables are cached as
    ``save_folder/ngram_lm_<order>gram.ckpt``: a rerun loads them.

    Arguments
    ---------
    hparams : dict
        ``ngram_lm_weight``, ``ngram_lm``, ``tokenizer`` (loaded),
        ``save_folder`` and what ``read_text_pool`` reads.

    Returns
    -------
    speechbrain_mmspeech.lm.ngram.NgramLM or None
        The fitted LM, or None when the weight is 0.
    """
    if hparams["ngram_lm_weight"] <= 0:
        return None
    ngram_lm = hparams["ngram_lm"]
    path = Path(hparams["save_folder"]) / f"ngram_lm_{ngram_lm.order}gram.ckpt"
    if path.exists():
        ngram_lm.load_state_dict(torch.load(path, map_location="cpu"))
        logger.info("Character %d-gram LM loaded from %s", ngram_lm.order, path)
        return ngram_lm
    tokenizer = hparams["tokenizer"]
    sentences = read_text_pool(hparams)
    ngram_lm.fit(tokenizer.encode_as_ids(text) for text in sentences)
    state = {key: value.cpu() for key, value in ngram_lm.state_dict().items()}
    write_atomically(path.parent, {path.name: lambda p: torch.save(state, p)})
    logger.info(
        "Character %d-gram LM of %d sentences written to %s",
        ngram_lm.order,
        len(sentences),
        path,
    )
    return ngram_lm
