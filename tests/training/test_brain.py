"""Tests for the training data side and the Brain: batches, samplers, the
vocabulary, the n-gram LM of the text pool, renamed settings, the schedule."""

import pytest
import torch
from speechbrain.dataio.sampler import (
    DynamicBatchSampler,
    ReproducibleRandomSampler,
)

from speechbrain_mmspeech.dataio.batches import (
    TextMixingBatchSampler,
    collate_pools,
)
from speechbrain_mmspeech.dataio.text_pool import (
    prepare_ngram_lm,
    prepare_tokenizer,
)
from speechbrain_mmspeech.export.folders import TOKENIZER_FILE
from speechbrain_mmspeech.tokenizers import CharTokenizer
from speechbrain_mmspeech.training.brain import schedule_length
from speechbrain_mmspeech.training.settings import load_hparams


def test_text_mixing_sampler_adds_half_as_many_sentences_per_epoch():
    paired = [[0, 1, 2, 3], [4, 5], [6]]
    sampler = TextMixingBatchSampler(
        paired, text_size=5, text_offset=7, text_ratio=0.5, seed=3
    )
    sampler.set_epoch(1)
    first = list(sampler)
    assert [len(b) for b in first] == [6, 3, 2]
    assert [b[: len(p)] for b, p in zip(first, paired)] == paired
    text = [i for b, p in zip(first, paired) for i in b[len(p) :]]
    # The text order runs on from batch to batch: no sentence twice.
    assert len(set(text)) == 4 and all(7 <= i < 12 for i in text)
    assert list(sampler) == first  # a function of the epoch
    sampler.set_epoch(2)
    assert list(sampler) != first


def test_text_mixing_sampler_passes_the_epoch_to_the_paired_sampler():
    durations = {str(k): 1.0 + k % 3 for k in range(40)}

    class Lengths(torch.utils.data.Dataset):
        def __len__(self):
            return len(durations)

        def __getitem__(self, index):
            return {"duration": durations[str(index)]}

    dynamic = DynamicBatchSampler(
        Lengths(),
        max_batch_length=8,
        num_buckets=2,
        length_func=lambda x: x["duration"],
        shuffle=True,
        batch_ordering="random",
        lengths_list=list(durations.values()),
    )
    sampler = TextMixingBatchSampler(dynamic, 10, 40, 0.5, seed=0)
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    sampler.set_epoch(2)
    epoch2 = list(sampler)
    assert dynamic._epoch == 2
    assert epoch1 != epoch2
    assert sorted(i for b in epoch1 for i in b if i < 40) == list(range(40))


def test_vocabulary_covers_the_text_pool(tmp_path):
    train_csv = tmp_path / "train.csv"
    train_csv.write_text(
        "ID,duration,wav,transcript\nu1,1.0,a.wav,你好\n", encoding="utf-8"
    )
    text = tmp_path / "text.txt"
    text.write_text("人民 日报\n", encoding="utf-8")
    hparams = {
        "save_folder": tmp_path / "save",
        "train_csv": train_csv,
        "tokenizer_extra_text": [text],
        "tokenizer": CharTokenizer(),
        "architecture": {"text_vocab_size": 12},
    }
    prepare_tokenizer(hparams)
    tokenizer = CharTokenizer()
    tokenizer.load(tmp_path / "save" / TOKENIZER_FILE)
    assert set("你好人民日报") <= set(tokenizer.tokens)


@pytest.mark.parametrize(
    "old, new",
    [
        ("ctc_weight", "pp_weight"),
        ("time_mask_prob", "s2t_time_mask_prob"),
        ("s2t_text_only", "always restricted"),
    ],
)
def test_renamed_settings_name_their_replacement(tmp_path, old, new):
    hparams = tmp_path / "h.yaml"
    hparams.write_text("pp_weight: 1.0\n", encoding="utf-8")
    with pytest.raises(ValueError, match=new):
        load_hparams([str(hparams), f"--{old}=0.5"])


def test_collate_groups_examples_by_pool():
    batch = collate_pools(
        [
            {"id": "p1", "pool": "paired", "sig": torch.ones(3)},
            {"id": "t1", "pool": "text", "phones": torch.ones(2)},
            {"id": "t2", "pool": "text", "phones": torch.ones(4)},
        ]
    )
    assert batch.id == ["p1", "t1", "t2"]
    assert len(batch) == 3
    assert batch["text"].phones.data.shape == (2, 4)
    assert "pool" not in batch["paired"]._PaddedBatch__keys


