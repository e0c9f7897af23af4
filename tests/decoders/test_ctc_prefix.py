"""Tests of speechbrain_mmspeech/decoders/ctc_prefix.py against ctc_loss."""

import pytest
import torch

from speechbrain_mmspeech.decoders.ctc_prefix import (
    PhonePosteriors,
    PrefixState,
)


@pytest.mark.parametrize("phones", [[1], [2, 1], [1, 1], [3, 2, 3], [1, 1, 1]])
def test_extended_prefixes_end_with_the_ctc_probability(phones):
    """Extending the empty prefix phone by phone gives P_ctc(phones) exactly,
    in each utterance of a padded batch (repeats need a blank between)."""
    torch.manual_seed(0)
    lengths = [7, 5]
    log_probs = torch.randn(2, 7, 4, dtype=torch.float64).log_softmax(-1)
    valid = torch.arange(7) < torch.tensor(lengths).unsqueeze(1)
    posteriors = PhonePosteriors(log_probs, valid, blank_index=0)
    utterances = posteriors.utterances(4)  # two hypotheses per utterance
    assert utterances.tolist() == [0, 0, 1, 1]
    state = posteriors.empty_prefix(utterances)
    nonblank, blank, last = state.nonblank, state.blank, state.last
    for phone in phones:
        phone = torch.full((4,), phone)
        nonblank, blank = posteriors.extend_by_phone(
            nonblank, blank, last, phone, utterances
        )
        last = phone
    final = posteriors.final_log_prob(
        PrefixState(nonblank, blank, state.psi, last), utterances
    )
    expected = -torch.nn.functional.ctc_loss(
        log_probs.transpose(0, 1),
        torch.tensor([phones, phones]),
        torch.tensor(lengths),
        torch.tensor([len(phones)] * 2),
        reduction="none",
    )
    torch.testing.assert_close(final, expected.repeat_interleave(2))
