"""Tests for speechbrain_mmspeech.training.tasks: the five pre-training tasks.

Batch construction (masking ratios, phone masking, target shapes, the text
vocabulary restriction), finite losses that decrease on a fixed tiny batch,
and the MSP teacher's isolation from gradients.

Authors
 * MMSpeech plugin contributors 2026
"""

import math

import pytest
import torch

import tiny_models
from speechbrain_mmspeech.tokenizers import PinyinTokenizer
from speechbrain_mmspeech.training.tasks import (
    P2T_MASK_RATIO,
    P2T_RANDOM_RATIO,
    PHONE_MASK_INDEX,
    PHONE_OFFSET,
    MaskedSpeechPredictionTask,
    PhonePredictionTask,
    PhoneToTextTask,
    SpeechToCodeTask,
    SpeechToTextTask,
    TaskLossTracker,
    restrict_to_vocabulary,
    summed_nll,
)

TEXT_VOCAB = 12
CODE_VOCAB = 8
FILLER_PHONE = 130  # a phone-table id that random replacement never draws


def tiny_model(dropout=0.0):
    """A tiny MMSpeech (3 encoder layers, 1 decoder layer, no drop path)."""
    return tiny_models.tiny_model(
        TEXT_VOCAB + CODE_VOCAB,
        encoder={"num_layers": 3, "dropout": dropout},
        decoder={
            "max_positions": 32,
            "rel_pos_bucket_size": 8,
            "dropout": dropout,
            "drop_path": 0.0,
        },
    )


def speech_batch():
    """Two utterances of 200 and 160 fbank frames (50 and 39 encoder frames)."""
    torch.manual_seed(1)
    feats = torch.randn(2, 200, 80)
    feats[1, 160:] = 0
    return feats, torch.tensor([1.0, 0.8])


def text_targets(lengths=(5, 3)):
    """Padded ``<s> + text`` and ``text + </s>`` with relative lengths."""
    torch.manual_seed(2)
    longest = max(lengths) + 1
    bos = torch.full((len(lengths), longest), 1)
    eos = torch.full((len(lengths), longest), 1)
    for row, n in enumerate(lengths):
        text = torch.randint(4, TEXT_VOCAB, (n,))
        bos[row, : n + 1] = torch.cat([torch.tensor([0]), text])
        eos[row, : n + 1] = torch.cat([text, torch.tensor([2])])
    lens = torch.tensor([(n + 1) / longest for n in lengths])
    return bos, eos, lens


def masked_phones():
    """A P2T input: two masked phone sequences (7 and 4 phones)."""
    task = PhoneToTextTask(TEXT_VOCAB)
    generator = torch.Generator().manual_seed(3)
    phones = torch.full((2, 7), 1)
    phones[0] = task.mask_phones(torch.arange(10, 17), generator)
    phones[1, :4] = task.mask_phones(torch.arange(20, 24), generator)
    return phones, torch.tensor([1.0, 4 / 7])


# ------------------------------------------------------------------ P2T ---
@pytest.mark.parametrize("length", [1, 2, 3, 7, 10, 33])
def test_p2t_masks_ceil_30_percent_and_never_keeps(length):
    task = PhoneToTextTask(TEXT_VOCAB)
    phones = torch.full((length,), FILLER_PHONE)
    for seed in range(20):
        masked = task.mask_phones(phones, torch.Generator().manual_seed(seed))
        assert len(masked) == length
        assert int((masked != FILLER_PHONE).sum()) == math.ceil(
            P2T_MASK_RATIO * length
        )
    assert task.mask_phones([]).tolist() == []


def test_p2t_replaces_10_percent_of_masked_by_random_phones():
    task = PhoneToTextTask(TEXT_VOCAB)
    phones = torch.full((20,), FILLER_PHONE)
    generator = torch.Generator().manual_seed(0)
    draws = torch.stack(
        [task.mask_phones(phones, generator) for _ in range(3000)]
    )
    selected = draws != FILLER_PHONE
    random = selected & (draws != PHONE_MASK_INDEX)
    assert int(selected.sum()) == 3000 * 6
    assert (
        abs(random.sum().item() / selected.sum().item() - P2T_RANDOM_RATIO)
        < 0.015
    )
    replacements = draws[random]
    assert int(replacements.min()) >= PHONE_OFFSET
    assert int(replacements.max()) < PHONE_MASK_INDEX
    # Every position is equally likely to be masked (30% here).
    per_position = selected.float().mean(dim=0)
    assert torch.allclose(per_position, torch.full((20,), 0.3), atol=0.04)


