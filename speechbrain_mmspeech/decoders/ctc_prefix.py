"""CTC prefix probabilities over a batch of phone posteriors.

The arithmetic of phone-aware decoding (``CTCScorer`` in
``speechbrain_mmspeech.decoders.phone_ctc``), apart from the searcher's
bookkeeping: the prefix algorithm of Watanabe et al. 2017, where a
hypothesis' phone prefix ``g`` has the forward variables ``r^n_t(g)`` (the
prefix emitted by frame t, frame t emitting its last phone) and ``r^b_t(g)``
(frame t a blank), and ``psi(g)``, the probability that the phones output
begin with ``g``.

- ``PrefixState``: those variables for a set of hypotheses;
- ``PhonePosteriors``: one batch's phone log-posteriors with the cumulative
  sums that extend prefixes without a loop over frames;
- ``phone_ctc_log_likelihood``: the full-sequence phone CTC log-probability
  of given character hypotheses (N-best rescoring, tests).

Authors
 * MMSpeech plugin contributors 2026
"""

from typing import NamedTuple

import torch

from speechbrain_mmspeech.decoders.phone_tables import NO_PHONE
from speechbrain_mmspeech.tokenizers import CTC_BLANK_INDEX

PHONE_BLANK_INDEX = CTC_BLANK_INDEX  # the phone head's CTC blank


class PrefixState(NamedTuple):
    """CTC prefix state of hypotheses (``...`` is ``[hyps]`` or more axes).

    Arguments
    ---------
    nonblank : torch.Tensor
        ``[time + 1, ...]`` log r^n_t: the prefix's phones are all emitted
        by frame t and frame t emits its last phone (row 0: before any
        frame).
    blank : torch.Tensor
        ``[time + 1, ...]`` log r^b_t: same, frame t emits a blank.
    psi : torch.Tensor
        ``[...]`` log prefix probability: the phones output so far begin
        with the prefix's phones.
    last : torch.Tensor
        ``[...]`` the prefix's last phone class (-1: no phone yet).
    """

    nonblank: torch.Tensor
    blank: torch.Tensor
    psi: torch.Tensor
    last: torch.Tensor


