"""Training MMSpeech on SpeechBrain's ``Brain``: one Brain for every stage.

Every training batch is a ``MixedBatch``: one ``PaddedBatch`` per data pool,

- ``speech``: unpaired speech -> S2C (speech-to-code) and MSP (masked speech
  prediction), in one forward pass;
- ``paired``: labeled speech -> S2T (speech-to-text) and PP (phone CTC), in
  one forward pass;
- ``text``: unpaired text -> P2T (phone-to-text).

``MMSpeechBrain`` runs the forward pass of each pool present and sums the
tasks' losses (``speechbrain_mmspeech.training.tasks``, the only place losses are
computed) with ``task_weights``, divided by the number of sentences of the
batch (the official ``--sentence-avg``). The official stages differ only in
which pools their batches hold:

1. pre-training stage 1: text (P2T);
2. pre-training stage 2: speech, paired and text (all five tasks);
3. fine-tuning: paired (S2T + PP) plus about half as many text sentences
   (P2T), with validation, checkpoint averaging and test decoding.

Pre-training batches take a fixed number of items from each pool
(``ConcatDatasetBatchSampler``); fine-tuning batches take the paired
utterances of SpeechBrain's ``DynamicBatchSampler`` and add text sentences
to them (``TextMixingBatchSampler``). Both are functions of the epoch, so a
resumed run sees exactly the batches it had not trained on.

Under DDP (``torchrun``), every process trains on its own share of the
batches (Brain's ``DistributedSamplerWrapper``; ``schedule_length`` counts
one process' batches) and evaluates its share of the validation and test
batches, whose metrics are then gathered so that each utterance counts once
(``speechbrain_mmspeech.training.distributed``).

This module also holds the data side of the recipes: the datasets of the
three pools, the character vocabulary, held-out sentence filtering, the
character n-gram LM of the text pool and the schedule length.

Authors
 * MMSpeech plugin contributors 2026
"""

import csv
import itertools
import logging
import math
import re
from collections import Counter
from pathlib import Path

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.sampler import (
    ConcatDatasetBatchSampler,
    DistributedSamplerWrapper,
    DynamicBatchSampler,
    ReproducibleRandomSampler,
)

from speechbrain_mmspeech.dataio.fileio import write_atomically
from speechbrain_mmspeech.export.folders import TOKENIZER_FILE
from speechbrain_mmspeech.lobes.features import load_audio
from speechbrain_mmspeech.lobes.models.mmspeech import pack_memory
from speechbrain_mmspeech.lobes.models.transformer_lm import (
    LM_MODE_FUSION,
    LM_MODE_NONE,
    LM_MODE_RESCORING,
    rescore_nbest,
)
from speechbrain_mmspeech.text import normalize_text
from speechbrain_mmspeech.training.distributed import (
    DistributedBatchSamplerWrapper,
    ModelRunner,
    all_reduce_sum,
    gather_objects,
    shard_evaluation,
    unwrap,
    world_size,
)
from speechbrain_mmspeech.training.tasks import restrict_to_vocabulary

logger = logging.getLogger(__name__)

SPEECH, PAIRED, TEXT = "speech", "paired", "text"
POOLS = (SPEECH, PAIRED, TEXT)
TASKS_OF_POOL = {SPEECH: ("s2c", "msp"), PAIRED: ("s2t", "pp"), TEXT: ("p2t",)}
POOL_OF_TASK = {t: pool for pool, tasks in TASKS_OF_POOL.items() for t in tasks}
POOL_KEY = "pool"

# Settings that were renamed or removed: a command line that still uses one
# fails with the replacement instead of hyperpyyaml's "not found".
RENAMED_SETTINGS = {
    "ctc_weight": "pp_weight (the weight of the phone CTC task, PP)",
    "time_mask_prob": "s2t_time_mask_prob (time masking of S2T)",
    "s2t_text_only": (
        "nothing: S2T is always restricted to the text ids now "
        "(the official constraint_range); remove the option"
    ),
}


def load_hparams(argv):
    """Parses a recipe command line and loads its hyperparameters.

    Arguments
    ---------
    argv : list of str
        ``hparams.yaml --key=value ...`` as SpeechBrain recipes take it.

    Returns
    -------
    hparams_file : str
        The YAML file.
    run_opts : dict
        SpeechBrain's run options (device, precision, DDP ...).
    overrides : str
        The overrides, as YAML.
    hparams : dict
        The loaded hyperparameters.

    Raises
    ------
    ValueError
        If an override names a renamed or removed setting.
    """
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    for key in re.findall(r"^(\w+)\s*:", overrides or "", flags=re.M):
        if key in RENAMED_SETTINGS:
            raise ValueError(
                f"--{key} is no longer a setting; use {RENAMED_SETTINGS[key]}"
            )
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    return hparams_file, run_opts, overrides, hparams


# ================================================================ batches ===
class MixedBatch:
    """One batch made of a ``PaddedBatch`` per pool.

    Arguments
    ---------
    sub_batches : dict
        Pool name -> ``PaddedBatch``.

    Example
    -------
    >>> batch = MixedBatch(
    ...     {"text": PaddedBatch([{"id": "a", "x": torch.ones(2)}])}
    ... )
    >>> batch.id, TEXT in batch, SPEECH in batch, len(batch)
    (['a'], True, False, 1)
    """

    def __init__(self, sub_batches):
        self.sub_batches = sub_batches

    def __contains__(self, pool):
        """Whether the batch has a sub-batch of ``pool``."""
        return pool in self.sub_batches

    def __getitem__(self, pool):
        """The sub-batch of ``pool``."""
        return self.sub_batches[pool]

    def __len__(self):
        """Number of sentences over all sub-batches."""
        return sum(len(sub.id) for sub in self.sub_batches.values())

    @property
    def id(self):
        """Utterance and sentence ids of all sub-batches, pool by pool."""
        return [i for sub in self.sub_batches.values() for i in sub.id]

    def to(self, device):
        """Moves every sub-batch to ``device``; returns the batch."""
        for sub in self.sub_batches.values():
            sub.to(device)
        return self