def test_p2t_defaults_match_the_pinyin_tokenizer():
    tokenizer = PinyinTokenizer()
    assert tokenizer.mask_index == PHONE_MASK_INDEX
    assert tokenizer.phone_offset == PHONE_OFFSET
    assert tokenizer.mask_index - tokenizer.phone_offset == tokenizer.num_phones


def test_p2t_input_skips_the_speech_layers():
    model = tiny_model().eval()
    phones, phone_lens = masked_phones()
    bos, _, _ = text_targets((6, 3))
    task = PhoneToTextTask(TEXT_VOCAB)
    logits = task.forward(model, phones, phone_lens, bos)
    assert logits.shape == (2, bos.shape[1], TEXT_VOCAB + CODE_VOCAB)
    with torch.no_grad():  # layer 0 is below the context layer (1)
        for p in model.encoder.encoder.layers[0].parameters():
            p.add_(1.0)
    assert torch.allclose(task.forward(model, phones, phone_lens, bos), logits)


def test_text_losses_are_restricted_to_the_text_vocabulary():
    model = tiny_model()
    phones, phone_lens = masked_phones()
    bos, eos, lens = text_targets((6, 3))
    task = PhoneToTextTask(TEXT_VOCAB)
    logits = task.forward(model, phones, phone_lens, bos)
    loss = task.loss(logits, eos, lens)
    expected = summed_nll(logits[..., :TEXT_VOCAB], eos, lens)
    assert torch.allclose(loss, expected)
    assert loss < summed_nll(logits, eos, lens)  # the codes took mass
    loss.backward()
    # Code rows of the (tied) output layer get no gradient.
    grad = model.decoder.embed_tokens.weight.grad
    assert grad[TEXT_VOCAB:].abs().sum() == 0
    assert grad[:TEXT_VOCAB].abs().sum() > 0
    s2t = SpeechToTextTask(TEXT_VOCAB)
    assert torch.allclose(s2t.loss(logits, eos, lens), expected)


def test_restrict_to_vocabulary_keeps_specials_and_text():
    logits = restrict_to_vocabulary(torch.zeros(2, 3, 20), TEXT_VOCAB)
    assert torch.isfinite(logits[..., :TEXT_VOCAB]).all()
    assert torch.isneginf(logits[..., TEXT_VOCAB:]).all()


# ------------------------------------------------------------------ S2C ---
def test_s2c_targets_follow_the_text_vocabulary():
    task = SpeechToCodeTask(TEXT_VOCAB)
    bos, eos = task.targets([0, 3, CODE_VOCAB - 1])
    assert bos.tolist() == [0, TEXT_VOCAB, TEXT_VOCAB + 3, TEXT_VOCAB + 7]
    assert eos.tolist() == [TEXT_VOCAB, TEXT_VOCAB + 3, TEXT_VOCAB + 7, 2]


def mean_masked_fraction(task, model, lengths=(1.0, 1.0)):
    feats = torch.randn(len(lengths), 804, 80)  # 200 encoder frames
    fractions = []
    for seed in range(20):
        torch.manual_seed(seed)
        _, *rest = task.forward(
            model, feats, torch.tensor(lengths), torch.zeros(2, 1).long()
        )
        encoded = rest[-1]
        fractions.append(encoded.time_mask.float().mean().item())
    return sum(fractions) / len(fractions)


def test_time_masking_probabilities_of_s2c_and_s2t():
    model = tiny_model().eval()
    s2c = mean_masked_fraction(SpeechToCodeTask(TEXT_VOCAB), model)
    s2t = mean_masked_fraction(SpeechToTextTask(TEXT_VOCAB), model)
    # p * L / 10 spans of 10 frames, starts drawn without replacement, so
    # overlaps make the masked fraction a little below p.
    assert 0.45 < s2c <= 0.7
    assert 0.2 < s2t <= 0.3


def test_s2c_loss_is_over_the_full_vocabulary():
    model = tiny_model()
    feats, lens = speech_batch()
    task = SpeechToCodeTask(TEXT_VOCAB)
    bos = torch.stack([task.targets([1, 2, 3])[0], task.targets([4, 5, 6])[0]])
    eos = torch.stack([task.targets([1, 2, 3])[1], task.targets([4, 5, 6])[1]])
    logits, encoded = task.forward(model, feats, lens, bos)
    assert logits.shape == (2, 4, TEXT_VOCAB + CODE_VOCAB)
    assert encoded.time_mask.shape == (2, 49)
    loss = task.loss(logits, eos, torch.ones(2))
    assert torch.allclose(loss, summed_nll(logits, eos, torch.ones(2)))


