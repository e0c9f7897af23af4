"""The decoder's teacher-forced scores and their summed cross-entropy.

What the tasks that decode (P2T, S2C, S2T; ``training.tasks``) share:
``teacher_forced_logits`` runs the decoder on encoder states,
``summed_nll`` sums the cross-entropy over the real target tokens, and
``TextTargetTask``, the base of the text-target tasks (P2T, S2T), first
restricts the softmax to the text ids (``restrict_to_vocabulary``, which the
recipe's ``Brain`` also applies to its evaluation scores).

Authors
 * MMSpeech plugin contributors 2026
"""

import speechbrain as sb
import torch


def restrict_to_vocabulary(logits, vocab_size):
    """Sets the logits of ids ``>= vocab_size`` to ``-inf``.

    The official ``constraint_masks`` of the text tasks: the softmax only
    spreads over the text vocabulary, never over the audio codes.

    Arguments
    ---------
    logits : torch.Tensor
        ``[..., vocab]`` scores.
    vocab_size : int
        Number of allowed ids (the first ones).

    Returns
    -------
    torch.Tensor
        The restricted logits (the input itself if nothing is restricted).

    Example
    -------
    >>> restrict_to_vocabulary(torch.zeros(1, 4), 3)
    tensor([[0., 0., 0., -inf]])
    """
    if vocab_size >= logits.shape[-1]:
        return logits
    ids = torch.arange(logits.shape[-1], device=logits.device)
    return logits.masked_fill(ids >= vocab_size, float("-inf"))


def summed_nll(logits, targets, target_lens):
    """Cross-entropy summed over the real target tokens of a batch.

    Arguments
    ---------
    logits : torch.Tensor
        ``[batch, length, vocab]`` scores (possibly restricted).
    targets : torch.Tensor
        ``[batch, length]`` target ids.
    target_lens : torch.Tensor
        Relative lengths of the targets.

    Returns
    -------
    torch.Tensor
        The summed negative log-likelihood (a scalar).

    Example
    -------
    >>> import math
    >>> logits = torch.zeros(2, 3, 4)
    >>> loss = summed_nll(
    ...     logits,
    ...     torch.zeros(2, 3, dtype=torch.long),
    ...     torch.tensor([1, 1 / 3]),
    ... )
    >>> round(loss.item() / math.log(4), 4)  # four tokens, uniform scores
    4.0
    """
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    batch_mean = sb.nnet.losses.nll_loss(
        log_probs, targets, length=target_lens, reduction="batchmean"
    )
    return batch_mean * targets.shape[0]


def teacher_forced_logits(model, tokens_bos, encoder_output):
    """Runs the decoder of ``model`` on encoder states; returns logits.

    Arguments
    ---------
    model : speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
        The network.
    tokens_bos : torch.Tensor
        ``[batch, length]`` decoder inputs (``<s>`` then the target).
    encoder_output : speechbrain_mmspeech.lobes.models.encoder.EncoderOutput
        What the encoder returned.

    Returns
    -------
    torch.Tensor
        ``[batch, length, vocab]`` next-token scores.
    """
    hidden = model.decoder(
        tokens_bos,
        encoder_output.hidden,
        encoder_output.positions,
        encoder_output.padding_mask,
    )
    return model.output_projection(hidden)


class TextTargetTask:
    """Base of the tasks whose target is text (P2T, S2T).

    Holds the size of the text vocabulary and the loss they share: the
    decoder's softmax is restricted to the text ids (the official
    ``constraint_masks``) and the cross-entropy is summed over tokens.

    Arguments
    ---------
    text_vocab_size : int
        Number of text ids (codes, if any, come after them).

    Example
    -------
    >>> import math
    >>> task = TextTargetTask(text_vocab_size=3)
    >>> logits = torch.zeros(1, 2, 5)
    >>> loss = task.loss(
    ...     logits, torch.tensor([[1, 2]]), torch.ones(1)
    ... )  # uniform over 3 text ids
    >>> round(loss.item() / math.log(3), 4)
    2.0
    """

    def __init__(self, text_vocab_size):
        self.text_vocab_size = text_vocab_size

    def loss(self, logits, tokens_eos, token_lens):
        """Cross-entropy over the text vocabulary, summed over tokens.

        Arguments
        ---------
        logits : torch.Tensor
            ``[batch, length, vocab]`` from ``forward``.
        tokens_eos : torch.Tensor
            ``[batch, length]`` targets (the text then ``</s>``).
        token_lens : torch.Tensor
            Their relative lengths.

        Returns
        -------
        torch.Tensor
            The summed loss.
        """
        logits = restrict_to_vocabulary(logits, self.text_vocab_size)
        return summed_nll(logits, tokens_eos, token_lens)