def collate_pools(examples):
    """Collates examples into a ``MixedBatch``, grouped by their pool.

    Every dataset of ``pool_datasets`` gives its items a ``pool`` key; the
    examples of each pool become one ``PaddedBatch`` (in ``POOLS`` order).

    Arguments
    ---------
    examples : list of dict
        Items of the pool datasets.

    Returns
    -------
    MixedBatch
        The batch.

    Example
    -------
    >>> examples = [
    ...     {"id": "t1", "pool": "text", "x": torch.ones(2)},
    ...     {"id": "p1", "pool": "paired", "x": torch.ones(3)},
    ... ]
    >>> batch = collate_pools(examples)
    >>> batch["paired"].id, batch["text"].id
    (['p1'], ['t1'])
    """
    grouped = {}
    for example in examples:
        fields = {k: v for k, v in example.items() if k != POOL_KEY}
        grouped.setdefault(example[POOL_KEY], []).append(fields)
    return MixedBatch(
        {pool: PaddedBatch(grouped[pool]) for pool in POOLS if pool in grouped}
    )


class TextMixingBatchSampler(torch.utils.data.Sampler):
    """Adds unpaired text sentences to every batch of a paired sampler.

    The official fine-tuning keeps P2T on: a batch of ``B`` paired
    utterances gets ``ceil(text_ratio * B)`` text sentences. The text
    sentences are read in a random order drawn from ``seed`` and the epoch,
    continuing from batch to batch; their indices are offset by
    ``text_offset`` (the size of the paired dataset in front of them in a
    ``ConcatDataset``). ``set_epoch`` reaches the paired sampler too, so the
    whole epoch is a function of the epoch number.

    Arguments
    ---------
    paired_sampler : torch.utils.data.Sampler
        Yields lists of paired indices (e.g. ``DynamicBatchSampler``).
    text_size : int
        Number of text sentences.
    text_offset : int
        Index of the first text sentence in the concatenated dataset.
    text_ratio : float
        Text sentences per paired utterance.
    seed : int
        Seed of the text order.

    Example
    -------
    >>> paired = [[0, 1], [2, 3]]
    >>> sampler = TextMixingBatchSampler(paired, 10, 4, 0.5, seed=1)
    >>> batches = list(sampler)
    >>> [b[:2] for b in batches], [len(b) for b in batches]
    ([[0, 1], [2, 3]], [3, 3])
    >>> all(4 <= i < 14 for b in batches for i in b[2:])
    True
    """

    def __init__(
        self, paired_sampler, text_size, text_offset, text_ratio, seed
    ):
        self.paired_sampler = paired_sampler
        self.text_size = text_size
        self.text_offset = text_offset
        self.text_ratio = text_ratio
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch):
        """Sets the epoch of the text order and of the paired sampler."""
        self.epoch = epoch
        if hasattr(self.paired_sampler, "set_epoch"):
            self.paired_sampler.set_epoch(epoch)

    def __len__(self):
        """As many batches as the paired sampler."""
        return len(self.paired_sampler)

    def _text_order(self):
        """Endless text indices, reshuffled at every pass."""
        generator = torch.Generator().manual_seed(self.seed + 7919 * self.epoch)
        while True:
            yield from torch.randperm(self.text_size, generator=generator)

    def __iter__(self):
        """Paired indices, then the text indices, for every batch."""
        text = self._text_order()
        for paired in self.paired_sampler:
            n_text = math.ceil(self.text_ratio * len(paired))
            extra = [self.text_offset + int(next(text)) for _ in range(n_text)]
            yield [*paired, *extra]


# ============================================================ vocabulary ===
def read_csv_rows(csv_path, limit=None):
    """Reads the rows of a SpeechBrain CSV manifest, in file order.

    Arguments
    ---------
    csv_path : str or pathlib.Path
        The manifest.
    limit : int, optional
        Read at most this many rows.

    Returns
    -------
    list of dict
        One dict per row, column name to value (all strings).

    Example
    -------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = path.write_text("ID,wav\\nu1,a.wav\\nu2,b.wav\\n", encoding="utf-8")
    >>> read_csv_rows(path, limit=1)
    [{'ID': 'u1', 'wav': 'a.wav'}]
    """
    with open(csv_path, encoding="utf-8", newline="") as f:
        return list(itertools.islice(csv.DictReader(f), limit))


def read_csv_column(csv_path, column):
    """Reads one column of a SpeechBrain CSV manifest.

    Arguments
    ---------
    csv_path : str or pathlib.Path
        The manifest.
    column : str
        The column name.

    Returns
    -------
    list of str
        The column's values, in file order.
    """
    return [row[column] for row in read_csv_rows(csv_path)]


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


# ================================================================= pools ===
def _tag_pool(datasets, pool):
    """Gives every item of ``datasets`` a constant ``pool`` key."""

    @sb.utils.data_pipeline.takes("id")
    @sb.utils.data_pipeline.provides(POOL_KEY)
    def pool_pipeline(_):
        return pool

    sb.dataio.dataset.add_dynamic_item(datasets, pool_pipeline)