# ------------------------------------------------------------------ MSP ---
def test_msp_teacher_is_eval_mode_without_gradient():
    model = tiny_model(dropout=0.5).train()
    feats, lens = speech_batch()
    task = MaskedSpeechPredictionTask()
    first = task.teacher_logits(model.encoder, feats, lens)
    second = task.teacher_logits(model.encoder, feats, lens)
    assert torch.equal(first, second)  # no dropout: eval mode
    assert not first.requires_grad
    assert model.encoder.training  # training mode restored
    model.encoder.eval()
    task.teacher_logits(model.encoder, feats, lens)
    assert not model.encoder.training


def test_msp_teacher_scores_states_before_the_final_layer_norm():
    model = tiny_model().eval()
    feats, lens = speech_batch()
    official = MaskedSpeechPredictionTask()
    normed = MaskedSpeechPredictionTask(teacher_final_norm=True)
    encoded = model.encoder(feats, lens)
    assert torch.allclose(
        normed.teacher_logits(model.encoder, feats, lens),
        model.encoder.phone_logits(encoded.hidden),
    )
    assert not torch.allclose(
        official.teacher_logits(model.encoder, feats, lens),
        normed.teacher_logits(model.encoder, feats, lens),
    )


def test_msp_gradient_reaches_the_student_only():
    model = tiny_model().train()
    feats, lens = speech_batch()
    task = MaskedSpeechPredictionTask()
    teacher = task.teacher_logits(model.encoder, feats, lens)
    torch.manual_seed(4)
    student = model.encoder(feats, lens, time_mask_prob=0.7)
    loss = task.loss(model.encoder, student, teacher)
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    # The phone table gets nothing: teacher under no_grad, student detached.
    assert model.encoder.phone_item_embedding.weight.grad is None
    assert model.encoder.encoder.layers[-1].fc2.weight.grad.abs().sum() > 0


def test_msp_loss_counts_masked_frames_only():
    model = tiny_model().eval()
    feats, lens = speech_batch()
    task = MaskedSpeechPredictionTask()
    teacher = task.teacher_logits(model.encoder, feats, lens)
    torch.manual_seed(5)
    student = model.encoder(feats, lens, time_mask_prob=0.3)
    loss = task.loss(model.encoder, student, teacher)
    changed = teacher.clone()
    changed[~student.time_mask] = torch.randn_like(changed[~student.time_mask])
    assert torch.allclose(task.loss(model.encoder, student, changed), loss)
    student.time_mask[:] = False
    assert task.loss(model.encoder, student, teacher) == 0


# ------------------------------------------------------------------- PP ---
def test_pp_targets_and_loss():
    tokenizer = PinyinTokenizer()
    targets = tokenizer.ids_to_ctc_targets(tokenizer.encode_as_ids("北京银行"))
    assert min(targets) >= 1 and max(targets) <= tokenizer.num_phones
    model = tiny_model()
    feats, lens = speech_batch()
    _, phone_logits, encoded = SpeechToTextTask(TEXT_VOCAB).forward(
        model, feats, lens, torch.zeros(2, 1).long()
    )
    assert phone_logits.shape == (2, 49, tokenizer.num_ctc_classes)
    padded = torch.zeros(2, len(targets), dtype=torch.long)
    padded[0], padded[1, :4] = torch.tensor(targets), torch.tensor(targets[:4])
    target_lens = torch.tensor([1.0, 4 / len(targets)])
    task = PhonePredictionTask()
    loss = task.loss(phone_logits, encoded.speech_lengths, padded, target_lens)
    assert torch.isfinite(loss) and loss > 0
    one = task.loss(
        phone_logits[:1], encoded.speech_lengths[:1], padded[:1], torch.ones(1)
    )
    assert one < loss  # summed over utterances


