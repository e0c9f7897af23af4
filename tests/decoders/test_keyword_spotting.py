"""Tests for speechbrain_mmspeech.decoders.keyword_spotting.

A stand-in phone head (``SpelledPhones`` of the phone CTC tests: frames
that spell given phones) makes the audio say what a test needs.

Authors
 * MMSpeech plugin contributors 2026
"""

import pytest
import torch
from test_hotwords import tokenizer
from test_phone_ctc import SpelledPhones, phone_classes

from speechbrain_mmspeech.decoders.hotwords import HotwordTable
from speechbrain_mmspeech.decoders.keyword_spotting import (
    spot_hotwords,
    tone_groups,
)
from speechbrain_mmspeech.tokenizers import PinyinTokenizer


def test_spotting_scores_the_spoken_phones_best():
    log_probs = SpelledPhones("李明")(torch.zeros(2, 12, 1)).log_softmax(-1)
    table = HotwordTable(["李明", "黎明", "她来", "明"], tokenizer())
    lengths = torch.tensor([12, 5])
    scores = spot_hotwords(
        log_probs, lengths, table.phones, table.phone_lengths
    )
    spoken, near, absent, part = scores[0].tolist()
    assert spoken == pytest.approx(0.0, abs=1e-4)
    assert part == pytest.approx(0.0, abs=1e-4)  # a free start and end
    assert absent < near < -1.0
    # Utterance 2 stops after 5 frames (a blank, then l i3 m i2): no ng.
    assert scores[1, 0] < -1.0
    # One hotword at a time gives the same scores.
    for k in range(len(table)):
        alone = spot_hotwords(
            log_probs, lengths, table.phones[k : k + 1, :],
            table.phone_lengths[k : k + 1],
        )  # fmt: skip
        assert torch.allclose(alone[:, 0], scores[:, k])
    assert phone_classes("李明")[0] == table.phones[0, 0]


def test_a_tone_penalty_lets_a_final_heard_in_another_tone_match():
    # The audio says li3 ming2; 黎明 is li2 ming2, 她来 ta1 lai2.
    log_probs = SpelledPhones("李明")(torch.zeros(1, 12, 1)).log_softmax(-1)
    table = HotwordTable(["李明", "黎明", "她来"], tokenizer())
    args = (log_probs, torch.tensor([12]), table.phones, table.phone_lengths)
    strict = spot_hotwords(*args)[0].tolist()
    tolerant = spot_hotwords(
        *args, tone_groups=tone_groups(PinyinTokenizer()), tone_penalty=0.5
    )[0].tolist()
    assert tolerant[0] == pytest.approx(strict[0], abs=1e-4)  # spoken: 0
    assert strict[1] < -1.0 < tolerant[1] < tolerant[0]  # one tone off
    assert tolerant[2] < -1.0  # other initials and finals stay absent
    assert all(t >= s - 1e-6 for t, s in zip(tolerant, strict))


def test_segments_locate_each_best_match_and_keep_the_scores():
    # Utterance 1: blank frames, then 李明; utterance 2 is 李明 cut short.
    spelled = SpelledPhones("李明")(torch.zeros(1, 12, 1)).log_softmax(-1)
    silence = torch.full((1, 4, spelled.shape[-1]), -9.0)
    silence[..., 0] = 0.0  # blank
    log_probs = torch.cat(
        [torch.cat([silence, spelled], dim=1), torch.cat([spelled, silence], 1)]
    )
    table = HotwordTable(["李明", "黎明", "她来"], tokenizer())
    lengths = torch.tensor([16, 9])
    args = (log_probs, lengths, table.phones, table.phone_lengths)
    scores, segments = spot_hotwords(*args, return_segments=True)
    assert torch.equal(scores, spot_hotwords(*args))
    first, last = segments[0, 0].tolist()
    assert 4 <= first <= last < 16  # after the blanks
    greedy = log_probs[0, first : last + 1].argmax(-1)
    assert greedy[0] != 0 and greedy[-1] != 0  # on phones, not blanks
    assert segments[1, 0, 1] < 9  # within the shorter utterance