class PhonePosteriors:
    """One batch's phone log-posteriors, ready for prefix extensions.

    Padded frames are made neutral (probability 1) in the cumulative sums;
    no result on a real frame ever reads them. Hypotheses are beam-major:
    hypothesis ``h`` of ``n_hyps`` belongs to utterance
    ``h // (n_hyps // batch)``.

    Arguments
    ---------
    log_probs : torch.Tensor
        ``[batch, time, classes]`` phone log-posteriors (float64).
    valid : torch.Tensor
        ``[batch, time]`` True on the real frames.
    blank_index : int
        The blank class.

    Example
    -------
    >>> log_probs = torch.randn(1, 5, 4, dtype=torch.float64).log_softmax(-1)
    >>> posteriors = PhonePosteriors(log_probs, torch.ones(1, 5, dtype=bool))
    >>> utterances = posteriors.utterances(1)
    >>> empty = posteriors.empty_prefix(utterances)
    >>> nonblank, blank = posteriors.extend_by_phone(
    ...     empty.nonblank,
    ...     empty.blank,
    ...     empty.last,
    ...     torch.tensor([2]),
    ...     utterances,
    ... )
    >>> state = PrefixState(nonblank, blank, empty.psi, torch.tensor([2]))
    >>> ctc = torch.nn.functional.ctc_loss(
    ...     log_probs.transpose(0, 1), torch.tensor([[2]]), [5], [1]
    ... )
    >>> torch.allclose(posteriors.final_log_prob(state, utterances), -ctc)
    True
    """

    def __init__(self, log_probs, valid, blank_index=PHONE_BLANK_INDEX):
        log_probs, valid = log_probs.transpose(0, 1), valid.t()
        self.lengths = valid.sum(dim=0)
        self.log_probs = log_probs.masked_fill(~valid.unsqueeze(-1), 0.0)
        self.valid = valid
        # Cumulative log posteriors of every class, from frame 0 on.
        self.emission_cumsum = prepend_row(self.log_probs.cumsum(dim=0), 0.0)
        self.blank_cumsum = self.emission_cumsum[:, :, blank_index]
        # exp(y) per utterance, shifted by its maximum over the valid frames
        # (for emission_products).
        emissions = log_probs.masked_fill(~valid.unsqueeze(-1), float("-inf"))
        self.emission_shift = emissions.amax(dim=0)
        weights = (emissions - self.emission_shift).exp()
        self.emission_weights = weights.transpose(0, 1).contiguous()

    @property
    def n_classes(self):
        """The phone head's number of classes."""
        return self.log_probs.shape[-1]

    def utterances(self, n_hyps):
        """The utterance of each of ``n_hyps`` hypotheses (beam-major)."""
        batch = self.lengths.shape[0]
        beam = n_hyps // batch
        hyps = torch.arange(n_hyps, device=self.lengths.device)
        return torch.div(hyps, beam, rounding_mode="floor")

    def empty_prefix(self, utterances):
        """The state of the empty phone sequence (only blanks so far)."""
        blank = self.blank_cumsum[:, utterances]
        n_hyps = utterances.shape[0]
        return PrefixState(
            torch.full_like(blank, float("-inf")),
            blank,
            blank.new_zeros(n_hyps),
            torch.full((n_hyps,), NO_PHONE, device=blank.device),
        )

    def final_log_prob(self, state, utterances):
        """log P(the phones are exactly the prefix's) of each hypothesis."""
        hyps = torch.arange(utterances.shape[0], device=utterances.device)
        last_frame = self.lengths[utterances]
        return torch.logaddexp(
            state.nonblank[last_frame, hyps], state.blank[last_frame, hyps]
        )

    def emission_products(self, phi):
        """``[columns, classes]`` ``log sum_t exp(phi_t + y_t)`` of every
        column of ``phi`` (``[T, columns]``, hypothesis-major) and every
        phone class of the column's utterance."""
        batch, n_frames = self.lengths.shape[0], phi.shape[0]
        shift = phi.amax(dim=0)
        shift = shift.masked_fill(~torch.isfinite(shift), 0.0)
        weights = (phi - shift).exp().t().reshape(batch, -1, n_frames)
        sums = torch.bmm(weights, self.emission_weights)
        logs = sums.log() + self.emission_shift.unsqueeze(1)
        return logs.reshape(-1, sums.shape[-1]) + shift.unsqueeze(1)

    def prefix_log_prob(self, phi, phone, utterances):
        """log psi of a prefix extended by ``phone``: sum_t phi_{t-1} y_t."""
        y = self.log_probs[:, utterances, phone]
        valid = self.valid[:, utterances]
        return torch.logsumexp((phi + y).masked_fill(~valid, float("-inf")), 0)

    def extend_by_phone(self, nonblank, blank, last, phone, utterances):
        """Full states of prefixes extended by one phone, over all frames.

        The CTC prefix recursions
        ``r^n_t = (r^n_{t-1} + phi_{t-1}) y^c_t`` and
        ``r^b_t = (r^b_{t-1} + r^n_{t-1}) y^blank_t`` are first-order linear
        recurrences, solved without a loop over frames with cumulative sums
        of the log posteriors and ``logcumsumexp`` (in float64, so that the
        cumulative sums lose nothing that matters).

        Arguments
        ---------
        nonblank, blank : torch.Tensor
            ``[T + 1, columns]`` log r^n and log r^b of the prefixes.
        last : torch.Tensor
            ``[columns]`` the prefixes' last phones (-1: none).
        phone : torch.Tensor
            ``[columns]`` the phone to append (a class of the head).
        utterances : torch.Tensor
            ``[columns]`` the utterance of each prefix.

        Returns
        -------
        tuple of torch.Tensor
            ``[T + 1, columns]`` log r^n and log r^b of the extended
            prefixes.
        """
        columns = torch.arange(phone.shape[0], device=phone.device)
        phi = self.phi(nonblank, blank, last, columns, phone)
        return self.extend_from_phi(phi, phone, utterances)

    def extend_from_phi(self, phi, phone, utterances):
        """``_extend_by_phone`` from the prefixes' ``_phi``: ``[T, columns]``
        log r^n and log r^b of the extended prefixes."""
        minus = float("-inf")
        emit = self.emission_cumsum[:, utterances, phone]
        nonblank = emit + prepend_row(
            torch.logcumsumexp(phi - emit[:-1], dim=0), minus
        )
        blank_emit = self.blank_cumsum[:, utterances]
        blank = blank_emit + prepend_row(
            torch.logcumsumexp(nonblank - blank_emit, dim=0)[:-1], minus
        )
        return nonblank, blank

    @staticmethod
    def phi(nonblank, blank, last, node, phone):
        """``[T, columns]`` mass of prefix ``node`` that ``phone`` may follow.

        ``r^b_t + r^n_t`` of the prefix, without ``r^n_t`` when the prefix
        ends with the same phone (a repeat needs a blank in between).
        """
        repeat = last[node] == phone
        return torch.logaddexp(
            blank[:-1, node],
            torch.where(repeat, float("-inf"), nonblank[:-1, node]),
        )