# ---------------------------------------------------- every loss learns ---
def run_steps(compute_loss, model, steps=8):
    """Losses of ``steps`` Adam steps on the same batch (same masks)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        torch.manual_seed(0)  # the same time masks at every step
        loss = compute_loss()
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def p2t_loss(model):
    phones, phone_lens = masked_phones()
    bos, eos, lens = text_targets((6, 3))
    task = PhoneToTextTask(TEXT_VOCAB)
    return lambda: task.loss(
        task.forward(model, phones, phone_lens, bos), eos, lens
    )


def s2c_loss(model):
    feats, lens = speech_batch()
    task = SpeechToCodeTask(TEXT_VOCAB)
    pairs = [task.targets([1, 5, 2]), task.targets([7, 0, 3])]
    bos, eos = (torch.stack(t) for t in zip(*pairs))
    return lambda: task.loss(
        task.forward(model, feats, lens, bos)[0], eos, torch.ones(2)
    )


def msp_loss(model):
    feats, lens = speech_batch()
    task = MaskedSpeechPredictionTask()

    def compute():
        teacher = task.teacher_logits(model.encoder, feats, lens)
        student = model.encoder(feats, lens, time_mask_prob=0.7)
        return task.loss(model.encoder, student, teacher)

    return compute


def s2t_loss(model):
    feats, lens = speech_batch()
    bos, eos, token_lens = text_targets()
    task = SpeechToTextTask(TEXT_VOCAB)
    return lambda: task.loss(
        task.forward(model, feats, lens, bos)[0], eos, token_lens
    )


def pp_loss(model):
    feats, lens = speech_batch()
    targets = torch.tensor([[5, 9, 9, 20, 7], [3, 4, 0, 0, 0]])
    target_lens = torch.tensor([1.0, 0.4])
    task = PhonePredictionTask()

    def compute():
        _, phone_logits, encoded = model(feats, lens, torch.zeros(2, 1).long())
        return task.loss(
            phone_logits, encoded.speech_lengths, targets, target_lens
        )

    return compute


@pytest.mark.parametrize(
    "make_loss", [p2t_loss, s2c_loss, msp_loss, pp_loss, s2t_loss]
)
def test_loss_is_finite_and_decreases_on_a_fixed_batch(make_loss):
    model = tiny_model().train()
    losses = run_steps(make_loss(model), model)
    assert losses[-1] < losses[0], losses


# --------------------------------------------------------------- bf16 ---
# bf16 keeps 8 significant bits: each rounding is off by at most 2**-9
# (0.2%) relative, and the tiny model's losses pass through about ten
# matmuls and normalisations whose rounding errors partly cancel. Measured
# relative differences: P2T 0.01%, S2C 0.02%, PP 0.02%, S2T 0.04%, MSP
# 0.33% (its loss compares two encoder passes). 1% leaves a 3x margin; a
# loss computed on a broken path is nowhere near.
BF16_LOSS_RTOL = 0.01


@pytest.mark.parametrize(
    "make_loss", [p2t_loss, s2c_loss, msp_loss, pp_loss, s2t_loss]
)
def test_bf16_autocast_step_matches_fp32(make_loss):
    """One training step under the autocast that SpeechBrain's
    ``--precision=bf16`` opens: the matmuls run in bf16, the loss is fp32
    and matches the fp32 loss, and the step leaves finite weights."""
    from speechbrain.utils.autocast import AMPConfig, TorchAutocast

    model = tiny_model().train()
    compute = make_loss(model)
    torch.manual_seed(0)
    reference = compute().item()
    linear_dtypes = []
    hooks = [
        module.register_forward_hook(
            lambda module, args, out: linear_dtypes.append(out.dtype)
        )
        for module in model.modules()
        if isinstance(module, torch.nn.Linear)
    ]
    autocast = TorchAutocast(
        device_type="cpu", dtype=AMPConfig.from_name("bf16").dtype
    )
    with autocast:
        torch.manual_seed(0)
        loss = compute()
    for hook in hooks:
        hook.remove()
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(reference, rel=BF16_LOSS_RTOL)
    assert set(linear_dtypes) == {torch.bfloat16}  # every matmul in bf16
    loss.backward()
    torch.optim.AdamW(model.parameters(), lr=1e-3).step()
    assert all(torch.isfinite(p).all() for p in model.parameters())


# -------------------------------------------------------------- tracker ---
def test_tracker_survives_save_and_load(tmp_path):
    tracker = TaskLossTracker()
    tracker.update("s2c", torch.tensor(8.0), 4)
    tracker.update("msp", 3.0, 4)
    tracker.save(tmp_path / "losses.json")
    restored = TaskLossTracker()
    restored.load(tmp_path / "losses.json")
    assert restored.summarize() == {"s2c": 2.0, "msp": 0.75}
    restored.reset()
    assert restored.summarize() == {}