def speech_splits(hparams):
    """Train, valid and test sets of the manifests, with their audio.

    Arguments
    ---------
    hparams : dict
        ``train_csv``, ``valid_csv``, ``test_csv``, ``sorting``,
        ``min_duration``, ``max_duration``.

    Returns
    -------
    dict
        ``train``, ``valid`` and ``test`` ``DynamicItemDataset``, filtered
        by duration and sorted by it, with the 16 kHz waveform as ``sig``.
    """
    datasets = {}
    for split, csv_key in [
        ("train", "train_csv"),
        ("valid", "valid_csv"),
        ("test", "test_csv"),
    ]:
        dataset = sb.dataio.dataset.DynamicItemDataset.from_csv(
            csv_path=hparams[csv_key]
        )
        datasets[split] = dataset.filtered_sorted(
            sort_key="duration",
            reverse=hparams["sorting"] == "descending",
            key_min_value={"duration": hparams["min_duration"]},
            key_max_value={"duration": hparams["max_duration"]},
        )

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav):
        return load_audio(wav)

    sb.dataio.dataset.add_dynamic_item(list(datasets.values()), audio_pipeline)
    return datasets


def character_datasets(hparams):
    """Train, valid and test sets of speech and character ids (for CTC).

    Arguments
    ---------
    hparams : dict
        ``tokenizer`` (a ``CharTokenizer``) and the keys of
        ``speech_splits``.

    Returns
    -------
    dict
        ``train``, ``valid`` and ``test`` ``DynamicItemDataset`` with items
        ``id, sig, text, tokens`` (the normalised transcript and its
        character ids, without ``<s>`` or ``</s>``).
    """
    tokenizer = hparams["tokenizer"]
    datasets = speech_splits(hparams)
    all_sets = list(datasets.values())

    @sb.utils.data_pipeline.takes("transcript")
    @sb.utils.data_pipeline.provides("text", "tokens")
    def text_pipeline(transcript):
        text = normalize_text(transcript)
        yield text
        yield torch.LongTensor(tokenizer.encode_as_ids(text))

    sb.dataio.dataset.add_dynamic_item(all_sets, text_pipeline)
    sb.dataio.dataset.set_output_keys(all_sets, ["id", "sig", "text", "tokens"])
    return datasets


def paired_datasets(hparams):
    """Train, valid and test sets of labeled speech (S2T + PP).

    Arguments
    ---------
    hparams : dict
        ``train_csv``, ``valid_csv``, ``test_csv``, ``tokenizer``,
        ``pinyin_tokenizer``, ``sorting``, ``min_duration``,
        ``max_duration``.

    Returns
    -------
    dict
        ``train``, ``valid`` and ``test`` ``DynamicItemDataset`` with items
        ``id, pool, sig, text, tokens_bos, tokens_eos, phone_targets``.
    """
    tokenizer = hparams["tokenizer"]
    pinyin = hparams["pinyin_tokenizer"]
    datasets = speech_splits(hparams)
    all_sets = list(datasets.values())

    @sb.utils.data_pipeline.takes("transcript")
    @sb.utils.data_pipeline.provides(
        "text", "tokens_bos", "tokens_eos", "phone_targets"
    )
    def text_pipeline(transcript):
        text = normalize_text(transcript)
        yield text
        tokens = tokenizer.encode_as_ids(text)
        yield torch.LongTensor([tokenizer.bos_index] + tokens)
        yield torch.LongTensor(tokens + [tokenizer.eos_index])
        phones = pinyin.encode_as_ids(text)
        yield torch.LongTensor(pinyin.ids_to_ctc_targets(phones))

    sb.dataio.dataset.add_dynamic_item(all_sets, text_pipeline)
    _tag_pool(all_sets, PAIRED)
    sb.dataio.dataset.set_output_keys(
        all_sets,
        [
            "id",
            POOL_KEY,
            "sig",
            "text",
            "tokens_bos",
            "tokens_eos",
            "phone_targets",
        ],
    )
    return datasets


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


def text_dataset(hparams):
    """Unpaired text with its masked phones (P2T).

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters (``text_files`` and the settings of
        ``read_text_pool``, ``tokenizer``, ``pinyin_tokenizer``,
        ``p2t_task``).

    Returns
    -------
    speechbrain.dataio.dataset.DynamicItemDataset
        Items ``id, pool, phones, tokens_bos, tokens_eos``; the phones are
        masked afresh every time an item is read.
    """
    data = {
        f"text{index:08d}": {"text": text}
        for index, text in enumerate(read_text_pool(hparams))
    }
    dataset = sb.dataio.dataset.DynamicItemDataset(data)
    tokenizer = hparams["tokenizer"]
    pinyin = hparams["pinyin_tokenizer"]
    task = hparams["p2t_task"]

    @sb.utils.data_pipeline.takes("text")
    @sb.utils.data_pipeline.provides("phones", "tokens_bos", "tokens_eos")
    def text_pipeline(text):
        # A sentence without any pronounceable character still gets one
        # (masked) phone, so that the encoder never sees an empty input.
        phones = pinyin.encode_as_ids(text) or [task.mask_index]
        yield task.mask_phones(phones)
        tokens = tokenizer.encode_as_ids(text)
        yield torch.LongTensor([tokenizer.bos_index] + tokens)
        yield torch.LongTensor(tokens + [tokenizer.eos_index])

    sb.dataio.dataset.add_dynamic_item([dataset], text_pipeline)
    _tag_pool([dataset], TEXT)
    sb.dataio.dataset.set_output_keys(
        [dataset], ["id", POOL_KEY, "phones", "tokens_bos", "tokens_eos"]
    )
    return dataset


