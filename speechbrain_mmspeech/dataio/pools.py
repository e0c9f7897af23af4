"""The datasets of the three pools: labeled speech, unpaired text and speech.

Each item carries its pool's name (``POOL_KEY``), so that ``collate_pools``
(``dataio.batches``) can group a batch by pool.

Authors
 * MMSpeech plugin contributors 2026
"""

import speechbrain as sb
import torch

from speechbrain_mmspeech.dataio.audio import load_audio
from speechbrain_mmspeech.dataio.batches import PAIRED, POOL_KEY, SPEECH, TEXT
from speechbrain_mmspeech.dataio.text_pool import read_text_pool
from speechbrain_mmspeech.text import normalize_text


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
