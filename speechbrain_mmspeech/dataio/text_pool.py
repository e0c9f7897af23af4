"""The text pool, the character vocabulary and the held-out sentences.

The text pool (``text_files``) is the sentences of the given files; the
character vocabulary covers the training transcripts and that text; the
character n-gram LM of the test stage is fitted on the same pool. The
Transformer LM trains on its own text files (``training_sentences``).

One policy keeps the dev and test transcripts (``heldout_sentences``) out
of all training text, the pool's and the LM's: ``HeldoutPolicy``. A line
that is, or has a clause that is, a held-out sentence is an error naming
its file and line, unless ``drop_heldout_sentences`` is set: then it is
left out, and counted in the log.

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


class HeldoutPolicy:
    """Keeps held-out (dev and test) sentences out of training text.

    A line is held out when its normalised text, or one of its clauses
    (``split_clauses``), is a held-out sentence. Such a line is an error,
    or, with ``drop``, left out and counted (``left_out``).

    Arguments
    ---------
    heldout : set of str
        Normalised held-out sentences (``heldout_sentences``).
    drop : bool
        Leave held-out lines out instead of raising.

    Example
    -------
    >>> policy = HeldoutPolicy({"今天天气很好", "公园"}, drop=True)
    >>> policy.sentence("a:1", "今天 天气 很好。")  # the line: left out
    >>> policy.sentence("a:2", "我们去，公园")  # a clause: left out
    >>> policy.sentence("a:3", "你 好！"), policy.left_out
    ('你好', 2)
    >>> try:
    ...     HeldoutPolicy({"公园"}, drop=False).sentence("a:2", "我们去，公园")
    ... except ValueError as error:
    ...     print(str(error).split(" (")[0])
    a:2: the training text holds the dev/test transcript 公园
    """

    def __init__(self, heldout, drop):
        self.heldout = heldout
        self.drop = drop
        self.left_out = 0

    def sentence(self, origin, line):
        """The normalised sentence of a line, or None if it is left out.

        Arguments
        ---------
        origin : str
            Where the line comes from (``file:line``), for the error.
        line : str
            A raw line of training text.

        Returns
        -------
        str or None
            ``normalize_text(line)`` (possibly empty), or None for a held-out
            line with ``drop``.

        Raises
        ------
        ValueError
            For a held-out line without ``drop``.
        """
        clauses = split_clauses(line)
        text = "".join(clauses)  # normalize_text(line)
        match = next((c for c in [text, *clauses] if c in self.heldout), None)
        if match is None:
            return text
        if not self.drop:
            raise ValueError(
                f"{origin}: the training text holds the dev/test transcript "
                f"{match} (as the line or one of its clauses). Training must "
                "not see the evaluation text: remove it, or set "
                "drop_heldout_sentences: True to leave such lines out."
            )
        self.left_out += 1
        return None


def read_text_pool(hparams):
    """Normalised sentences of ``text_files``, without dev/test text.

    Lines are normalised (``normalize_text``) and cut to
    ``max_text_chars`` characters; with ``text_files_have_ids`` the first
    field of each line (an utterance id, as in AISHELL-2's ``trans.txt``) is
    dropped. Empty lines are left out; dev or test text is kept out by
    ``HeldoutPolicy`` (``drop_heldout_sentences``). ``max_text_sentences``
    keeps only the first sentences.

    Arguments
    ---------
    hparams : dict
        The keys named above, and what ``heldout_sentences`` reads.

    Returns
    -------
    list of str
        The sentences, in file order.
    """
    policy = HeldoutPolicy(
        heldout_sentences(hparams), hparams["drop_heldout_sentences"]
    )
    sentences = []
    limit = hparams["max_text_sentences"]
    for path in hparams["text_files"]:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if hparams["text_files_have_ids"]:
                    fields = line.split(maxsplit=1)
                    line = fields[1] if len(fields) == 2 else ""
                text = policy.sentence(f"{path}:{number}", line)
                if not text:
                    continue
                sentences.append(text[: hparams["max_text_chars"]])
                if limit and len(sentences) == limit:
                    break
    logger.info(
        "Text pool: %d sentences (%d dev/test sentences left out)",
        len(sentences),
        policy.left_out,
    )
    return sentences


def prepare_ngram_lm(hparams):
    """Fits ``ngram_lm`` on the text pool once, if ``ngram_lm_weight`` > 0.

    The pool is ``read_text_pool``'s (without dev and test text),
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


def training_sentences(hparams):
    """The normalised LM training sentences, without dev/test text.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters (``drop_heldout_sentences``: see
        ``HeldoutPolicy``).

    Returns
    -------
    list of str
        Non-empty sentences of at most ``max_sentence_chars`` characters.
    """
    policy = HeldoutPolicy(
        heldout_sentences(hparams), hparams["drop_heldout_sentences"]
    )
    sentences = [
        policy.sentence(origin, line)
        for origin, line in read_training_lines(hparams)
    ]
    if policy.left_out:
        logger.warning("Left out %d dev/test sentences", policy.left_out)
    sentences = [text for text in sentences if text]
    kept = [s for s in sentences if len(s) <= hparams["max_sentence_chars"]]
    if len(kept) < len(sentences):
        logger.warning(
            "Left out %d sentences longer than %d characters",
            len(sentences) - len(kept),
            hparams["max_sentence_chars"],
        )
    return kept