def speech_dataset(hparams):
    """Unpaired speech with its S2C targets, computed by the quantizer.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters (``unpaired_csv``, ``quantizer``,
        ``compute_features``, ``s2c_task``, ``max_code_length``, durations).

    Returns
    -------
    speechbrain.dataio.dataset.DynamicItemDataset
        Items ``id, pool, sig, code_bos, code_eos``.
    """
    dataset = sb.dataio.dataset.DynamicItemDataset.from_csv(
        csv_path=hparams["unpaired_csv"]
    )
    dataset = dataset.filtered_sorted(
        key_min_value={"duration": hparams["min_duration"]},
        key_max_value={"duration": hparams["max_duration"]},
    )
    quantizer = hparams["quantizer"]
    fbank = hparams["compute_features"]
    task = hparams["s2c_task"]

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav):
        return load_audio(wav)

    @sb.utils.data_pipeline.takes("sig")
    @sb.utils.data_pipeline.provides("code_bos", "code_eos")
    def code_pipeline(sig):
        codes = quantizer(fbank.utterance_fbank(sig))
        yield from task.targets(codes[: hparams["max_code_length"]])

    sb.dataio.dataset.add_dynamic_item([dataset], audio_pipeline)
    sb.dataio.dataset.add_dynamic_item([dataset], code_pipeline)
    _tag_pool([dataset], SPEECH)
    sb.dataio.dataset.set_output_keys(
        [dataset], ["id", POOL_KEY, "sig", "code_bos", "code_eos"]
    )
    return dataset


def active_pools(hparams):
    """Pools with a positive batch share, checked against task weights.

    A pool is on when ``<pool>_batch_size`` is above 0. Fine-tuning (the
    hyperparameters have ``text_batch_ratio``) always has labeled speech,
    and text when ``text_batch_ratio`` is above 0.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters.

    Returns
    -------
    list of str
        Active pool names, in ``POOLS`` order.

    Raises
    ------
    ValueError
        If no pool is active, or an active pool has no weighted task.

    Example
    -------
    >>> hparams = {"speech_batch_size": 0, "paired_batch_size": 0}
    >>> hparams.update(text_batch_size=4, task_weights={"p2t": 1.0})
    >>> active_pools(hparams)
    ['text']
    >>> active_pools({"text_batch_ratio": 0, "task_weights": {"s2t": 1.0}})
    ['paired']
    """
    sizes = {pool: hparams.get(f"{pool}_batch_size", 0) or 0 for pool in POOLS}
    if "text_batch_ratio" in hparams:  # fine-tuning: labeled speech always
        sizes[PAIRED] = 1
        sizes[TEXT] = hparams["text_batch_ratio"]
    pools = [pool for pool in POOLS if sizes[pool] > 0]
    if not pools:
        raise ValueError("Every pool has batch size 0: nothing to train on")
    weights = hparams["task_weights"]
    for pool in pools:
        if not any(weights.get(task, 0) > 0 for task in TASKS_OF_POOL[pool]):
            raise ValueError(
                f"Pool {pool} is on but all its tasks "
                f"{TASKS_OF_POOL[pool]} have weight 0"
            )
    return pools


def fixed_mix_loader(hparams, datasets):
    """Pre-training batches: a fixed number of items from each pool.

    An epoch ends when the first pool runs out (SpeechBrain's
    ``ConcatDatasetBatchSampler``); every pool is reshuffled per epoch.

    Arguments
    ---------
    hparams : dict
        ``<pool>_batch_size``, ``seed``, ``num_workers``.
    datasets : dict
        Pool name -> dataset, in ``POOLS`` order.

    Returns
    -------
    dataset : torch.utils.data.ConcatDataset
        The pools, concatenated.
    loader_kwargs : dict
        ``batch_sampler``, ``collate_fn`` and ``num_workers``.
    """
    pools = list(datasets)
    batch_sizes = [hparams[f"{pool}_batch_size"] for pool in pools]
    for pool, size in zip(pools, batch_sizes):
        if len(datasets[pool]) < size:
            raise ValueError(
                f"Pool {pool} has {len(datasets[pool])} items, fewer than "
                f"its batch size {size}"
            )
    samplers = [
        ReproducibleRandomSampler(datasets[pool], seed=hparams["seed"] + k)
        for k, pool in enumerate(pools)
    ]
    sampler = ConcatDatasetBatchSampler(samplers, batch_sizes)
    logger.info(
        "Batches: %s per pool, %d batches per epoch",
        dict(zip(pools, batch_sizes)),
        len(sampler),
    )
    dataset = torch.utils.data.ConcatDataset(list(datasets.values()))
    loader_kwargs = {
        "batch_sampler": sampler,
        "collate_fn": collate_pools,
        "num_workers": hparams["num_workers"],
    }
    return dataset, loader_kwargs


def paired_loader_kwargs(hparams, dataset, train, collate_fn=collate_pools):
    """Loader options of a paired set: dynamic batching or fixed sizes.

    Arguments
    ---------
    hparams : dict
        ``dynamic_batching`` and the sampler or loader options.
    dataset : speechbrain.dataio.dataset.DynamicItemDataset
        The paired set.
    train : bool
        Training (shuffled) or evaluation options.
    collate_fn : callable
        How examples become a batch: ``collate_pools`` (a ``MixedBatch``,
        for ``MMSpeechBrain``) or SpeechBrain's ``PaddedBatch``.

    Returns
    -------
    dict
        Loader keyword arguments (with ``collate_fn``). Under DDP, the
        evaluation batches are split between the processes
        (``shard_evaluation``); Brain splits the training batches itself.
    """
    kwargs = {
        "collate_fn": collate_fn,
        "num_workers": hparams["num_workers"],
    }
    if not hparams["dynamic_batching"]:
        key = "train_dataloader_opts" if train else "valid_dataloader_opts"
        kwargs = {**dict(hparams[key]), "collate_fn": collate_fn}
    else:
        key = (
            "dynamic_batch_sampler_train"
            if train
            else "dynamic_batch_sampler_valid"
        )
        kwargs["batch_sampler"] = DynamicBatchSampler(
            dataset, length_func=lambda x: x["duration"], **hparams[key]
        )
    return kwargs if train else shard_evaluation(dataset, kwargs)