def phone_ctc_log_likelihood(
    log_probs, lengths, hyps, char_phones, blank_index=PHONE_BLANK_INDEX
):
    """Full-sequence phone CTC log-probability of character hypotheses.

    Each hypothesis is turned into the phones of its characters (default
    readings; ids without phones add none) and scored with
    ``torch.nn.functional.ctc_loss`` (the sum over all alignments).

    Arguments
    ---------
    log_probs : torch.Tensor
        ``[batch, time, classes]`` phone log-posteriors.
    lengths : torch.Tensor
        ``[batch]`` number of valid frames.
    hyps : list of list of int
        One hypothesis (decoder ids, no ``</s>``) per row of ``log_probs``.
    char_phones : CharPhoneTable
        The char -> phones table.
    blank_index : int
        The blank class.

    Returns
    -------
    torch.Tensor
        ``[batch]`` log-probabilities (``-inf`` if the phones cannot fit).

    Example
    -------
    >>> from speechbrain_mmspeech.decoders.phone_tables import CharPhoneTable
    >>> from speechbrain_mmspeech.tokenizers import CharTokenizer
    >>> tokenizer = CharTokenizer()
    >>> tokenizer.build(["他我"], vocab_size=6)
    >>> table = CharPhoneTable.from_tokenizers(tokenizer)
    >>> log_probs = torch.full((2, 3, 121), -20.0)
    >>> log_probs[:, [0, 1, 2], [82, 1, 0]] = 0.0  # t a1 blank
    >>> ids = tokenizer.encode_as_ids("他我")
    >>> scores = phone_ctc_log_likelihood(
    ...     log_probs, torch.tensor([3, 3]), [ids[:1], ids[1:]], table
    ... )
    >>> scores.round().tolist()
    [0.0, -40.0]
    """
    targets = [
        torch.tensor(char_phones.sequence_phones(hyp), dtype=torch.long)
        for hyp in hyps
    ]
    target_lengths = torch.tensor([len(t) for t in targets])
    flat = torch.cat([torch.zeros(0, dtype=torch.long), *targets])
    losses = torch.nn.functional.ctc_loss(
        log_probs.double().transpose(0, 1).cpu(),
        flat,
        lengths.cpu(),
        target_lengths,
        blank=blank_index,
        reduction="none",
        zero_infinity=False,
    )
    return -losses.to(log_probs.device)


def prepend_row(tensor, value):
    """``tensor`` with a row of ``value`` before its first row (axis 0)."""
    row = torch.full_like(tensor[:1], value)
    return torch.cat([row, tensor], dim=0)