def test_ngram_lm_is_fitted_on_the_pool_without_heldout_sentences(tmp_path):
    from speechbrain_mmspeech.lm.ngram import NgramLM

    header = "ID,duration,wav,transcript\n"
    (tmp_path / "dev.csv").write_text(header + "d1,1.0,a.wav,天气\n")
    (tmp_path / "test.csv").write_text(header + "t1,1.0,a.wav,公园\n")
    text = tmp_path / "text.txt"
    text.write_text("今天 天气\n天气\n公园\n", encoding="utf-8")
    tokenizer = CharTokenizer()
    tokenizer.build(["今天天气公园"], vocab_size=12)
    hparams = {
        "ngram_lm_weight": 0.3,
        "ngram_lm": NgramLM(12, order=2),
        "tokenizer": tokenizer,
        "save_folder": tmp_path / "save",
        "valid_csv": tmp_path / "dev.csv",
        "test_csv": tmp_path / "test.csv",
        "text_files": [text],
        "text_files_have_ids": False,
        "drop_heldout_sentences": True,
        "max_text_chars": 128,
        "max_text_sentences": None,
    }
    lm = prepare_ngram_lm(hparams)
    expected = NgramLM(12, order=2).fit([tokenizer.encode_as_ids("今天天气")])
    histories = torch.arange(12)[:, None]
    assert torch.equal(lm.probs(histories), expected.probs(histories))
    cache = tmp_path / "save" / "ngram_lm_2gram.ckpt"
    assert cache.is_file()
    # A rerun loads the cache (the pool file is not read again).
    text.unlink()
    hparams["ngram_lm"] = NgramLM(12, order=2)
    again = prepare_ngram_lm(hparams)
    assert torch.equal(again.probs(histories), expected.probs(histories))
    # Weight 0: nothing is built.
    assert prepare_ngram_lm({**hparams, "ngram_lm_weight": 0}) is None


def test_text_mixing_sampler_is_sharded_per_process_by_epoch():
    """Under DDP each process gets every other batch of the same epoch."""
    from speechbrain_mmspeech.training.distributed import (
        DistributedBatchSamplerWrapper,
    )

    paired = ReproducibleRandomSampler(list(range(12)), seed=4)

    class Batches(torch.utils.data.Sampler):
        def __init__(self):
            self.inner = paired

        def set_epoch(self, epoch):
            self.inner.set_epoch(epoch)

        def __len__(self):
            return 4

        def __iter__(self):
            order = [int(i) for i in self.inner]
            return iter([order[k : k + 3] for k in range(0, 12, 3)])

    def shards(epoch):
        mixing = TextMixingBatchSampler(Batches(), 6, 12, 0.5, 0)
        ranks = [
            DistributedBatchSamplerWrapper(
                mixing, num_replicas=2, rank=r, shuffle=False
            )
            for r in range(2)
        ]
        for sampler in ranks:
            sampler.set_epoch(epoch)
        whole = list(mixing)
        return [list(sampler) for sampler in ranks], whole

    (rank0, rank1), whole = shards(1)
    assert rank0 == whole[0::2] and rank1 == whole[1::2]
    assert shards(1)[0] == [rank0, rank1]  # a function of the epoch
    assert shards(2)[0] != [rank0, rank1]


def test_distributed_wrapper_with_one_batch_per_process():
    from speechbrain_mmspeech.training.distributed import (
        DistributedBatchSamplerWrapper,
    )

    wrapper = DistributedBatchSamplerWrapper(
        [[0, 1, 2], [3, 4]], num_replicas=2, rank=0, shuffle=False
    )
    assert list(wrapper) == [[0, 1, 2]]  # SpeechBrain 1.1 gives [0, 1, 2]


def test_schedule_counts_one_process_batches():
    hparams = {"number_of_epochs": 2, "warmup_fraction": 0.5}
    assert schedule_length(hparams, 9, {}, processes=2) == (10, 5)
    accumulate = {"grad_accumulation_factor": 2}
    assert schedule_length(hparams, 9, accumulate, 1) == (10, 5)


# ------------------------------------------- features and augmentation ---
class AugmentationSpy(torch.nn.Module):
    """An augmentation that counts its calls and changes what it gets,
    unless ``do_augment`` is False (as SpeechBrain's ``Augmenter`` when
    its ``augment_prob`` draw says no)."""

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.do_augment = True

    def forward(self, x, lengths):
        self.calls += 1
        if not self.do_augment:
            return x, lengths
        if x.dim() == 3:  # features
            return torch.zeros_like(x), lengths
        return x.flip(1), lengths