def finetuning_loader(hparams, paired_train, text=None):
    """Fine-tuning batches: paired utterances, plus text if ``text``.

    Arguments
    ---------
    hparams : dict
        Loader options, ``text_batch_ratio`` and ``seed``.
    paired_train : speechbrain.dataio.dataset.DynamicItemDataset
        The labeled training set.
    text : speechbrain.dataio.dataset.DynamicItemDataset
        The text pool (None: paired only).

    Returns
    -------
    dataset : torch.utils.data.Dataset
        The training set (paired, then text).
    loader_kwargs : dict
        ``batch_sampler``, ``collate_fn`` and ``num_workers``.
    """
    kwargs = paired_loader_kwargs(hparams, paired_train, train=True)
    if text is None:
        return paired_train, kwargs
    if "batch_sampler" not in kwargs:
        raise ValueError(
            "Text mixing needs a batch sampler: set dynamic_batching: True"
        )
    kwargs["batch_sampler"] = TextMixingBatchSampler(
        kwargs["batch_sampler"],
        text_size=len(text),
        text_offset=len(paired_train),
        text_ratio=hparams["text_batch_ratio"],
        seed=hparams["seed"],
    )
    dataset = torch.utils.data.ConcatDataset([paired_train, text])
    return dataset, kwargs


def schedule_length(hparams, n_batches, run_opts, processes=None):
    """Number of updates and of warm-up updates for the whole run.

    Under DDP each of the ``processes`` trains on ``ceil(n_batches /
    processes)`` of an epoch's batches (Brain's ``DistributedSamplerWrapper``
    pads the last round), and every process steps the schedule once per
    update, so the schedule counts one process' batches.

    Arguments
    ---------
    hparams : dict
        ``number_of_epochs`` and ``warmup_fraction``.
    n_batches : int
        Batches per epoch, over all processes.
    run_opts : dict
        SpeechBrain run options (``grad_accumulation_factor``).
    processes : int, optional
        Number of DDP processes (default: the current world size).

    Returns
    -------
    tuple of int
        ``(updates, warm-up updates)``.

    Example
    -------
    >>> schedule_length(
    ...     {"number_of_epochs": 10, "warmup_fraction": 0.1}, 15, {}
    ... )
    (150, 15)
    >>> schedule_length(
    ...     {"number_of_epochs": 10, "warmup_fraction": 0.1}, 15, {}, 2
    ... )
    (80, 8)
    """
    processes = processes or world_size()
    per_process = math.ceil(n_batches / processes)
    accumulation = run_opts.get("grad_accumulation_factor", 1) or 1
    updates = hparams["number_of_epochs"] * math.ceil(
        per_process / accumulation
    )
    warmup = int(hparams["warmup_fraction"] * updates)
    logger.info("Schedule: %d updates, %d warm-up", updates, warmup)
    return updates, warmup


def load_pretrained(model, path):
    """Starts from a pre-trained MMSpeech state dict (e.g. a model.ckpt).

    Arguments
    ---------
    model : torch.nn.Module
        The model to fill.
    path : str or pathlib.Path
        A ``torch.save``d state dict of the same architecture.

    Raises
    ------
    ValueError
        If the file holds parameters the model does not have.
    """
    state = torch.load(path, map_location="cpu")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise ValueError(f"{path}: unexpected parameters {unexpected[:5]} ...")
    logger.info(
        "Loaded %s (%d parameters left as initialised)", path, len(missing)
    )


# ================================================================ brains ===
def gather_error_rate_stats(metric):
    """Collects every process' utterances into an ``ErrorRateStats``.

    Under DDP each process scored its own share of an evaluation set
    (``shard_evaluation``); afterwards every process holds the details of
    all utterances, in utterance-id order, so that ``summarize`` gives the
    error rate of the whole set. Without DDP it only sorts them.

    Arguments
    ---------
    metric : speechbrain.utils.metric_stats.ErrorRateStats
        Updated in place.

    Example
    -------
    >>> from speechbrain.utils.metric_stats import ErrorRateStats
    >>> metric = ErrorRateStats()
    >>> metric.append(["b", "a"], [["x"], ["y"]], [["x"], ["z"]])
    >>> gather_error_rate_stats(metric)
    >>> metric.ids, metric.summarize("error_rate")
    (['a', 'b'], 50.0)
    """
    shards = gather_objects(list(zip(metric.ids, metric.scores)))
    pairs = sorted(
        (pair for shard in shards for pair in shard), key=lambda p: p[0]
    )
    metric.ids = [utterance for utterance, _ in pairs]
    metric.scores = [score for _, score in pairs]


