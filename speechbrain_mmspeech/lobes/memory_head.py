"""A head on the states inside MMSpeech's packed memory.

``MMSpeechBeamSearcher`` hands its scorers the packed memory
``[hidden ; positions ; valid]`` as encoder output; ``MemoryHead`` unpacks
the states, so that SpeechBrain's ``CTCScorer`` (which applies its
``ctc_fc`` to the searcher's encoder output) scores with a character CTC
head inside ``MMSpeechBeamSearcher``.

Authors
 * MMSpeech plugin contributors 2026
"""

import torch

from speechbrain_mmspeech.lobes.models.mmspeech import unpack_memory


class MemoryHead(torch.nn.Module):
    """Applies a head to the states inside an MMSpeech packed memory.

    ``MMSpeechBeamSearcher`` hands its scorers the packed memory
    ``[hidden ; positions ; valid]`` as encoder output; SpeechBrain's
    ``CTCScorer`` applies its ``ctc_fc`` to it. Wrapped in this module, a
    CTC head trained on the encoder states (``train_ctc.py``) scores the
    beam search's hypotheses. The head's outputs must be the decoder's ids
    (the recipe's head writes the model folder's own vocabulary); a decoder
    with more ids (the audio codes of pre-training) gets its extra scores at
    ``-inf``.

    Arguments
    ---------
    head : torch.nn.Module
        Maps ``[batch, time, d_model]`` states to logits.
    vocab_size : int
        Output width (the decoder's ids); None keeps the head's.

    Example
    -------
    >>> head = MemoryHead(torch.nn.Linear(4, 6), vocab_size=8)
    >>> memory = torch.rand(2, 5, 9)  # d_model 4, packed
    >>> logits = head(memory)
    >>> logits.shape, bool(logits[..., 6:].isinf().all())
    (torch.Size([2, 5, 8]), True)

    SpeechBrain's CTC prefix scorer over a character CTC head (here
    untrained), in MMSpeech's beam search (joint CTC/attention decoding):

    >>> from speechbrain.decoders.scorer import CTCScorer, ScorerBuilder
    >>> from speechbrain.nnet.linear import Linear
    >>> from speechbrain_mmspeech.decoders.seq2seq import MMSpeechBeamSearcher
    >>> from speechbrain_mmspeech.lobes.models.mmspeech import MMSpeech
    >>> sizes = {**getfixture("tiny_architecture"), "code_vocab_size": 0}
    >>> model = MMSpeech.from_architecture(sizes).eval()  # 20 text ids
    >>> ctc_lin = Linear(input_size=16, n_neurons=20)  # the decoder's ids
    >>> scorer = ScorerBuilder(
    ...     partial_scorers=[
    ...         CTCScorer(
    ...             ctc_fc=MemoryHead(ctc_lin), blank_index=1, eos_index=2
    ...         )
    ...     ],
    ...     weights={"ctc": 0.3},
    ... )
    >>> searcher = MMSpeechBeamSearcher(
    ...     model,
    ...     banned_indices=[0, 1],
    ...     bos_index=0,
    ...     eos_index=2,
    ...     beam_size=2,
    ...     min_decode_ratio=0.0,
    ...     max_decode_ratio=1.0,
    ...     using_eos_threshold=False,
    ...     scorer=scorer,
    ... )
    >>> hyps, _, _, _ = searcher(
    ...     model.encode(torch.rand(2, 100, 80)), torch.ones(2)
    ... )
    >>> len(hyps)
    2
    """

    def __init__(self, head, vocab_size=None):
        super().__init__()
        self.head = head
        self.vocab_size = vocab_size

    def forward(self, memory):
        """Logits of the head on the memory's states.

        Arguments
        ---------
        memory : torch.Tensor
            ``[batch, time, 2 * d_model + 1]`` packed memory.

        Returns
        -------
        torch.Tensor
            ``[batch, time, vocab_size]``.
        """
        hidden, _, _ = unpack_memory(memory)
        logits = self.head(hidden)
        missing = (self.vocab_size or 0) - logits.shape[-1]
        if missing > 0:
            logits = torch.nn.functional.pad(
                logits, (0, missing), value=float("-inf")
            )
        return logits
