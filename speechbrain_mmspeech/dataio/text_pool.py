"""The text pool, the character vocabulary and the held-out sentences.

The text pool (``text_files``) is every sentence of the given files that is
not a dev or test transcript (``heldout_sentences``); the character
vocabulary covers the training transcripts and that text; the character
n-gram LM of the test stage is fitted on the same pool. The Transformer LM's
training sentences (``training_sentences``) are checked against the same
held-out sentences, clause by clause.

Authors
 * MMSpeech plugin contributors 2026
"""

import logging
from collections import Counter
from pathlib import Path

import torch

from speechbrain_mmspeech.dataio.fileio import save_state_dict
from speechbrain_mmspeech.dataio.manifests import read_csv_column
from speechbrain_mmspeech.export.folders import TOKENIZER_FILE
from speechbrain_mmspeech.text import normalize_text, split_clauses

logger = logging.getLogger(__name__)

EXAMPLES_IN_ERRORS = 3  # held-out lines named in an error


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
    save_state_dict(ngram_lm, path)
    logger.info(
        "Character %d-gram LM of %d sentences written to %s",
        ngram_lm.order,
        len(sentences),
        path,
    )
    return ngram_lm


def read_training_lines(hparams):
    """The raw LM training lines, each with where it comes from.

    Arguments
    ---------
    hparams : dict
        ``text_files``, ``use_train_transcripts`` and ``train_csv``.

    Returns
    -------
    list of tuple
        ``(origin, line)`` pairs; ``origin`` is ``file:line``.
    """
    lines = []
    for path in hparams["text_files"]:
        with open(path, encoding="utf-8") as f:
            lines.extend(
                (f"{path}:{number}", line.rstrip("\n"))
                for number, line in enumerate(f, start=1)
            )
    if hparams["use_train_transcripts"]:
        csv_path = hparams["train_csv"]
        transcripts = read_csv_column(csv_path, "transcript")
        # Line 1 of the CSV is its header.
        lines.extend(
            (f"{csv_path}:{number}", text)
            for number, text in enumerate(transcripts, start=2)
        )
    return lines


def find_heldout_lines(lines, heldout):
    """Lines that are, or have a clause that is, a held-out sentence.

    Arguments
    ---------
    lines : list of tuple
        ``(origin, line)`` pairs.
    heldout : set of str
        Normalised held-out sentences.

    Returns
    -------
    list of tuple
        ``(origin, sentence)`` for each offending line.

    Example
    -------
    >>> lines = [
    ...     ("a:1", "今天 天气 很好。"),
    ...     ("a:2", "我们去，公园"),
    ...     ("a:3", "你好"),
    ... ]
    >>> find_heldout_lines(lines, {"今天天气很好", "公园"})
    [('a:1', '今天天气很好'), ('a:2', '公园')]
    """
    found = []
    for origin, line in lines:
        pieces = [normalize_text(line), *split_clauses(line)]
        match = next((piece for piece in pieces if piece in heldout), None)
        if match is not None:
            found.append((origin, match))
    return found


def training_sentences(hparams):
    """The normalised LM training sentences, checked against dev/test.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters.

    Returns
    -------
    list of str
        Non-empty sentences of at most ``max_sentence_chars`` characters.

    Raises
    ------
    ValueError
        If a dev or test transcript is a training sentence (unless
        ``drop_heldout_sentences``).
    """
    lines = read_training_lines(hparams)
    leaks = find_heldout_lines(lines, heldout_sentences(hparams))
    if leaks and not hparams["drop_heldout_sentences"]:
        examples = "; ".join(
            f"{origin}: {sentence}"
            for origin, sentence in leaks[:EXAMPLES_IN_ERRORS]
        )
        raise ValueError(
            f"{len(leaks)} LM training lines are (or contain as a clause) "
            f"dev/test transcripts, e.g. {examples}. The LM must not see the "
            "evaluation text: remove them, or set drop_heldout_sentences: "
            "True to leave them out."
        )
    leaked = {origin for origin, _ in leaks}
    if leaked:
        logger.warning("Left out %d dev/test sentences", len(leaked))
    sentences = [
        normalize_text(line) for origin, line in lines if origin not in leaked
    ]
    sentences = [text for text in sentences if text]
    kept = [s for s in sentences if len(s) <= hparams["max_sentence_chars"]]
    if len(kept) < len(sentences):
        logger.warning(
            "Left out %d sentences longer than %d characters",
            len(sentences) - len(kept),
            hparams["max_sentence_chars"],
        )
    return kept