class ScheduledBrain(sb.Brain):
    """A ``Brain`` that steps ``hparams.lr_annealing`` after every update.

    When ``schedule_length`` (updates, warm-up updates) is set, the recovered
    scheduler keeps its step count but takes that total and warm-up, computed
    for the current ``number_of_epochs``, so extending a finished run keeps
    learning. The base of ``MMSpeechBrain`` and of the LM recipe's Brain.
    """

    schedule_length = None

    def on_fit_start(self):
        """Recovers, then sizes the schedule for this run's epoch count."""
        super().on_fit_start()
        if self.schedule_length is not None:
            scheduler = self.hparams.lr_annealing
            scheduler.num_training_steps, scheduler.num_warmup_steps = (
                self.schedule_length
            )

    def plan_schedule(self, hparams, train_set, loader_kwargs, run_opts):
        """Sets ``train_sampler`` and ``schedule_length`` for a training run.

        Brain calls ``set_epoch`` only on ``train_sampler``: with it, the
        batch order is a function of the epoch, so a resumed run skips
        exactly the batches it had trained on, and each epoch reshuffles.

        Arguments
        ---------
        hparams : dict
            ``number_of_epochs`` and ``warmup_fraction``.
        train_set : torch.utils.data.Dataset
            The training set.
        loader_kwargs : dict
            Its loader's options: a ``batch_sampler``, or a ``batch_size``.
        run_opts : dict
            SpeechBrain run options (``grad_accumulation_factor``).
        """
        sampler = loader_kwargs.get("batch_sampler")
        self.train_sampler = sampler
        if sampler is not None:
            n_batches = len(sampler)
        else:
            n_batches = math.ceil(len(train_set) / loader_kwargs["batch_size"])
        self.schedule_length = schedule_length(hparams, n_batches, run_opts)

    def _train_loader_specifics(self, dataset, loader_kwargs):
        """Brain's, with a DDP batch-sampler wrapper that works for any size.

        See ``DistributedBatchSamplerWrapper``: the wrapper Brain builds
        gets that (state-compatible) class.
        """
        loader_kwargs = super()._train_loader_specifics(dataset, loader_kwargs)
        wrapper = loader_kwargs.get("batch_sampler")
        if type(wrapper) is DistributedSamplerWrapper:
            wrapper.__class__ = DistributedBatchSamplerWrapper
        return loader_kwargs

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Steps the learning-rate schedule after each optimizer update."""
        if should_step:
            self.hparams.lr_annealing(self.optimizer)


class MMSpeechBrain(ScheduledBrain):
    """The MMSpeech tasks on mixed batches (see the module docstring).

    Training batches may hold any of the three pools; validation and test
    batches hold labeled speech, scored by S2T accuracy, the loss, and (on
    every ``valid_search_interval``-th epoch and at test) the CER of the
    beam search. With a validation set, checkpoints are kept by accuracy
    and the best ``avg_checkpoints`` are averaged before testing; without
    one (pre-training), a checkpoint is written at the end of every epoch.

    The hyperparameters it reads: ``task_weights``, the task objects
    (``p2t_task``, ``s2c_task``, ``msp_task``, ``pp_task``, ``s2t_task``),
    ``task_losses`` (a ``TaskLossTracker``), ``compute_features``,
    ``architecture``, ``epoch_counter``, ``train_logger``; with validation
    ``beam_search`` (a partial searcher, see ``searcher``),
    ``valid_beam_size``, ``beam_size``, ``test_scorer``, ``lm_mode`` (with
    ``lm_scorer``, or ``rescorer`` and ``rescoring_topk``), ``tokenizer``,
    ``acc_computer``, ``cer_computer``, ``avg_checkpoints``,
    ``valid_search_interval``, ``cer_file``.

    Under DDP, ``modules["model"]`` is put in a ``ModelRunner``, so that a
    training step's forward passes (of every pool) are one call of the DDP
    module; ``self.model`` is the bare model, which validation and test use
    (no gradients, so no DDP). Every process evaluates its share of the
    batches (``shard_evaluation``) and the stage ends with the metrics of
    all of them. The training loss logged is the mean over the processes.

    Arguments
    ---------
    modules : dict
        ``model`` (an ``MMSpeech``) and ``normalize``.
    *args : tuple
        The other arguments of ``speechbrain.Brain``.
    **kwargs : dict
        The other keyword arguments of ``speechbrain.Brain``.
    """

    validates = False

    def __init__(self, modules=None, *args, **kwargs):
        modules = dict(modules)
        modules["model"] = ModelRunner(modules["model"])
        super().__init__(modules, *args, **kwargs)
        self._searchers = {}

    @property
    def model(self):
        """The bare ``MMSpeech`` (outside the runner and the DDP wrapper)."""
        return unwrap(self.modules.model).model

    def fit(self, epoch_counter, train_set, valid_set=None, **kwargs):
        """``Brain.fit``, remembering whether there is a validation set."""
        self.validates = valid_set is not None
        return super().fit(epoch_counter, train_set, valid_set, **kwargs)

    # ------------------------------------------------------------ forward
    def compute_forward(self, batch, stage):
        """Runs the forward pass of every sub-batch of ``batch``.

        Training goes through the (DDP-wrapped) runner, evaluation through
        the bare model.
        """
        batch = batch.to(self.device)
        if stage == sb.Stage.TRAIN:
            return self.modules.model(self._forward_pools, batch, stage)
        return self._forward_pools(self.model, batch, stage)

    def _forward_pools(self, model, batch, stage):
        """The forward passes of ``batch``'s pools through ``model``."""
        hparams = self.hparams
        outputs = {}
        if SPEECH in batch:
            sub = batch[SPEECH]
            feats, wav_lens = self._features(sub)
            teacher = None
            if hparams.task_weights["msp"] > 0:
                teacher = hparams.msp_task.teacher_logits(
                    model.encoder, feats, wav_lens
                )
            logits, encoded = hparams.s2c_task.forward(
                model, feats, wav_lens, sub.code_bos.data
            )
            outputs[SPEECH] = (logits, encoded, teacher)
        if PAIRED in batch:
            sub = batch[PAIRED]
            feats, wav_lens = self._features(sub)
            tokens_bos = sub.tokens_bos.data
            if stage == sb.Stage.TRAIN:
                outputs[PAIRED] = hparams.s2t_task.forward(
                    model, feats, wav_lens, tokens_bos
                )
            else:
                outputs[PAIRED] = model(feats, wav_lens, tokens_bos)
                hyps = None
                if self._decodes(stage):
                    memory = pack_memory(outputs[PAIRED][2])
                    hyps = self._search(memory, wav_lens, stage)
                outputs["hyps"] = hyps
        if TEXT in batch:
            sub = batch[TEXT]
            phones, phone_lens = sub.phones
            outputs[TEXT] = hparams.p2t_task.forward(
                model, phones, phone_lens, sub.tokens_bos.data
            )
        return outputs

    def _features(self, sub_batch):
        """Normalised fbank of a speech sub-batch, and relative lengths."""
        wavs, wav_lens = sub_batch.sig
        feats = self.hparams.compute_features(wavs, wav_lens)
        return self.modules.normalize(feats, wav_lens), wav_lens

    def searcher(self, stage):
        """The beam search of a stage, built once from ``beam_search``.

        Validation searches with ``valid_beam_size`` and the decoder alone;
        test with ``beam_size`` and ``test_scorer``, or, as ``lm_mode``
        says, ``lm_scorer`` (fusion) or the ``rescoring_topk`` best
        hypotheses (rescoring).

        Arguments
        ---------
        stage : speechbrain.Stage
            ``VALID`` or ``TEST``.

        Returns
        -------
        speechbrain_mmspeech.decoders.seq2seq.MMSpeechBeamSearcher
        """
        mode = self.hparams.lm_mode if stage == sb.Stage.TEST else None
        key = (stage, mode)
        if key not in self._searchers:
            self._searchers[key] = self._build_searcher(stage, mode)
        return self._searchers[key]

    def _build_searcher(self, stage, lm_mode):
        """Completes the ``beam_search`` partial for a stage (see above)."""
        hparams = self.hparams
        if stage != sb.Stage.TEST:
            return hparams.beam_search(beam_size=hparams.valid_beam_size)
        if lm_mode == LM_MODE_RESCORING:
            return hparams.beam_search(
                beam_size=hparams.beam_size,
                scorer=hparams.test_scorer,
                return_topk=True,
                topk=min(hparams.rescoring_topk, hparams.beam_size),
            )
        scorer = (
            hparams.lm_scorer
            if lm_mode == LM_MODE_FUSION
            else hparams.test_scorer
        )
        return hparams.beam_search(beam_size=hparams.beam_size, scorer=scorer)

    def _search(self, memory, wav_lens, stage):
        """Beam search; at test, with what ``lm_mode`` names."""
        search = self.searcher(stage)
        if stage == sb.Stage.TEST and self.hparams.lm_mode == LM_MODE_RESCORING:
            topk_hyps, topk_lengths, topk_scores, _ = search(memory, wav_lens)
            hyps, _ = rescore_nbest(
                self.hparams.rescorer,
                self.hparams.tokenizer,
                topk_hyps,
                topk_lengths,
                topk_scores,
            )
            return hyps
        hyps, _, _, _ = search(memory, wav_lens)
        return hyps

    def _decodes(self, stage):
        """Beam search on every test batch and every N-th validation."""
        if stage == sb.Stage.TEST:
            return True
        epoch = self.hparams.epoch_counter.current
        return epoch % self.hparams.valid_search_interval == 0

    # ---------------------------------------------------------- objectives
    def compute_objectives(self, predictions, batch, stage):
        """Weighted sum of the tasks' summed losses, per sentence."""
        hparams = self.hparams
        losses = {}
        if SPEECH in predictions:
            logits, encoded, teacher = predictions[SPEECH]
            code_eos, code_lens = batch[SPEECH].code_eos
            losses["s2c"] = hparams.s2c_task.loss(logits, code_eos, code_lens)
            if teacher is not None:
                losses["msp"] = hparams.msp_task.loss(
                    self.model.encoder, encoded, teacher
                )
        if PAIRED in predictions:
            logits, phone_logits, encoded = predictions[PAIRED]
            sub = batch[PAIRED]
            tokens_eos, token_lens = sub.tokens_eos
            phones, phone_lens = sub.phone_targets
            losses["s2t"] = hparams.s2t_task.loss(
                logits, tokens_eos, token_lens
            )
            losses["pp"] = hparams.pp_task.loss(
                phone_logits, encoded.speech_lengths, phones, phone_lens
            )
            if stage != sb.Stage.TRAIN:
                self._update_metrics(logits, sub, predictions["hyps"])
                self.eval_batches += 1
        if TEXT in predictions:
            tokens_eos, token_lens = batch[TEXT].tokens_eos
            losses["p2t"] = hparams.p2t_task.loss(
                predictions[TEXT], tokens_eos, token_lens
            )
        weights = hparams.task_weights
        loss = sum(weights[task] * value for task, value in losses.items())
        if stage == sb.Stage.TRAIN:
            for task, value in losses.items():
                sentences = len(batch[POOL_OF_TASK[task]].id)
                hparams.task_losses.update(task, value.detach(), sentences)
        return loss / len(batch)

    def _update_metrics(self, logits, sub_batch, hyps):
        """S2T accuracy and, when decoded, the CER of a paired batch."""
        tokens_eos, token_lens = sub_batch.tokens_eos
        logits = restrict_to_vocabulary(
            logits, self.hparams.architecture["text_vocab_size"]
        )
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        self.acc_metric.append(log_probs, tokens_eos, token_lens)
        if hyps is not None:
            tokenizer = self.hparams.tokenizer
            predicted = [list(tokenizer.decode_ids(hyp)) for hyp in hyps]
            targets = [list(text) for text in sub_batch.text]
            self.cer_metric.append(sub_batch.id, predicted, targets)

    # -------------------------------------------------------------- stages
    def on_stage_start(self, stage, epoch=None):
        """Fresh metrics; per-task losses reset at every training epoch."""
        if stage == sb.Stage.TRAIN:
            # A run resumed inside an epoch keeps the recovered sums.
            if self.step == 0:
                self.hparams.task_losses.reset()
            return
        self.acc_metric = self.hparams.acc_computer()
        self.cer_metric = self.hparams.cer_computer()
        self.eval_batches = 0
        if stage == sb.Stage.TEST:
            for name in ["lm_model", "ngram_lm"]:
                language_model = getattr(self.hparams, name, None)
                if language_model is not None:
                    language_model.to(self.device)

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs every task's loss, accuracy and CER; checkpoints."""
        if stage == sb.Stage.TRAIN:
            self.train_stats = self._gather_train_stats(stage_loss)
            if not self.validates:
                self._end_unvalidated_epoch(epoch)
            return
        stage_loss = self._gather_metrics(stage_loss)
        stats = {"loss": stage_loss, "ACC": self.acc_metric.summarize()}
        if self._decodes(stage):
            stats["CER"] = self.cer_metric.summarize("error_rate")
        if stage == sb.Stage.VALID:
            lr = self.optimizer.param_groups[0]["lr"]
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(
                meta={"ACC": stats["ACC"], "epoch": epoch},
                max_keys=["ACC"],
                num_to_keep=self.hparams.avg_checkpoints,
            )
        else:
            meta = {"Epoch loaded": self.hparams.epoch_counter.current}
            self.hparams.train_logger.log_stats(
                stats_meta={**meta, **self.test_meta()}, test_stats=stats
            )
            if sb.utils.distributed.if_main_process():
                with open(self.hparams.cer_file, "w", encoding="utf-8") as w:
                    self.cer_metric.write_stats(w)
            self.test_stats = stats

    def _gather_train_stats(self, stage_loss):
        """Training loss and task losses over every process.

        Every process trains on as many batches (Brain pads the last
        round), so the loss is the mean of the processes' means.
        """
        tracker = self.hparams.task_losses
        tasks = sorted(POOL_OF_TASK)  # the same list on every process
        sums = all_reduce_sum(
            [stage_loss]
            + [tracker.totals.get(task, 0.0) for task in tasks]
            + [tracker.sentences.get(task, 0) for task in tasks]
        )
        totals, sentences = sums[1 : 1 + len(tasks)], sums[1 + len(tasks) :]
        return {
            "loss": sums[0] / world_size(),
            **{
                task: total / count
                for task, total, count in zip(tasks, totals, sentences)
                if count > 0
            },
        }

    def _gather_metrics(self, stage_loss):
        """Accuracy, CER and loss of every process' evaluation batches.

        Each process scored its own share of the set (``shard_evaluation``):
        the accuracy counts are summed, the CER details of all utterances
        collected (in utterance-id order) and the loss averaged over all
        batches. Returns the loss; the metrics are updated in place.
        """
        if world_size() == 1:
            return stage_loss
        acc = self.acc_metric
        acc.correct, acc.total, loss_sum, batches = all_reduce_sum(
            [
                acc.correct,
                acc.total,
                stage_loss * self.eval_batches,
                self.eval_batches,
            ]
        )
        gather_error_rate_stats(self.cer_metric)
        return loss_sum / max(batches, 1)

    def test_meta(self):
        """What the test log line says about the decoding settings."""
        meta = {}
        phone_ctc_weight = getattr(self.hparams, "phone_ctc_weight", 0)
        if phone_ctc_weight:
            meta["phone CTC weight"] = phone_ctc_weight
        ngram_lm_weight = getattr(self.hparams, "ngram_lm_weight", 0)
        if ngram_lm_weight:
            meta["n-gram LM weight"] = ngram_lm_weight
            meta["n-gram order"] = self.hparams.ngram_order
        lm_mode = getattr(self.hparams, "lm_mode", LM_MODE_NONE)
        if lm_mode != LM_MODE_NONE:
            meta["LM"] = lm_mode
            meta["LM weight"] = self.hparams.lm_weight
        return meta

    def _end_unvalidated_epoch(self, epoch):
        """Logs and checkpoints an epoch of a run without validation."""
        lr = self.optimizer.param_groups[0]["lr"]
        self.hparams.train_logger.log_stats(
            stats_meta={"epoch": epoch, "lr": lr}, train_stats=self.train_stats
        )
        # Brain resets these right after this hook; resetting them before
        # the end-of-epoch checkpoint keeps the next epoch's running average
        # clean when a run resumes from it.
        self.step, self.avg_train_loss = 0, 0.0
        self.checkpointer.save_and_keep_only(
            meta={"loss": self.train_stats["loss"], "epoch": epoch},
            num_to_keep=self.hparams.keep_checkpoints,
        )

    def on_evaluate_start(self, max_key=None, min_key=None):
        """Averages the best checkpoints into the model before testing."""
        super().on_evaluate_start()
        average_best_checkpoints(
            self.checkpointer,
            self.hparams.model,
            self.hparams.avg_checkpoints,
            max_key=max_key,
            min_key=min_key,
        )