def spied_brain():
    """What ``MMSpeechBrain._forward_pools`` reads, with spies as the
    augmentations and a model that returns the features it is given."""
    from types import SimpleNamespace

    from speechbrain.processing.features import InputNormalization

    from speechbrain_mmspeech.lobes.features import FeatureCache, MMSpeechFbank
    from speechbrain_mmspeech.training.brain import MMSpeechBrain

    fbank = MMSpeechFbank()
    hparams = SimpleNamespace(
        compute_features=fbank,
        feature_cache=FeatureCache(fbank),
        wav_augment=AugmentationSpy(),
        fea_augment=AugmentationSpy(),
        s2t_task=SimpleNamespace(forward=lambda model, f, lens, bos: f),
    )
    brain = SimpleNamespace(
        hparams=hparams, modules=SimpleNamespace(normalize=InputNormalization())
    )
    brain._features = lambda sub, augment=False: MMSpeechBrain._features(
        brain, sub, augment
    )
    brain._decodes = lambda stage: False

    def forward(stage):
        torch.manual_seed(0)
        sub = SimpleNamespace(
            id=["u1", "u2"],
            sig=(torch.rand(2, 8000) - 0.5, torch.tensor([1.0, 0.7])),
            tokens_bos=SimpleNamespace(data=torch.zeros(2, 3).long()),
        )
        outputs = MMSpeechBrain._forward_pools(
            brain, lambda feats, lens, bos: feats, {"paired": sub}, stage
        )
        return outputs["paired"]

    return hparams, forward


def test_augmentation_is_off_at_validation_and_test():
    import speechbrain as sb

    hparams, forward = spied_brain()
    valid = forward(sb.Stage.VALID)
    test = forward(sb.Stage.TEST)
    assert hparams.wav_augment.calls == hparams.fea_augment.calls == 0
    assert torch.equal(valid, test)
    train = forward(sb.Stage.TRAIN)
    assert hparams.wav_augment.calls == hparams.fea_augment.calls == 1
    assert not torch.equal(train, valid)


def test_the_brain_serves_clean_batches_from_the_feature_cache():
    """The cache serves the clean batches (validation, and training batches
    that wav_augment left alone) with exactly the recomputed features; a
    waveform-augmented batch is computed afresh and not cached."""
    import speechbrain as sb

    hparams, forward = spied_brain()
    hparams.fea_augment = None
    cache, hparams.feature_cache = hparams.feature_cache, None
    recomputed = forward(sb.Stage.VALID)
    hparams.feature_cache = cache
    hparams.wav_augment.do_augment = False  # the augment_prob draw said no
    # The cached fbank is bit-identical (tests/lobes/test_features.py);
    # after CMVN, float reductions may round in the last bits.
    assert torch.allclose(forward(sb.Stage.TRAIN), recomputed, atol=1e-5)
    assert len(cache) == 2
    from_cache = forward(sb.Stage.VALID)
    assert torch.allclose(from_cache, recomputed, atol=1e-5)
    cache.features.clear()
    hparams.wav_augment.do_augment = True
    augmented = forward(sb.Stage.TRAIN)
    assert len(cache) == 0
    assert not torch.allclose(augmented, recomputed, atol=1e-2)


@pytest.mark.parametrize(
    "sorting, shuffle", [("random", True), ("ascending", False)]
)
def test_ddp_training_batches_are_sharded_by_the_fixed_wrapper(
    tmp_path, sorting, shuffle
):
    """Under DDP the batch sampler gets DistributedBatchSamplerWrapper."""
    from types import SimpleNamespace

    from speechbrain_mmspeech.training.brain import ScheduledBrain
    from speechbrain_mmspeech.training.distributed import (
        DistributedBatchSamplerWrapper,
    )

    brain = ScheduledBrain.__new__(ScheduledBrain)  # no modules needed
    brain.distributed_launch, brain.rank = True, 0
    brain.hparams = SimpleNamespace(sorting=sorting)
    batches = [[0, 1, 2], [3, 4]]
    store = torch.distributed.FileStore(str(tmp_path / "store"), 1)
    torch.distributed.init_process_group(
        "gloo", store=store, rank=0, world_size=1
    )
    try:
        kwargs = brain._train_loader_specifics(
            range(5), {"batch_sampler": batches}
        )
    finally:
        torch.distributed.destroy_process_group()
    wrapper = kwargs["batch_sampler"]
    assert type(wrapper) is DistributedBatchSamplerWrapper
    assert brain.train_sampler is wrapper and wrapper.shuffle is shuffle
    assert wrapper.sampler is batches
    # Without DDP, Brain's own handling: the batch sampler stays as it is.
    brain.distributed_launch = False
    kwargs = brain._train_loader_specifics(range(5), {"batch_sampler": batches})
    assert kwargs["batch_sampler"] is batches