def average_best_checkpoints(
    checkpointer, model, count, max_key=None, min_key=None
):
    """Loads the average of the best checkpoints' ``model`` into ``model``.

    Arguments
    ---------
    checkpointer : speechbrain.utils.checkpoints.Checkpointer
        Its checkpoints have a ``model`` recoverable.
    model : torch.nn.Module
        That recoverable (the bare module, not a DDP wrapper).
    count : int
        How many of the best checkpoints to average.
    max_key : str
        Meta key to maximise (e.g. ``"ACC"``).
    min_key : str
        Meta key to minimise (e.g. ``"CER"``).

    Returns
    -------
    int
        The number of checkpoints averaged (0: none found, model unchanged).

    Example
    -------
    >>> from speechbrain_mmspeech.training.checkpoints import AtomicCheckpointer
    >>> model = torch.nn.Linear(1, 1, bias=False)
    >>> checkpointer = AtomicCheckpointer(
    ...     getfixture("tmpdir"), {"model": model}
    ... )
    >>> for value, cer in [(1.0, 9.0), (2.0, 5.0), (4.0, 3.0)]:
    ...     _ = model.weight.data.fill_(value)
    ...     _ = checkpointer.save_checkpoint(meta={"CER": cer})
    >>> average_best_checkpoints(checkpointer, model, 2, min_key="CER")
    2
    >>> model.weight.item()
    3.0
    """
    checkpoints = checkpointer.find_checkpoints(
        max_key=max_key, min_key=min_key, max_num_checkpoints=count
    )
    if not checkpoints:
        return 0
    averaged = sb.utils.checkpoints.average_checkpoints(
        checkpoints, recoverable_name="model"
    )
    model.load_state_dict(averaged, strict=True)
    logger.info("Averaged %d checkpoints for testing", len(checkpoints))
    return len(checkpoints)
